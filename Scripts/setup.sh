#!/usr/bin/env bash
# Installs what Perch builds against (elfutils' libdw and libelf, libzstd for perf record -z files, with headers) and what its
# tests compile fixtures with, when missing: what the demo needs, nothing more (Scripts/test.sh adds
# the browser-test packages). Needs root (or sudo) only when something is missing.
set -euo pipefail

need=()
pkg-config --exists libdw 2>/dev/null || need+=(libdw-dev libelf-dev)
pkg-config --exists libzstd 2>/dev/null || need+=(libzstd-dev)
command -v pkg-config >/dev/null || need+=(pkg-config)
if ((${#need[@]})); then
    echo "setup: installing ${need[*]}" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

