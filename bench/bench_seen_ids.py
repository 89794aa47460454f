"""What remembering an import's external ids costs (``tasks/seen_ids.py``): CPU seconds and
the peak memory it adds, for N distinct ids, next to a plain dict of the id strings. Each
variant runs in a fresh process, so peaks do not hide each other.

    .venv/bin/python bench/bench_seen_ids.py               # a million ids of 8 characters
    .venv/bin/python bench/bench_seen_ids.py --ids 200000 --length 64
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = """
import json, resource, sys, time
import numpy  # imported by every import anyway (the field kinds)
from labelhouse.tasks.seen_ids import SeenIds

n, length, variant = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def ids():  # made on the fly, as an import reads them: only the table keeps them
    # (the importer has the dedup key "x:<id>" anyway; here making it is counted too)
    for i in range(n):
        yield str(i).rjust(length, "x")
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
before, t0 = peak(), time.process_time()
if variant == "seen_ids":
    seen = SeenIds()
    repeats = sum(seen.add(x, "x:" + x, i + 1) is not None for i, x in enumerate(ids()))
else:
    first = {}
    repeats = sum(first.setdefault(x, i + 1) != i + 1 for i, x in enumerate(ids()))
cpu = time.process_time() - t0
assert repeats == 0
print(json.dumps({"variant": variant, "cpu_s": round(cpu, 2), "peak_mb": round((peak() - before) / 1e6)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ids", type=int, default=1_000_000)
    parser.add_argument("--length", type=int, default=8)
    args = parser.parse_args()
    print(f"{args.ids:,} distinct ids of {args.length} characters")
    for variant in ("seen_ids", "dict of the ids"):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(args.ids), str(args.length), variant],
            capture_output=True,
            text=True,
            check=True,
        )
        row = json.loads(out.stdout)
        print(f"{row['variant']:>16}: {row['cpu_s']:.2f} s CPU, +{row['peak_mb']} MB at the peak")


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main)
