#!/usr/bin/env bash
# The release build (README, "Building") checked end to end, since the test suite runs the debug
# build: the Swift runtime is linked in (no toolchain library is loaded), Swift names come out
# demangled (a linked-in runtime once left every one mangled), and the demo workload's recording
# reports its 5:3:2 split.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/build-release.sh
perch=.build/release/perch
fail() { echo "release-check: $*" >&2; exit 1; }

if ldd "$perch" | grep -q "libswiftCore"; then fail "$perch loads libswiftCore.so: not the static build"; fi

address=$(nm "$perch" | awk '$3 == "$s5perch16SymbolizeCommandV3runyyKF" { print $1 }')
[ -n "$address" ] || fail "no SymbolizeCommand.run() in $perch's symbol table"
name=$("$perch" symbolize -e "$perch" "0x$address" | head -1)
[ "$name" = "perch.SymbolizeCommand.run() throws -> ()" ] || fail "symbolize named SymbolizeCommand.run() '$name'"

work=$(mktemp -d /tmp/perch-release-check-XXXXXX)
trap 'rm -rf "$work"' EXIT
clang -O2 -g -fno-omit-frame-pointer -o "$work/known_weights" Fixtures/known_weights.c
"$perch" record -q -e cpu-clock -F 2000 -o "$work/perch.data" --folded "$work/perch.folded" -- "$work/known_weights" 2>/dev/null
# Each function's share of the samples, from the folded stacks: 50, 30 and 20%, within 5 points.
awk -v want="work_a=50 work_b=30 work_c=20" '
    { n = $NF; total += n; for (i = split($1, f, ";"); i > 0; i--) if (f[i] ~ /^work_[abc]$/) { got[f[i]] += n; break } }
    END {
        split(want, pairs, " ")
        for (p in pairs) {
            split(pairs[p], kv, "=")
            share = total ? 100 * got[kv[1]] / total : 0
            if (share < kv[2] - 5 || share > kv[2] + 5) { printf "release-check: %s has %.1f%% of the samples, not %d%%\n", kv[1], share, kv[2] > "/dev/stderr"; bad = 1 }
        }
        exit bad
    }' "$work/perch.folded"
echo "release-check: ok ($perch: static, demangles, 5:3:2)"
