"""What the annotate page's progress counter costs a /next (and so every submit).

A project of N open tasks (overlap 2) and one annotator who has already submitted D of
them; ``tasks.progress.annotator_progress`` is timed as /next runs it (one read session per
call), with the remaining count capped as shipped (``REMAINING_CAP``) and uncapped (what an
exact count of a large queue would cost). Prints p50/p95 in milliseconds per backend.

    .venv/bin/python bench/bench_progress.py                          # SQLite and PostgreSQL
    .venv/bin/python bench/bench_progress.py --backend sqlite --tasks 200000 --done 5000
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import orjson
from sqlalchemy import insert, select, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PASSWORD, SCHEMA, migrated_database, print_table
from labelhouse.accounts import passwords
from labelhouse.accounts import service as accounts
from labelhouse.accounts.models import ProjectMember, Role
from labelhouse.db.base import utcnow
from labelhouse.db.engine import open_database
from labelhouse.projects.service import create_project, project_row
from labelhouse.tasks import progress
from labelhouse.tasks.importer import import_tasks
from labelhouse.tasks.models import Assignment, Task


def build(url: str, n_tasks: int, n_done: int) -> tuple[object, object, int]:
    db = open_database(url)
    with db.session() as s:
        owner, _ = accounts.bootstrap_owner(
            s, email="owner@bench.org", organization_name="Bench", password=PASSWORD
        )
        owner_actor = accounts.actor_for(s, user_id=owner.id)
        project = create_project(s, owner_actor, name="progress", schema=SCHEMA, overlap=2)
        pid = project.id
        user = accounts.create_user(
            s,
            email="annotator@bench.org",
            password=PASSWORD,
            organization_id=owner_actor.organization_id,
            role=Role.annotator,
        )
        s.add(ProjectMember(project_id=pid, user_id=user.id, role="annotator"))
    rows = b"".join(
        orjson.dumps({"external_id": f"t{i}", "text": f"item {i}"}) + b"\n" for i in range(n_tasks)
    )
    with db.session() as s:
        import_tasks(s, owner_actor, pid, io.BytesIO(rows), filename="t.jsonl")
    now = utcnow()
    with db.session() as s:
        ids = s.scalars(select(Task.id).where(Task.project_id == pid).order_by(Task.id)).all()
        done = ids[:n_done]
        s.execute(
            insert(Assignment),
            [
                {
                    "project_id": pid,
                    "task_id": t,
                    "user_id": user.id,
                    "status": "submitted",
                    "leased_at": now,
                    "expires_at": now,
                    "finished_at": now,
                }
                for t in done
            ],
        )
        s.execute(update(Task).where(Task.id.in_(done)).values(taken=1, done=1))
    with db.read_session() as s:
        actor = accounts.actor_for(s, user_id=user.id)
    return db, actor, pid


def timed(db, actor, pid: int, calls: int) -> tuple[float, float, dict]:
    times = []
    since = progress.day_start(None)
    result = None
    for _ in range(calls):
        started = time.perf_counter()
        with db.read_session() as s:
            row = project_row(s, actor, pid)
            result = progress.annotator_progress(s, actor, row, since=since, holding=True)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], result.as_dict()


def run(backend: str, n_tasks: int, n_done: int, calls: int) -> dict[str, object]:
    with migrated_database(backend, "bench_progress") as url:
        started = time.perf_counter()
        db, actor, pid = build(url, n_tasks, n_done)
        print(f"{backend}: built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        try:
            p50, p95, shipped = timed(db, actor, pid, calls)
            cap = progress.REMAINING_CAP
            progress.REMAINING_CAP = 10**12
            try:
                u50, u95, exact = timed(db, actor, pid, max(5, calls // 10))
            finally:
                progress.REMAINING_CAP = cap
        finally:
            db.dispose()
    return {
        "backend": backend,
        "tasks": n_tasks,
        "done by annotator": n_done,
        "capped p50 ms": f"{p50:.2f}",
        "capped p95 ms": f"{p95:.2f}",
        "shown remaining": f"{shipped['remaining']}{'+' if shipped['remaining_capped'] else ''}",
        "exact p50 ms": f"{u50:.1f}",
        "exact p95 ms": f"{u95:.1f}",
        "exact remaining": exact["remaining"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--done", type=int, default=2_000)
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    passwords.use_profile("cheapest")
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print_table([run(b, args.tasks, args.done, args.calls) for b in backends])


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main)
