#!/usr/bin/env bash
# Builds Perch and profiles the bundled demo workload (Fixtures/known_weights.c: three
# functions doing 5:3:2 units of the same work), printing the report and where the files went.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/setup.sh
Scripts/build-release.sh
mkdir -p demo-output
clang -O2 -g -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer -o demo-output/known_weights Fixtures/known_weights.c
.build/release/perch record -o demo-output/perch.data --children --percent-limit 1 \
    --folded demo-output/perch.folded --flamegraph demo-output/perch.svg -- demo-output/known_weights
echo
echo "recording: demo-output/perch.data (perch report -i demo-output/perch.data, or perf report -i ...)"
echo "folded stacks: demo-output/perch.folded"
echo "flame graph: demo-output/perch.svg (open it in a browser)"
