"""What remembering an import's external ids costs (``tasks/seen_ids.py``): CPU seconds
(and µs an id) and the peak memory it adds, for N distinct ids, next to a plain dict of the
id strings; for the table also its runs on disk. Each variant runs in a fresh process, so
peaks do not hide each other. The peak is the process's own VmHWM (``ru_maxrss`` would
count this parent's memory too: it is inherited across the fork).

    .venv/bin/python bench/bench_seen_ids.py               # a million ids of 8 characters
    .venv/bin/python bench/bench_seen_ids.py --ids 200000 --length 64
    .venv/bin/python bench/bench_seen_ids.py --ids 10000000 --only seen_ids
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
    try:
        with open("/proc/self/status") as status:
            return next(int(l.split()[1]) * 1024 for l in status if l.startswith("VmHWM:"))
    except OSError:  # not Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
before, t0 = peak(), time.process_time()
extra = {}
if variant == "seen_ids":
    seen = SeenIds()
    repeats = sum(seen.add(x, "x:" + x, i + 1) is not None for i, x in enumerate(ids()))
    if hasattr(seen, "runs"):  # not before the runs on disk (an older checkout)
        extra = {"runs": seen.runs, "disk_mb": round(seen.disk_bytes / 1e6)}
        seen.close()
else:
    first = {}
    repeats = sum(first.setdefault(x, i + 1) != i + 1 for i, x in enumerate(ids()))
cpu = time.process_time() - t0
assert repeats == 0
print(json.dumps({"variant": variant, "cpu_s": round(cpu, 2), "us_per_id": round(cpu / n * 1e6, 2),
                  "peak_mb": round((peak() - before) / 1e6)} | extra))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ids", type=int, default=1_000_000)
    parser.add_argument("--length", type=int, default=8)
    parser.add_argument("--only", choices=["seen_ids", "dict"], help="one variant")
    args = parser.parse_args()
    print(f"{args.ids:,} distinct ids of {args.length} characters")
    variants = ("seen_ids", "dict of the ids")
    for variant in [v for v in variants if args.only is None or v.startswith(args.only)]:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(args.ids), str(args.length), variant],
            capture_output=True,
            text=True,
            check=True,
        )
        row = json.loads(out.stdout)
        disk = f", {row['runs']} runs, {row['disk_mb']} MB on disk" if "runs" in row else ""
        print(
            f"{row['variant']:>16}: {row['cpu_s']:.2f} s CPU ({row['us_per_id']:.2f} µs an id), "
            f"+{row['peak_mb']} MB at the peak{disk}"
        )


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main)
