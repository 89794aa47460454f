"""What an ordered queue costs at a million tasks (issue 16: priority and uncertainty).

A project of N tasks (overlap 1, no gold) whose priorities and entropy are spread by a
fixed formula over the ids (so the order differs from import order everywhere); for each
``queue_order`` the whole-project re-rank (what a settings change runs) is timed once, then
one annotator's claims (``claim_next`` in its own transaction, then a skip, so the next
claim must pass over everything before), median of ``--claims``. The priority order runs
again after dropping ``ix_task_queue_rank``, to show what the index saves.

    .venv/bin/python bench/bench_queue_order.py                      # SQLite, 1,000,000 tasks
    .venv/bin/python bench/bench_queue_order.py --backend postgresql --tasks 200000
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import orjson
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PASSWORD, SCHEMA, migrated_database
from labelhouse.accounts import passwords
from labelhouse.accounts import service as accounts
from labelhouse.accounts.models import ProjectMember, Role
from labelhouse.db.engine import open_database
from labelhouse.projects.service import create_project
from labelhouse.tasks import queue
from labelhouse.tasks.importer import import_tasks


def build(url: str, n_tasks: int):
    db = open_database(url)
    with db.session() as s:
        owner, _ = accounts.bootstrap_owner(
            s, email="owner@bench.org", organization_name="Bench", password=PASSWORD
        )
        actor = accounts.actor_for(s, user_id=owner.id)
        pid = create_project(s, actor, name="ordered", schema=SCHEMA, overlap=1).id
        queue.update_project(s, actor, pid, {"gold_rate": 0, "gold_first_n": 0})
        user = accounts.create_user(
            s,
            email="ann@bench.org",
            password=PASSWORD,
            organization_id=actor.organization_id,
            role=Role.annotator,
        )
        s.add(ProjectMember(project_id=pid, user_id=user.id, role="annotator"))
    rows = b"".join(
        orjson.dumps({"external_id": f"t{i}", "text": f"item {i}"}) + b"\n" for i in range(n_tasks)
    )
    with db.session() as s:
        import_tasks(s, actor, pid, io.BytesIO(rows), filename="t.jsonl")
    with db.session() as s:  # as imports and predictions would have set them
        s.execute(
            text(
                "UPDATE task SET priority = (id * 7919) % 1000, "
                "uncertainty_entropy = ((id * 104729) % 1000) / 1000.0 WHERE project_id = :p"
            ),
            {"p": pid},
        )
        if db.dialect == "postgresql":
            s.execute(text("ANALYZE task"))
    with db.session() as s:
        annotator = accounts.actor_for(s, user_id=user.id)
    return db, actor, annotator, pid


def time_claims(db, annotator, pid: int, n: int) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        with db.session() as s:
            lease = queue.claim_next(s, annotator, pid)
        times.append((time.perf_counter() - started) * 1000)
        assert lease is not None
        with db.session() as s:
            queue.skip(s, annotator, lease.task.id)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--claims", type=int, default=100)
    args = parser.parse_args()
    passwords.use_profile("cheapest")
    with migrated_database(args.backend, "bench_queue_order") as url:
        print(f"building {args.tasks:,} tasks on {args.backend}…", file=sys.stderr)
        db, owner, annotator, pid = build(url, args.tasks)
        results = []
        for order in ("default", "priority", "entropy", "margin", "priority (no index)"):
            started = time.perf_counter()
            with db.session() as s:
                if order == "priority (no index)":
                    s.execute(text("DROP INDEX ix_task_queue_rank"))
                queue.update_project(s, owner, pid, {"queue_order": order.split()[0]})
            rerank_s = time.perf_counter() - started
            ms = time_claims(db, annotator, pid, args.claims)
            results.append((order, rerank_s, ms))
        print(f"\n{args.tasks:,} tasks, {args.backend}, median of {args.claims} claims")
        print(f"{'queue_order':24}{'re-rank s':>12}{'claim ms':>12}")
        for order, rerank_s, ms in results:
            print(f"{order:24}{rerank_s:12.2f}{ms:12.2f}")
        db.dispose()


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main)
