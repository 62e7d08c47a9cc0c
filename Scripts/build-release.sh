#!/usr/bin/env bash
# Scripts/build-release.sh [SCRATCH]: builds the release perch as README's "Building" says (the
# Swift runtime linked in), into SCRATCH/release/perch (SCRATCH defaults to .build). Prints the
# build's output without its progress lines and without the toolchain's static
# FoundationEssentials warning that it calls mktemp (its code, linked in through ArgumentParser);
# a failed build prints everything and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp /tmp/perch-build-XXXXXX)
trap 'rm -f "$log"' EXIT
if ! swift build -c release --static-swift-stdlib --product perch --scratch-path "${1:-.build}" >"$log" 2>&1; then
    cat "$log" >&2
    echo "the release build failed" >&2
    exit 1
fi
grep -v -e "^\[" -e "libFoundationEssentials.a(Data+Writing.swift.o)" "$log" >&2 || true
