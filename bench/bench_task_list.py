"""What a page of the task browser costs at a million tasks (issue 19, item 3).

A project of N tasks (overlap 2; the first tenth done, the next tenth in progress) and
``tasks.service.list_tasks`` as the API runs it, one read session per page, for every
status filter and an external id, on the first page and on a page deep in the project.
Each case runs with ``ix_task_browse (project_id, id)`` and once more after dropping it (the
plan SQLite had before migration 0015), so one run prints before and after.

    .venv/bin/python bench/bench_task_list.py                      # SQLite, 1,000,000 tasks
    .venv/bin/python bench/bench_task_list.py --backend postgresql --tasks 200000
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import orjson
from sqlalchemy import select, text, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PASSWORD, SCHEMA, migrated_database
from labelhouse.accounts import passwords
from labelhouse.accounts import service as accounts
from labelhouse.db.engine import open_database
from labelhouse.projects.service import create_project
from labelhouse.tasks.importer import import_tasks
from labelhouse.tasks.models import Task
from labelhouse.tasks.service import list_tasks

CASES = [("all", {}), ("new", {"status": "new"}), ("in progress", {"status": "in_progress"})]
CASES += [("done", {"status": "done"}), ("external id", {"external_id": "t777777"})]


def build(url: str, n_tasks: int) -> tuple[object, object, int, int]:
    db = open_database(url)
    with db.session() as s:
        owner, _ = accounts.bootstrap_owner(
            s, email="owner@bench.org", organization_name="Bench", password=PASSWORD
        )
        actor = accounts.actor_for(s, user_id=owner.id)
        pid = create_project(s, actor, name="browse", schema=SCHEMA, overlap=2).id
    rows = b"".join(
        orjson.dumps({"external_id": f"t{i}", "text": f"item {i}"}) + b"\n" for i in range(n_tasks)
    )
    with db.session() as s:
        import_tasks(s, actor, pid, io.BytesIO(rows), filename="t.jsonl")
    with db.session() as s:
        first = s.scalar(select(Task.id).where(Task.project_id == pid).order_by(Task.id))
        tenth = n_tasks // 10
        s.execute(update(Task).where(Task.id < first + tenth).values(taken=2, done=2))
        s.execute(
            update(Task)
            .where(Task.id >= first + tenth, Task.id < first + 2 * tenth)
            .values(taken=1, done=1)
        )
    return db, actor, pid, first


def time_pages(db, actor, pid: int, after: int, params: dict, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        with db.read_session() as s:
            list_tasks(s, actor, pid, after_id=after, limit=50, **params)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    passwords.use_profile("cheapest")
    with migrated_database(args.backend, "bench_task_list") as url:
        print(f"building {args.tasks:,} tasks on {args.backend}…", file=sys.stderr)
        db, actor, pid, first = build(url, args.tasks)
        deep = first + args.tasks // 2
        results: dict[str, list[float]] = {}
        for _ in ("with ix_task_browse", "without it (before)"):
            for name, params in CASES:
                for where, after in (("first page", 0), ("mid-project", deep)):
                    ms = time_pages(db, actor, pid, after, params, args.repeat)
                    results.setdefault(f"{name}, {where}", []).append(ms)
            with db.session() as s:  # as before migration 0015 (no statistics either way)
                s.execute(text("DROP INDEX IF EXISTS ix_task_browse"))
        print(
            f"\npage of 50 tasks, median of {args.repeat} (ms), {args.tasks:,} tasks, {args.backend}"
        )
        print(f"{'filter, page':32}{'after':>12}{'before':>12}")
        for key, (after_ms, before_ms) in results.items():
            print(f"{key:32}{after_ms:12.2f}{before_ms:12.2f}")
        db.dispose()


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main)
