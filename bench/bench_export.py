"""Export benchmark on a fully annotated project: N tasks with K submitted answers each.

bench_core.py exports a project where few tasks have answers; a finished labeling project
has answers on every task, and that is what this measures: the streamed JSONL export
(raw answers, and raw plus majority consensus) in a separate process, with its wall time,
output size and peak RSS.

    .venv/bin/python bench/bench_export.py                          # both databases, 100k x 3
    .venv/bin/python bench/bench_export.py --backend sqlite --tasks 200000

PostgreSQL: LABELHOUSE_BENCH_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test);
a private database is created and dropped.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, insert

from common import ROOT, SCHEMA, print_table, scratch_pg_database

sys.path.insert(0, str(ROOT))

MEASURE = """
import sys, time
from labelhouse.accounts import service as accounts
from labelhouse.db.engine import open_database
from labelhouse.exports.service import plan_export
url, pid, uid, content = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
db = open_database(url)
with db.session() as s:
    actor = accounts.actor_for(s, user_id=uid)
    plan = plan_export(s, actor, pid, format_name="jsonl", content=content)
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


def build(url: str, n_tasks: int, answers: int) -> tuple[int, int]:
    """A migrated database with one project of ``n_tasks`` tasks and ``answers`` submitted
    answers per task from a pool of annotators; returns (project id, owner user id)."""
    from tests.factories import add_member, jsonl, make_org, make_project

    from labelhouse.accounts import passwords
    from labelhouse.annotations.models import Annotation
    from labelhouse.db import migrate
    from labelhouse.db.base import utcnow
    from labelhouse.db.engine import open_database
    from labelhouse.tasks.importer import import_tasks
    from labelhouse.tasks.models import Task

    passwords.use_profile("cheapest")
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    db = open_database(url)
    owner = make_org(db)
    members = [add_member(db, owner).actor.user_id for _ in range(max(answers, 10))]
    pid = make_project(db, owner, schema=SCHEMA, overlap=answers)
    rows = [{"text": f"Review {i}: fine, shipped in {i % 9 + 1} days."} for i in range(n_tasks)]
    with db.session() as s:
        import_tasks(s, owner.actor, pid, io.BytesIO(jsonl(rows)), filename="t.jsonl")
    rng = random.Random(7)
    now = utcnow()
    with db.session() as s:
        ids = s.scalars(Task.__table__.select().with_only_columns(Task.id)).all()
        table = Annotation.__table__
        for start in range(0, len(ids), 20_000):
            s.execute(
                insert(table),
                [
                    {
                        "project_id": pid,
                        "task_id": task_id,
                        "user_id": user,
                        "status": "submitted",
                        "value": {"label": rng.choice(["pos", "neg", "neu"])},
                        "schema_version": 1,
                        "revision": 1,
                        "lead_time_ms": rng.randint(500, 20_000),
                        "created_at": now,
                        "updated_at": now,
                    }
                    for task_id in ids[start : start + 20_000]
                    for user in rng.sample(members, answers)
                ],
            )
        s.execute(Task.__table__.update().values(taken=answers, done=answers, is_open=False))
    db.dispose()
    return pid, owner.actor.user_id


def measure(url: str, pid: int, uid: int, content: str) -> tuple[float, int, int]:
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, url, str(pid), str(uid), content],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.split()
    return float(out[0]), int(out[1]), int(out[2])


def bench(name: str, url: str, n_tasks: int, answers: int) -> dict[str, object]:
    pid, uid = build(url, n_tasks, answers)
    result: dict[str, object] = {"backend": name, "tasks": n_tasks, "answers": n_tasks * answers}
    for content in ("raw", "both"):
        seconds, size, rss = measure(url, pid, uid, content)
        result[f"{content}_export_s"] = round(seconds, 2)
        result[f"{content}_export_mb"] = round(size / 1e6)
        result[f"{content}_peak_rss_mb"] = round(rss / 1e6)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--answers", type=int, default=3)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    results = []
    if args.backend in ("sqlite", "both"):
        path = Path(tempfile.mkdtemp(prefix="lh-bench-export-")) / "bench.db"
        results.append(bench("sqlite", f"sqlite:///{path}", args.tasks, args.answers))
    if args.backend in ("postgresql", "both"):
        with scratch_pg_database("labelhouse_bench_export") as (url, _):
            results.append(bench("postgresql", url, args.tasks, args.answers))
    print_table(results)
    print(json.dumps(results))


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main)
