#!/usr/bin/env python3
"""Cuts single records out of perf.data files for the decoder's seed corpus.
usage: Scripts/fuzz-cut-records.py OUTDIR FILE.data... (at most 3 records per type per file)"""
import os, struct, sys
out = sys.argv[1]
for path in sys.argv[2:]:
    data = open(path, 'rb').read()
    assert data[:8] == b'PERFILE2', path
    offset, size = struct.unpack_from('<QQ', data, 40)  # perf_file_header.data
    taken = {}
    pos, end = offset, offset + size
    while pos + 8 <= end:
        rtype, misc, rsize = struct.unpack_from('<IHH', data, pos)
        if rsize < 8: break
        if taken.get(rtype, 0) < 3:
            taken[rtype] = taken.get(rtype, 0) + 1
            name = f"{os.path.basename(path).replace('.data', '')}-type{rtype}-{taken[rtype]}"
            open(os.path.join(out, name), 'wb').write(data[pos:pos + rsize])
        pos += rsize
