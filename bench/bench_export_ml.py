"""ML export benchmark: N submitted annotations (3 per task) exported to Parquet and to a
Hugging Face dataset (zip of save_to_disk), each in a fresh process: wall time, output size
and peak RSS. It runs two sizes (N/4 and N) so flat memory shows: peak RSS should not grow
with the project.

    .venv/bin/python bench/bench_export_ml.py                       # 1,000,000 annotations
    .venv/bin/python bench/bench_export_ml.py --annotations 200000 --backend sqlite

PostgreSQL: LABELHOUSE_BENCH_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test);
a private database is created and dropped.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_export import build
from common import ROOT, print_table, scratch_pg_database

sys.path.insert(0, str(ROOT))

ANSWERS_PER_TASK = 3

MEASURE = """
import sys, time
from labelhouse.accounts import service as accounts
from labelhouse.db.engine import open_database
from labelhouse.exports.service import plan_export
url, pid, uid, fmt = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
db = open_database(url)
with db.session() as s:
    actor = accounts.actor_for(s, user_id=uid)
    plan = plan_export(s, actor, pid, format_name=fmt, options={"provenance": "basic"})
t0 = time.perf_counter()
size = 0
with db.read_session() as s:
    for chunk in plan.stream(s):
        size += len(chunk)
seconds = time.perf_counter() - t0
# VmHWM, not ru_maxrss: the latter keeps the high-water mark of the forking parent
with open("/proc/self/status") as status:
    hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(seconds, size, hwm * 1024)
"""


# A snapshot of both formats, run by the job runner as a worker would (files hashed and
# stored, manifest written), in a fresh process.
MEASURE_SNAPSHOT = """
import sys, tempfile, time
from pathlib import Path
from labelhouse.accounts import service as accounts
from labelhouse.db.engine import open_database
from labelhouse.jobs import runner
from labelhouse.jobs.exports import HANDLERS, request_snapshot
from labelhouse.storage.local import LocalStorage
url, pid, uid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
db = open_database(url)
with db.session() as s:
    actor = accounts.actor_for(s, user_id=uid)
    snapshot, job = request_snapshot(
        s, actor, pid, formats=["parquet", "hf_dataset"], options={"parquet": {"provenance": "basic"}}
    )
    job_id = job.id
work = Path(tempfile.mkdtemp(prefix="lh-bench-snapshot-"))
storage = LocalStorage(work / "storage")
t0 = time.perf_counter()
state = runner.execute(db, storage, job_id, work_dir=work / "tmp", handlers=HANDLERS)
seconds = time.perf_counter() - t0
assert state == "succeeded", state
size = sum(p.stat().st_size for p in (work / "storage").rglob("*") if p.is_file())
with open("/proc/self/status") as status:
    hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(seconds, size, hwm * 1024)
"""


def measure(url: str, pid: int, uid: int, fmt: str) -> tuple[float, int, int]:
    script = MEASURE_SNAPSHOT if fmt == "snapshot" else MEASURE
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            url,
            str(pid),
            str(uid),
            *([] if fmt == "snapshot" else [fmt]),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{fmt}: {out.stderr[-3000:]}")
    figures = out.stdout.split()
    return float(figures[0]), int(figures[1]), int(figures[2])


def bench(name: str, url: str, annotations: int) -> dict[str, object]:
    tasks = max(annotations // ANSWERS_PER_TASK, 1)
    pid, uid = build(url, tasks, ANSWERS_PER_TASK)
    result: dict[str, object] = {"backend": name, "annotations": tasks * ANSWERS_PER_TASK}
    for fmt in ("parquet", "hf_dataset", "snapshot"):
        seconds, size, rss = measure(url, pid, uid, fmt)
        result[f"{fmt}_s"] = round(seconds, 1)
        result[f"{fmt}_k_rows_per_s"] = round(tasks * ANSWERS_PER_TASK / seconds / 1000, 1)
        result[f"{fmt}_mb"] = round(size / 1e6, 1)
        result[f"{fmt}_peak_rss_mb"] = round(rss / 1e6)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--annotations", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    args = parser.parse_args()
    results = []
    for size in (args.annotations // 4, args.annotations):
        if args.backend in ("sqlite", "both"):
            path = Path(tempfile.mkdtemp(prefix="lh-bench-export-ml-")) / "bench.db"
            results.append(bench("sqlite", f"sqlite:///{path}", size))
            path.unlink()
        if args.backend in ("postgresql", "both"):
            with scratch_pg_database("labelhouse_bench_export_ml") as (url, _):
                results.append(bench("postgresql", url, size))
    print_table(results)
    print(json.dumps(results))


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main)
