#!/usr/bin/env python3
"""The table of keepup.sh from its run lines (TOOL LOAD PAGES RECORDER_CPU_S
SAMPLES LOST WORKLOAD_CPU_S; other lines are skipped), in pairs: the n-th
perfns run of a load and size with the n-th perf run.

    python3 keepup_table.py RUNS_OR_SAVED_OUTPUT
"""

import statistics
import sys
from collections import defaultdict

runs = defaultdict(lambda: {"perfns": [], "perf": []})
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) != 7 or f[0] not in ("perfns", "perf"):
        continue
    tool, load, pages, cpu, samples, lost, wcpu = f
    runs[(load, int(pages))][tool].append((float(cpu), int(samples), int(lost), float(wcpu)))


def med(xs):
    return f"{statistics.median(xs):.2f}" if xs else "-"


print("| load | -m | pairs | lost, perfns (all runs) | lost, perf (all runs) | lost perfns/perf "
      "| recorder CPU per sample kept, perfns/perf | workload CPU, perfns/perf |")
print("|---|---|---|---|---|---|---|---|")
for (load, pages), r in runs.items():
    pairs = list(zip(r["perfns"], r["perf"]))
    lost = [sum(x[2] for x in r[t][: len(pairs)]) for t in ("perfns", "perf")]
    ratio = f"{lost[0] / lost[1]:.2f}" if lost[1] else ("none lost" if not lost[0] else "perf lost none")
    per_sample = [(a[0] / a[1]) / (b[0] / b[1]) for a, b in pairs if a[1] and b[0] and b[1]]
    workload = [a[3] / b[3] for a, b in pairs if b[3] > 0.01]
    print(f"| {load} | {pages} | {len(pairs)} | {lost[0]:,} | {lost[1]:,} | {ratio} "
          f"| {med(per_sample)} | {med(workload)} |")
