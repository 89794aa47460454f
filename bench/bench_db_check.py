"""What ``labelhouse db check --deep`` costs on a big project, and ``--repair`` after damage.

Builds a database with one project of ``--tasks`` tasks (default 1,000,000; overlap 2) with
set-based INSERT … SELECT (no services: building through the queue would take hours):
40 % of the tasks have two submitted annotations (each with its revision), one in five
annotators holds a live lease, 2 % have a skipped or expired assignment, and half the tasks
are routed to a workforce (30 % done by it, 20 % unstarted). Then it times, in-process and
through the real CLI:

- the storage check (SQLite ``PRAGMA integrity_check`` + ``foreign_key_check``; PostgreSQL
  amcheck on every btree index of the app's tables and ``verify_heapam`` on its tables),
- the queue invariants (every check, and each group's share),
- ``--repair`` after a raw UPDATE damaged the counters of 10,000 tasks and 1,000 routes.

    .venv/bin/python bench/bench_db_check.py                  # SQLite, 1,000,000 tasks
    .venv/bin/python bench/bench_db_check.py --keep /tmp/big.db   # reuse the file next time
    .venv/bin/python bench/bench_db_check.py --backend postgresql --tasks 1000000

PostgreSQL: LABELHOUSE_BENCH_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test);
a private database is created and dropped.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from sqlalchemy import Connection, create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from labelhouse.accounts import passwords
from labelhouse.accounts import service as accounts
from labelhouse.accounts.models import Role
from labelhouse.db import integrity, migrate
from labelhouse.db.engine import open_database
from labelhouse.people import project_members, teams, workforces
from labelhouse.projects.service import create_project
from labelhouse.tables import Base
from labelhouse.tasks import invariants

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SCHEMA, scratch_pg_database

ANNOTATORS = 40
OVERLAP = 2


def _series(dialect: str, n: int) -> str:
    """A SELECT giving i = 1..n (the only statement whose spelling differs)."""
    if dialect == "postgresql":
        return f"SELECT generate_series(1, {n}) AS i"
    return f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) SELECT i FROM s"


def migrated(url: str) -> None:
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()


def sql(conn: Connection, statement: str) -> None:
    """Plain SQL through ``text()``, which escapes ``%`` for psycopg's paramstyle."""
    conn.execute(text(statement))


def build(url: str, n_tasks: int) -> dict[str, int]:
    """The people and project through the services, the bulk rows by INSERT … SELECT."""
    passwords.use_profile("cheapest")
    db = open_database(url)
    with db.session() as s:
        owner, _ = accounts.bootstrap_owner(
            s, email="o@x.org", organization_name="Lab", password="p" * 12
        )
        owner.must_change_password = False
    with db.read_session() as s:
        boss = accounts.actor_for(s, user_id=owner.id)
    with db.session() as s:
        users = [
            accounts.create_user(
                s,
                email=f"a{i}@x.org",
                password="p" * 12,
                organization_id=boss.organization_id,
                role=Role.annotator,
            ).id
            for i in range(ANNOTATORS)
        ]
        project = create_project(s, boss, name="Big", schema=SCHEMA, overlap=OVERLAP).id
    with db.session() as s:
        team = teams.create_team(s, boss, name="Vendor")
        teams.add_members(s, boss, team.id, emails=[f"a{i}@x.org" for i in range(ANNOTATORS)])
        workforces.update_workforce(s, boss, team.id, kind="vendor")
        project_members.add_team(s, boss, project, team_id=team.id, role="annotator")
        wf = team.id
    dialect = db.dialect
    db.dispose()
    u0, n = users[0], n_tasks
    done, leased, routed_done, routed_new = n * 4 // 10, ANNOTATORS // 5, n * 3 // 10, n // 5
    engine = create_engine(url)
    series = _series(dialect, n)
    now = "CURRENT_TIMESTAMP"
    gold = "NULL"
    as_json = "::jsonb" if dialect == "postgresql" else ""
    task_data = "('{\"text\": \"Review ' || i || ': the product was fine.\"}')" + as_json
    label = '\'{"label": "pos"}\'' + as_json
    with engine.begin() as c:
        t0 = time.perf_counter()
        sql(
            c,
            "INSERT INTO task (id, project_id, external_id, dedup_key, data, taken, done, is_open,"
            f" gold, created_at) SELECT i, {project}, 'ext' || i, 'ext' || i,"
            f" {task_data},"
            f" CASE WHEN i <= {done} THEN 2 WHEN i <= {done + leased} THEN 1 ELSE 0 END,"
            f" CASE WHEN i <= {done} THEN 2 ELSE 0 END, i > {done}, {gold}, {now}"
            f" FROM ({series}) s" + (" ON CONFLICT DO NOTHING" if dialect == "postgresql" else ""),
        )
        # two submitted assignments per finished task, by annotators k and k+1 (mod 40); the
        # routed part (i <= routed_done) in the vendor workforce
        for k in (0, 1):
            sql(
                c,
                "INSERT INTO assignment (project_id, task_id, user_id, status, leased_at,"
                " expires_at, finished_at, workforce_id)"
                f" SELECT {project}, i, {u0} + ((i + {k}) % {ANNOTATORS}), 'submitted', {now},"
                f" {now}, {now}, CASE WHEN i <= {routed_done} THEN {wf} END"
                f" FROM ({series}) s WHERE i <= {done}",
            )
            sql(
                c,
                "INSERT INTO annotation (project_id, task_id, user_id, status, value,"
                " schema_version, revision, lead_time_ms, created_at, updated_at)"
                f" SELECT {project}, i, {u0} + ((i + {k}) % {ANNOTATORS}), 'submitted',"
                f" {label}, 1, 1, 4000, {now}, {now}"
                f" FROM ({series}) s WHERE i <= {done}",
            )
        sql(
            c,
            "INSERT INTO annotation_revision (annotation_id, revision, status, value,"
            f" schema_version, lead_time_ms, created_at) SELECT id, 1, 'submitted', value, 1,"
            f" 4000, {now} FROM annotation",
        )
        sql(
            c,  # live leases: one annotator in five holds one
            "INSERT INTO assignment (project_id, task_id, user_id, status, leased_at,"
            " expires_at, finished_at) SELECT"
            f" {project}, i, {u0} + ((i - {done + 1}) % {ANNOTATORS}), 'leased', {now}, {now}, NULL"
            f" FROM ({series}) s WHERE i > {done} AND i <= {done + leased}",
        )
        sql(
            c,  # ended assignments on 2 % of the open tasks
            "INSERT INTO assignment (project_id, task_id, user_id, status, leased_at,"
            " expires_at, finished_at) SELECT"
            f" {project}, i, {u0} + (i % {ANNOTATORS}),"
            f" CASE WHEN i % 2 = 0 THEN 'skipped' ELSE 'expired' END, {now}, {now}, {now}"
            f" FROM ({series}) s WHERE i > {done + leased} AND i % 50 = 0",
        )
        sql(
            c,
            "INSERT INTO task_route (project_id, task_id, workforce_id, quota, taken, is_open)"
            f" SELECT {project}, i, {wf}, {OVERLAP},"
            f" CASE WHEN i <= {routed_done} THEN 2 ELSE 0 END, i > {routed_done}"
            f" FROM ({series}) s WHERE i <= {routed_done} OR i > {n - routed_new}",
        )
        sql(c, f"UPDATE project SET routed = true, gold_rate = 0 WHERE id = {project}")
        if dialect == "postgresql":
            sql(c, "SELECT setval('task_id_seq', (SELECT max(id) FROM task))")
        built = time.perf_counter() - t0
    with engine.connect() as c:
        c = c.execution_options(isolation_level="AUTOCOMMIT")
        c.exec_driver_sql("ANALYZE" if dialect == "sqlite" else "VACUUM ANALYZE")
        rows = {
            t: c.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one()
            for t in ("task", "assignment", "annotation", "annotation_revision", "task_route")
        }
    engine.dispose()
    print(f"built in {built:.1f} s: " + ", ".join(f"{t} {v:,}" for t, v in rows.items()))
    return {"project": project, "workforce": wf}


def damage(url: str, project: int) -> None:
    """Wrong counters on 10,000 tasks and 1,000 routes, as a raw UPDATE would leave them."""
    engine = create_engine(url)
    with engine.begin() as c:
        sql(c, f"UPDATE task SET taken = taken + 1 WHERE id % 100 = 7 AND project_id = {project}")
        sql(c, "UPDATE task_route SET taken = 0 WHERE task_id % 500 = 3 AND taken > 0")
    engine.dispose()


def timed_check(url: str) -> tuple[float, str, float, invariants.QueueReport]:
    db = open_database(url)
    try:
        t0 = time.perf_counter()
        storage = integrity.check_storage(db.read_engine, tables=list(Base.metadata.tables))
        t_storage = time.perf_counter() - t0
        assert storage.intact, storage.problems
        t0 = time.perf_counter()
        with db.read_session() as s:
            report = invariants.find_violations(s)
        t_queue = time.perf_counter() - t0
    finally:
        db.dispose()
    checked = ", ".join(f"{n} {what}" for what, n in storage.checked.items())
    return t_storage, checked or storage.method, t_queue, report


CLI = [sys.executable, "-c", "from labelhouse.cli.main import app; app()"]


def run_cli(url: str, data_dir: str, *args: str) -> tuple[float, int, str]:
    """The real command in its own process (this checkout's code: PYTHONPATH is passed on);
    its timings from standard error are printed."""
    env = {**os.environ, "LABELHOUSE_DATABASE_URL": url, "LABELHOUSE_DATA_DIR": data_dir}
    t0 = time.perf_counter()
    out = subprocess.run(
        [*CLI, "db", "check", *args], env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - t0
    for line in out.stderr.splitlines():
        if line.startswith(("Checked", "Recomputed")):
            print(f"    {line}")
    return elapsed, out.returncode, out.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tasks", type=int, default=1_000_000)
    ap.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--keep", type=Path, help="SQLite: build into this file once, reuse it later")
    args = ap.parse_args()
    with ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="lh-dbcheck-"))
        if args.backend == "postgresql":
            url, _ = stack.enter_context(scratch_pg_database("lh_bench_dbcheck"))
            migrated(url)
            info = build(url, args.tasks)
        else:
            path = args.keep or Path(tmp) / "big.db"
            url = f"sqlite:///{path}"
            fresh = not path.exists()
            if fresh:
                migrated(url)
                info = build(url, args.tasks)
            else:
                info = {"project": 1}
                print(f"reusing {path} (delete it to build again)")
            print(f"file: {path.stat().st_size / 1e6:.0f} MB")
        t_storage, storage_summary, t_queue, report = timed_check(url)
        print(f"storage check (in-process): {t_storage:.2f} s ({storage_summary})")
        print(
            f"queue invariants (in-process): {t_queue:.2f} s, {len(invariants.CHECKS)} checks,"
            f" {report.tasks:,} tasks, {len(report.violations)} violations"
        )
        for group, seconds in report.timings.items():
            print(f"  {group}: {seconds:.2f} s")
        elapsed, code, _ = run_cli(url, tmp, "--deep")
        print(f"labelhouse db check --deep (CLI, clean): {elapsed:.2f} s, exit {code}")
        damage(url, info["project"])
        elapsed, code, out = run_cli(url, tmp, "--deep")
        print(f"labelhouse db check --deep (CLI, damaged): {elapsed:.2f} s, exit {code}")
        for line in out.splitlines():
            if line.startswith(("Work queue", "  project")):
                print(f"    {line}")
        elapsed, code, out = run_cli(url, tmp, "--repair")
        print(f"labelhouse db check --repair (CLI): {elapsed:.2f} s, exit {code}")
        for line in out.splitlines():
            if line.startswith(("Repaired", "Work queue")):
                print(f"    {line}")
        elapsed, code, _ = run_cli(url, tmp, "--deep")
        print(f"labelhouse db check --deep (CLI, after repair): {elapsed:.2f} s, exit {code}")


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main)
