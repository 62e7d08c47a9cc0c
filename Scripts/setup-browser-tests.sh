#!/usr/bin/env bash
# Installs what the flamegraph browser test and the output-format checks need, when missing:
# Debian's chromium and chromium-driver (headless Chromium driven through WebDriver) and
# golang-go (`go tool pprof` reads Perch's pprof files) and, from PyPI, selenium, protobuf and
# jsonschema (speedscope's published schema) for the python3 on PATH. Needs root (or sudo) only to install.
# Safe to run repeatedly; a failure to install is reported, and the tests then skip with a reason.
set -uo pipefail

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v go >/dev/null 2>&1 || need+=(golang-go)
if ((${#need[@]})); then
    echo "setup-browser-tests: installing ${need[*]}" >&2
    $SUDO apt-get update -qq || echo "setup-browser-tests: apt-get update failed" >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
        || echo "setup-browser-tests: could not install ${need[*]}; the tests that need them will be skipped" >&2
fi

if command -v python3 >/dev/null 2>&1; then
    pip_need=()
    python3 -c 'import selenium' 2>/dev/null || pip_need+=(selenium)
    python3 -c 'import google.protobuf' 2>/dev/null || pip_need+=(protobuf)
    python3 -c 'import jsonschema' 2>/dev/null || pip_need+=(jsonschema)
    if ((${#pip_need[@]})); then
        echo "setup-browser-tests: pip installing ${pip_need[*]}" >&2
        python3 -m pip install -q --disable-pip-version-check "${pip_need[@]}" \
            || python3 -m pip install -q --disable-pip-version-check --break-system-packages "${pip_need[@]}" \
            || echo "setup-browser-tests: could not pip install ${pip_need[*]}" >&2
    fi
else
    echo "setup-browser-tests: no python3; the browser and pprof checks will be skipped" >&2
fi
exit 0
