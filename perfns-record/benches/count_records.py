#!/usr/bin/env python3
"""Counts the samples and the lost events of a perf.data file, perf's or
perfns's, without perf: a walk over the data section's record headers.

    python3 count_records.py FILE    # prints: SAMPLES LOST

Lost: perf record writes the kernel's PERF_RECORD_LOST records and, when it
stops, one PERF_RECORD_LOST_SAMPLES per event and CPU with the kernel's own
count (read_format LOST), which includes what the LOST records said; perfns
writes LOST records only, the last ones for what the kernel had not
reported yet. So lost is the larger of the two sums, as overhead.sh counts
it with `perf script -D`.
"""

import mmap
import struct
import sys

SAMPLE, LOST, LOST_SAMPLES = 9, 2, 13


def counts(path):
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        if m[:8] != b"PERFILE2":
            raise SystemExit(f"{path}: not a little-endian perf.data file")
        offset, size = struct.unpack_from("<QQ", m, 40)
        at, end = offset, offset + size
        samples = lost = lost_samples = 0
        unpack = struct.Struct("<IHH").unpack_from
        while at + 8 <= end:
            kind, _misc, rsize = unpack(m, at)
            if rsize < 8:
                raise SystemExit(f"{path}: record of size {rsize} at byte {at}")
            if kind == SAMPLE:
                samples += 1
            elif kind == LOST:
                lost += struct.unpack_from("<Q", m, at + 16)[0]
            elif kind == LOST_SAMPLES:
                lost_samples += struct.unpack_from("<Q", m, at + 8)[0]
            at += rsize
        return samples, max(lost, lost_samples)


if __name__ == "__main__":
    print(*counts(sys.argv[1]))
