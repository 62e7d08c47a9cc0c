#!/usr/bin/env bash
# Times `perch symbolize --inlines` against llvm-symbolizer, binutils addr2line and
# eu-addr2line on the same addresses in libpython (cold processes, output to /dev/null).
#
#   Scripts/symbolize-speed.sh [LIBRARY] [COUNT] [RUNS]
#
# LIBRARY defaults to the pyenv CPython 3.11 libpython, COUNT to 20000 addresses (spread evenly
# over the bytes of the sized function symbols), RUNS to 5 (the best wall and CPU time of the
# runs is printed: the minimum is the least disturbed by other load). PERCH defaults to the
# release build in .build-sym-rel (built if missing); tools that are absent are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

LIB=${1:-/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0}
COUNT=${2:-20000}
RUNS=${3:-5}
PERCH=${PERCH:-.build-sym-rel/release/perch}

if [ ! -x "$PERCH" ]; then
    Scripts/build-release.sh .build-sym-rel
fi
[ -f "$LIB" ] || { echo "no $LIB" >&2; exit 1; }

WORK=$(mktemp -d /tmp/perch-symspeed-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ADDRS=$WORK/addresses

# COUNT addresses evenly spread over the bytes of all sized function symbols.
nm -S --defined-only "$LIB" | python3 -c '
import sys
count = int(sys.argv[1])
functions = []
for line in sys.stdin:
    fields = line.split()
    if len(fields) == 4 and fields[2] in "tTwW" and int(fields[1], 16) > 0:
        functions.append((int(fields[0], 16), int(fields[1], 16)))
functions.sort()
total = sum(size for _, size in functions)
step, next_at, seen, out = total / count, 0.0, 0, []
for start, size in functions:
    while next_at < seen + size and len(out) < count:
        out.append("0x%x" % (start + int(next_at - seen)))
        next_at += step
    seen += size
print("\n".join(out))
' "$COUNT" > "$ADDRS"
echo "$(wc -l < "$ADDRS") addresses in $LIB, best of $RUNS runs"

# best_of NAME COMMAND...: runs COMMAND < addresses RUNS times; prints the best wall and CPU time.
best_of() {
    local name=$1; shift
    local best_wall="" best_cpu=""
    for _ in $(seq "$RUNS"); do
        local times
        times=$( { /usr/bin/time -f "%e %U %S" "$@" < "$ADDRS" > /dev/null; } 2>&1 | tail -1)
        read -r wall user sys <<< "$times"
        local cpu
        cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
        if [ -z "$best_wall" ] || awk -v a="$wall" -v b="$best_wall" 'BEGIN { exit !(a < b) }'; then best_wall=$wall; fi
        if [ -z "$best_cpu" ] || awk -v a="$cpu" -v b="$best_cpu" 'BEGIN { exit !(a < b) }'; then best_cpu=$cpu; fi
    done
    printf "%-28s wall %6.2f s   cpu (user+sys) %6.2f s\n" "$name" "$best_wall" "$best_cpu"
}

find_tool() {
    for candidate in "$@"; do
        if command -v "$candidate" > /dev/null 2>&1; then command -v "$candidate"; return; fi
        if [ -x "$candidate" ]; then echo "$candidate"; return; fi
    done
}

best_of "perch symbolize --inlines" "$PERCH" symbolize -e "$LIB" --inlines

LLVM=$(find_tool llvm-symbolizer /opt/swift/usr/bin/llvm-symbolizer)
if [ -n "$LLVM" ]; then best_of "llvm-symbolizer" "$LLVM" --obj="$LIB"; else echo "llvm-symbolizer: absent, skipped"; fi

ADDR2LINE=$(find_tool addr2line)
if [ -n "$ADDR2LINE" ]; then best_of "addr2line -i -f -C" "$ADDR2LINE" -i -f -C -e "$LIB"; else echo "addr2line: absent, skipped"; fi

EU=$(find_tool eu-addr2line)
if [ -n "$EU" ]; then best_of "eu-addr2line -i -f" "$EU" -i -f -e "$LIB"; else echo "eu-addr2line: absent, skipped"; fi

if [ -n "$LLVM" ]; then
    if cmp -s <("$PERCH" symbolize -e "$LIB" --inlines --full-names < "$ADDRS") <("$LLVM" --obj="$LIB" < "$ADDRS"); then
        echo "perch output is byte-identical to llvm-symbolizer's"
    else
        echo "perch output differs from llvm-symbolizer's on $(diff <("$PERCH" symbolize -e "$LIB" --inlines --full-names < "$ADDRS") <("$LLVM" --obj="$LIB" < "$ADDRS") | grep -c '^<') lines"
    fi
fi
