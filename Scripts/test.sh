#!/usr/bin/env bash
# Sets up the machine and runs the whole test suite (unit and end-to-end, on the real kernel).
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/setup.sh
swift build --build-tests
swift test --skip-build --no-parallel
