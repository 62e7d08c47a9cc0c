#!/usr/bin/env python3
"""Replays the crash inputs of .fuzz/TARGET/artifacts (smallest first, at most MAX) one process
each and groups them by crash site: the Swift runtime failure (or ASan report) and the first
frame in Sources/ outside the harness. Prints one smallest input per site with its stack top.
usage: Scripts/fuzz-triage.py TARGET [MAX]"""
import os, re, subprocess, sys
target, limit = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 60
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
folder = os.path.join(root, '.fuzz', target, 'artifacts')
files = sorted((os.path.join(folder, f) for f in os.listdir(folder)), key=os.path.getsize)[:limit]
env = dict(os.environ, PERCH_FUZZ_TARGET=target, SWIFT_BACKTRACE='enable=no',
           ASAN_OPTIONS='detect_leaks=0:handle_sigill=1:handle_sigtrap=1:handle_abort=1')
binary = os.path.join(root, '.build-fuzz', 'release', 'PerchFuzz')
sites = {}
for path in files:
    try:
        out = subprocess.run([binary, path], env=env, capture_output=True, text=True, errors='replace', timeout=60).stderr
    except subprocess.TimeoutExpired:
        out = 'ERROR: timeout'
    kind, frames = 'no crash', []
    m = re.search(r'ERROR: (AddressSanitizer: [\w-]+|libFuzzer: [\w-]+|timeout)', out)
    if m: kind = m.group(1)
    m = re.search(r'Swift runtime failure: ([^/\n]*)', out)
    if m: kind = 'Swift: ' + m.group(1).strip()
    for m in re.finditer(r'#\d+ 0x[0-9a-f]+ in (\S+) (\S*/Sources/(?!FuzzTargets|PerchFuzz)\S+)', out):
        frames.append(m.group(2).split('/Sources/')[1])
    site = frames[0] if frames else '?'
    entry = sites.setdefault((kind, site), [0, path, frames[:4]])
    entry[0] += 1
for (kind, site), (count, path, frames) in sorted(sites.items(), key=lambda kv: -kv[1][0]):
    print(f"{count:4d}x {kind} at {site}\n      input {os.path.relpath(path, root)} ({os.path.getsize(path)} B)\n      stack {' <- '.join(frames)}")
