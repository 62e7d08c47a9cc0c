#!/usr/bin/env bash
# Sets up the machine and runs the whole test suite (unit and end-to-end, on the real kernel).
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/setup.sh
# The browser test (headless Chromium + selenium) and the format checks (protobuf, go tool pprof,
# jsonschema); never fatal:
# the tests that need them skip with the reason when they cannot be installed.
Scripts/setup-browser-tests.sh || echo "setup: browser test dependencies unavailable; those tests will skip" >&2
swift build --build-tests
swift test --skip-build --no-parallel
# The tests run the debug build; the release build users install is checked on its own.
Scripts/release-check.sh
