"""What a page of the task browser costs at a million tasks (issue 19, item 3).

A project of N tasks (overlap 2; the first tenth done, the next tenth in progress) and
``tasks.service.list_tasks`` as the API runs it, one read session per page, for every
status filter and an external id, on the first page and on a page deep in the project.
Each case runs with ``ix_task_browse (project_id, id)`` and once more after dropping it (the
plan SQLite had before migration 0015), so one run prints before and after.

    .venv/bin/python bench/bench_task_list.py                      # SQLite, 1,000,000 tasks
    .venv/bin/python bench/bench_task_list.py --backend postgresql --tasks 200000

``--sparse`` (issue 19, item 3, follow-up): a project in a sparse mid-project state, 30% done
(the first ids), 0.1% in progress (next), the rest new, and one annotator ("cy") who answered
the in-progress tasks (label ``neg`` on every tenth). Every filter the browser offers, on
the first page and from the middle of the project, as ``browse_tasks`` reads it now
("after": status filters through ``ix_task_status``, the annotator's through
``ix_annotation_browse``) and as the statement before them, every filter a condition on the
walk of ``ix_task_browse`` ("before", same database, same rows). Filters the change does
not touch print the same figure twice. Wall-clock and this process's
CPU per page (on PostgreSQL the server's CPU is not in it).

    .venv/bin/python bench/bench_task_list.py --sparse --tasks 20000          # quick
    .venv/bin/python bench/bench_task_list.py --sparse --backend postgresql   # 1,000,000
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import orjson
from sqlalchemy import event, insert, select, text, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PASSWORD, SCHEMA, migrated_database
from labelhouse.accounts import passwords
from labelhouse.accounts import service as accounts
from labelhouse.accounts.models import Role
from labelhouse.annotations.models import Annotation
from labelhouse.annotations.queries import TaskFilters, annotation_conditions, browse_tasks
from labelhouse.db.engine import open_database
from labelhouse.projects.service import create_project, get_project, load_schema
from labelhouse.tasks.importer import import_tasks
from labelhouse.tasks.models import Task
from labelhouse.tasks.service import list_tasks
from labelhouse.tasks.status_pages import status_condition

CASES = [("all", {}), ("new", {"status": "new"}), ("in progress", {"status": "in_progress"})]
CASES += [("done", {"status": "done"}), ("external id", {"external_id": "t777777"})]


def build(
    url: str, n_tasks: int, shares: tuple[float, float] = (0.1, 0.1)
) -> tuple[object, object, int, int]:
    """N tasks; the first ``shares[0]`` done, the next ``shares[1]`` in progress."""
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
        done, started = int(n_tasks * shares[0]), int(n_tasks * shares[1])
        s.execute(update(Task).where(Task.id < first + done).values(taken=2, done=2, is_open=False))
        s.execute(
            update(Task)
            .where(Task.id >= first + done, Task.id < first + done + started)
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


SPARSE_CASES: list[tuple[str, dict]] = [("all", {}), ("status=new", {"status": "new"})]
SPARSE_CASES += [("status=in_progress", {"status": "in_progress"})]
SPARSE_CASES += [("status=done", {"status": "done"})]
SPARSE_CASES += [
    ("external_id", {"external_id": "t{mid}"}),
    ("q (one match)", {"search": 'item {mid}"'}),
]
SPARSE_CASES += [("annotator=cy", {"annotator": True}), ("label is neg", {"value": "neg"})]
SPARSE_CASES += [("annotator=cy + label is neg", {"annotator": True, "value": "neg"})]
SPARSE_CASES += [("status=done + q", {"status": "done", "search": "item"})]


def build_sparse(url: str, n_tasks: int) -> tuple[object, object, int, int, int]:
    """N tasks: the first 30% done (2 of 2 answers), the next 0.1% in progress (half with
    cy's answer, half only leased), the rest new. Returns (db, actor, project, first id, cy)."""
    db, actor, pid, first = build(url, n_tasks, shares=(0.3, 0.0))
    done, started = int(n_tasks * 0.3), max(2, n_tasks // 1000)
    with db.session() as s:
        cy = accounts.create_user(
            s,
            email="cy@bench.org",
            password=PASSWORD,
            organization_id=actor.organization_id,
            role=Role.annotator,
        ).id
        lo = first + done
        s.execute(
            update(Task)
            .where(Task.project_id == pid, Task.id >= lo, Task.id < lo + started)
            .values(taken=1, done=1)
        )
        s.execute(
            update(Task)
            .where(Task.project_id == pid, Task.id >= lo + started // 2, Task.id < lo + started)
            .values(done=0)
        )
        rows = [
            {
                "project_id": pid,
                "task_id": lo + i,
                "user_id": cy,
                "status": "submitted",
                "value": {"label": "neg" if i % 10 == 0 else "pos"},
                "schema_version": 1,
            }
            for i in range(started // 2)
        ]
        s.execute(insert(Annotation), rows)
    return db, actor, pid, first, cy


def time_filter(db, actor, pid: int, after: int, case: dict, before: bool, repeat: int):
    """(median wall ms, median CPU ms) of one page with ``case``'s filters: as the browser
    reads it now (``browse_tasks``), or ``before``: the statement list_tasks ran before, every
    filter a condition on the walk of the project in id order."""
    filters = TaskFilters(
        status=case.get("status"),
        external_id=case.get("external_id"),
        search=case.get("search"),
        annotator_id=case.get("annotator"),
        field="label" if "value" in case else None,
        value=case.get("value"),
    )
    walls, cpus = [], []
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        with db.read_session() as s:
            if not before:
                browse_tasks(s, actor, pid, filters, after_id=after, limit=50)
            else:
                project = get_project(s, actor, pid)
                where = annotation_conditions(actor, load_schema(s, project), filters)
                if filters.status and not filters.external_id:
                    where.append(status_condition(filters.status, project.overlap))
                status = filters.status if filters.external_id else None
                list_tasks(
                    s,
                    actor,
                    pid,
                    after_id=after,
                    limit=50,
                    status=status,
                    external_id=filters.external_id,
                    search=filters.search,
                    where=where,
                )
        walls.append((time.perf_counter() - started) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def print_plans(db, actor, pid: int, after: int, case: dict) -> None:
    """The access path of every statement one page runs now (``--plans``): the index lines
    of PostgreSQL's EXPLAIN ANALYZE, SQLite's query plan."""
    filters = TaskFilters(annotator_id=case.get("annotator"), status=case.get("status"))
    statements: list[tuple[str, object]] = []

    def keep(conn, cursor, statement, parameters, context, executemany) -> None:
        if "FROM task" in statement:
            statements.append((statement, parameters))

    event.listen(db.read_engine, "before_cursor_execute", keep)
    try:
        with db.read_session() as s:
            browse_tasks(s, actor, pid, filters, after_id=after, limit=50)
    finally:
        event.remove(db.read_engine, "before_cursor_execute", keep)
    raw = db.read_engine.raw_connection()
    try:
        cur = raw.cursor()
        for statement, parameters in statements:
            pg = db.read_engine.dialect.name == "postgresql"
            cur.execute(
                ("EXPLAIN ANALYZE " if pg else "EXPLAIN QUERY PLAN ") + statement, parameters
            )
            lines = [str(row[0] if pg else row[-1]) for row in cur.fetchall()]
            keep_lines = [x.strip() for x in lines if not pg or "Scan" in x or "Execution" in x]
            print("    " + " | ".join(keep_lines))
        raw.rollback()
    finally:
        raw.close()


def main_sparse(args: argparse.Namespace) -> None:
    with migrated_database(args.backend, "bench_task_list") as url:
        print(f"building {args.tasks:,} tasks (sparse) on {args.backend}…", file=sys.stderr)
        db, actor, pid, first, cy = build_sparse(url, args.tasks)
        mid = args.tasks // 2
        print(
            f"\npage of 50 tasks, median of {args.repeat} (ms), {args.tasks:,} tasks, "
            f"{args.backend}: 30% done, {max(2, args.tasks // 1000):,} in progress"
        )
        print(f"{'filter, page':42}{'after':>10}{'cpu':>8}{'before':>10}{'cpu':>8}")
        for name, case in SPARSE_CASES:
            case = {
                k: (cy if v is True else v.format(mid=mid) if isinstance(v, str) else v)
                for k, v in case.items()
            }
            changed = "annotator" in case or ("status" in case and "external_id" not in case)
            for where, after in (("first page", 0), ("mid-project", first + mid)):
                now = time_filter(db, actor, pid, after, case, False, args.repeat)
                old = (
                    time_filter(db, actor, pid, after, case, True, args.repeat) if changed else now
                )
                print(
                    f"{name + ', ' + where:42}{now[0]:10.2f}{now[1]:8.2f}{old[0]:10.2f}{old[1]:8.2f}"
                )
                if args.plans and changed:
                    print_plans(db, actor, pid, after, case)
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--sparse", action="store_true", help="every filter, sparse statuses")
    parser.add_argument("--plans", action="store_true", help="with --sparse: print access paths")
    args = parser.parse_args()
    passwords.use_profile("cheapest")
    if args.sparse:
        main_sparse(args)
        return
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
