"""Does a claim cost more when more annotators claim at once? (issue 18, item 1)

Builds a PostgreSQL project of N tasks (default 1,000,000) with half of them done, set-based
(INSERT … SELECT, as bench_db_check.py does: the done half has ``taken = done = overlap``,
``is_open`` false and ``overlap`` submitted assignments + annotations + revisions each, as
the app leaves them), starts a real ``labelhouse serve --workers W`` on it and drives
next + submit pairs with 8, then 64 (then any further ``--levels``) concurrent annotators
(asyncio raw-socket clients: bench_soak.Conn, spread over ``--clients`` processes), each
level for ``--seconds`` after a ``--warmup``. Per level it prints pairs/s, pair p50/p99 and
CPU per pair of

* the database: utime + stime, from /proc, of every PostgreSQL backend connected to this
  run's database (pg_stat_activity: the app's pooled connections; pg_stat_statements is
  not loaded on this server, so this is the whole backend, parse/plan/execute/commit);
* the app: the server's supervisor and worker processes;
* the clients: the load-generator processes;

and, after each level, the invariants: tasks with more slots taken or more submissions than
the overlap, (task, user) pairs annotated twice, users holding more than one lease, tasks
whose ``taken`` is not their leases + submissions. All must be 0.

    PYTHONPATH=src .venv/bin/python bench/bench_claim_scaling.py                # 1M tasks
    PYTHONPATH=src .venv/bin/python bench/bench_claim_scaling.py --tasks 200000 --overlap 3
    PYTHONPATH=src .venv/bin/python bench/bench_claim_scaling.py --levels 8,64,200

The server runs the code PYTHONPATH points at (``python -c``, the environment passed on), so
the same script measures any version of tasks/queue.py: PYTHONPATH=<other checkout>/src for
"before". PostgreSQL: LABELHOUSE_BENCH_PG_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/test); a private database is created and
dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_soak import Conn, free_port
from common import SCHEMA, scratch_pg_database, wait_for_health

SERVE = [sys.executable, "-c", "from labelhouse.cli.main import app; app()", "serve"]
TICKS = os.sysconf("SC_CLK_TCK")


def build(
    url: str, n_tasks: int, n_users: int, overlap: int, history: str = "vacuumed"
) -> tuple[int, list[str]]:
    """Owner, project, annotators with API tokens (services), then the tasks and the done
    half's rows (set-based SQL). Returns (project id, one token per annotator).

    ``history``: "vacuumed" inserts the done half closed and VACUUMs; "updates" inserts
    every task open, VACUUMs, then closes the done half with one UPDATE and only ANALYZEs,
    so the queue indexes hold the dead entries that claims leave until autovacuum comes
    (its default threshold on a 1M-task table is 200,000 dead rows; this server runs with
    autovacuum off)."""
    from labelhouse.accounts import passwords
    from labelhouse.accounts import service as accounts
    from labelhouse.accounts.models import Role
    from labelhouse.accounts.policy import Actor
    from labelhouse.db import migrate
    from labelhouse.db.engine import open_database
    from labelhouse.people.project_members import add_people
    from labelhouse.projects.service import create_project
    from labelhouse.tasks import queue

    passwords.use_profile("cheapest")
    db = open_database(url)
    migrate.upgrade(db.engine)
    with db.session() as s:
        owner, _ = accounts.bootstrap_owner(
            s, email="owner@scale.local", organization_name="Scale", password="p" * 12
        )
        owner.must_change_password = False
    with db.read_session() as s:
        boss = accounts.actor_for(s, user_id=owner.id)
    emails = [f"a{i}@scale.local" for i in range(n_users)]
    with db.session() as s:
        pid = create_project(
            s, boss, name="scale", schema=SCHEMA, overlap=overlap, lease_seconds=600
        ).id
        queue.update_project(s, boss, pid, {"gold_rate": 0, "gold_first_n": 0})
        users = [
            accounts.create_user(
                s,
                email=e,
                password="p" * 12,
                organization_id=boss.organization_id,
                role=Role.annotator,
            ).id
            for e in emails
        ]
        for start in range(0, len(emails), 100):
            add_people(s, boss, pid, emails=emails[start : start + 100], role="annotator")
    tokens = []
    with db.session() as s:
        for uid in users:
            annotator = Actor(
                user_id=uid, organization_id=boss.organization_id, role=Role.annotator
            )
            tokens.append(accounts.create_api_token(s, annotator, name="scale")[1])
    db.dispose()
    n, done, u0 = n_tasks, n_tasks // 2, users[0]
    series = f"generate_series(1, {n}) AS s(i)"
    t0 = time.perf_counter()
    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO task (id, project_id, external_id, dedup_key, data, taken, done,"
                " is_open, gold, created_at) SELECT i, :p, 'ext' || i, 'ext' || i,"
                " jsonb_build_object('text', 'Review ' || i || ': the product was fine.'),"
                " CASE WHEN i <= :d THEN :o ELSE 0 END, CASE WHEN i <= :d THEN :o ELSE 0 END,"
                f" i > :d, NULL, now() FROM {series}"
            ),
            {"p": pid, "d": 0 if history == "updates" else done, "o": overlap},
        )
        for k in range(overlap):  # annotators u0 + (i + k) % users: distinct per task
            who = f"{u0} + ((i + {k}) % {n_users})"
            c.execute(
                text(
                    "INSERT INTO assignment (project_id, task_id, user_id, status, leased_at,"
                    f" expires_at, finished_at) SELECT :p, i, {who}, 'submitted', now(),"
                    f" now(), now() FROM {series} WHERE i <= :d"
                ),
                {"p": pid, "d": done},
            )
            c.execute(
                text(
                    "INSERT INTO annotation (project_id, task_id, user_id, status, value,"
                    " schema_version, revision, lead_time_ms, created_at, updated_at)"
                    f" SELECT :p, i, {who}, 'submitted', '{{\"label\": \"pos\"}}'::jsonb, 1, 1,"
                    f" 900, now(), now() FROM {series} WHERE i <= :d"
                ),
                {"p": pid, "d": done},
            )
        c.execute(
            text(
                "INSERT INTO annotation_revision (annotation_id, revision, status, value,"
                " schema_version, lead_time_ms, created_at) SELECT id, 1, 'submitted', value,"
                " 1, 900, now() FROM annotation"
            )
        )
        c.execute(text("SELECT setval('task_id_seq', (SELECT max(id) FROM task))"))
    with engine.connect() as c:
        c.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    if history == "updates":
        with engine.begin() as c:
            c.execute(
                text("UPDATE task SET taken = :o, done = :o, is_open = false WHERE id <= :d"),
                {"o": overlap, "d": done},
            )
        with engine.connect() as c:
            c.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    engine.dispose()
    print(f"built {n:,} tasks ({done:,} done) in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return pid, tokens


# -- load ---------------------------------------------------------------------------------------
async def annotator(conn: Conn, pid: int, start: float, stop: float, out: dict[str, Any]) -> None:
    """next + submit until ``stop``; pairs that began at or after ``start`` are counted."""
    while (t0 := time.time()) < stop:
        try:
            status, body, _ = await conn.post(f"/api/projects/{pid}/next")
            task = body.get("task") if status == 200 else None
            if task is None:
                out["empty" if status == 200 else f"next {status}"] += 1
                await asyncio.sleep(0.2)
                continue
            status, _, _ = await conn.post(
                f"/api/tasks/{task['id']}/annotations",
                {"value": {"label": "pos"}, "lead_time_ms": 900},
            )
        except (OSError, asyncio.IncompleteReadError) as e:
            out[f"lost {type(e).__name__}"] += 1
            await asyncio.sleep(0.2)
            continue
        if status >= 300:
            out[f"submit {status}"] += 1
        elif t0 >= start:
            out["lat"].append(time.time() - t0)
    conn.drop()


def client_process(args: tuple[int, list[str], int, float, float]) -> dict[str, Any]:
    port, tokens, pid, start, stop = args
    from collections import defaultdict

    out: dict[str, Any] = defaultdict(int)
    out["lat"] = []

    async def run() -> None:
        await asyncio.gather(*(annotator(Conn(port, t), pid, start, stop, out) for t in tokens))

    asyncio.run(run())
    return dict(out)


def proc_cpu(pid: int) -> float:
    """utime + stime of one process in seconds (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def tree(pid: int) -> list[int]:
    """The process and its descendants."""
    import psutil

    try:
        p = psutil.Process(pid)
        return [pid, *(c.pid for c in p.children(recursive=True))]
    except psutil.Error:
        return []


BENCH_APP = {"application_name": "bench-claim-scaling"}


class Backends:
    """CPU of the PostgreSQL backends serving this run's database (the bench's own
    connections, named BENCH_APP, left out)."""

    def __init__(self, admin_url: str, dbname: str) -> None:
        self.engine = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args=BENCH_APP)
        self.dbname = dbname

    def snapshot(self) -> dict[int, float]:
        with self.engine.connect() as c:
            pids = c.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = :d"
                    " AND application_name <> :me"
                ),
                {"d": self.dbname, "me": BENCH_APP["application_name"]},
            ).scalars()
            return {pid: proc_cpu(pid) for pid in pids}


class Probe:
    """Evidence while a level runs: what the app's backends wait on (pg_stat_activity,
    sampled every 20 ms) and what one claim's choosing statement does under this load
    (EXPLAIN (ANALYZE, BUFFERS) of the first-open-task walk, FOR UPDATE SKIP LOCKED, in a
    rolled-back transaction, every 0.25 s, as a user with no assignments)."""

    def __init__(self, url: str, dbname: str, pid: int) -> None:
        self.engine = create_engine(url, connect_args=BENCH_APP)
        self.dbname, self.pid = dbname, pid
        self.waits: dict[str, int] = {}
        self.samples = 0
        self.plans: dict[str, list[tuple[int, int, float]]] = {}  # (rows, buffers, ms)
        self.stop_flag = False

    def _statements(self, dialect: Any) -> dict[str, tuple[str, dict[str, Any]]]:
        """The app's choosing statements (this checkout's tasks/queue.py), compiled: the head
        walk, and the lane walk where the code has one."""
        from labelhouse.tasks import queue

        found = {"head": queue._FIRST_OPEN[False]}
        if hasattr(queue, "_lane_walk"):  # the redesign (issue 18)
            found["lane"] = queue._lane_walk(queue._FIRST_OPEN_BY_ID, queue._candidate)
        out = {}
        for name, stmt in found.items():
            compiled = stmt.with_for_update(skip_locked=True).compile(dialect=dialect)
            params = compiled.construct_params({"pid": self.pid, "uid": -1, "lane": 0, "floor": 0})
            out[name] = ("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + compiled.string, params)
        return out

    def run(self, start: float, stop: float) -> None:
        import threading

        statements = self._statements(self.engine.dialect)
        waits = text(
            "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU'), count(*)"
            " FROM pg_stat_activity WHERE datname = :d AND application_name <> :me"
            " AND state = 'active' GROUP BY 1"
        )

        def sample() -> None:
            with self.engine.connect() as c:
                while time.time() < stop:
                    if time.time() >= start:
                        self.samples += 1
                        for what, n in c.execute(
                            waits, {"d": self.dbname, "me": BENCH_APP["application_name"]}
                        ):
                            self.waits[what] = self.waits.get(what, 0) + n
                        c.rollback()
                    time.sleep(0.02)

        def explain() -> None:
            turn = 0
            with self.engine.connect() as c:
                while time.time() < stop:
                    if time.time() >= start:
                        floor = c.execute(
                            text("SELECT min(id) FROM task WHERE project_id = :p AND is_open"),
                            {"p": self.pid},
                        ).scalar()
                        for name, (sql, params) in statements.items():
                            turn += 1
                            if "lane" in params:  # as the app: a lane, from a fresh floor
                                params = params | {"lane": turn % 16, "floor": floor or 0}
                            plan = c.exec_driver_sql(sql, params).scalar_one()[0]
                            c.rollback()
                            self.plans.setdefault(name, []).append(_walk(plan["Plan"]))
                    time.sleep(0.25)

        self.threads = [threading.Thread(target=f, daemon=True) for f in (sample, explain)]
        for t in self.threads:
            t.start()

    def report(self) -> dict[str, Any]:
        for t in self.threads:
            t.join()
        self.engine.dispose()
        n = max(self.samples, 1)
        top = sorted(self.waits.items(), key=lambda kv: -kv[1])[:6]
        found: dict[str, Any] = {
            "active_backends": round(sum(self.waits.values()) / n, 1),
            "waits": {k: round(v / n, 2) for k, v in top},
        }
        for name, plans in self.plans.items():
            rows = sorted(p[0] for p in plans)
            bufs = sorted(p[1] for p in plans)
            ms = sorted(p[2] for p in plans)
            found[f"{name}_walk_rows_p50"] = rows[len(rows) // 2]
            found[f"{name}_walk_rows_max"] = rows[-1]
            found[f"{name}_walk_buffers_p50"] = bufs[len(bufs) // 2]
            found[f"{name}_walk_ms_p50"] = ms[len(ms) // 2]
        return found


def _walk(plan: dict[str, Any]) -> tuple[int, int, float]:
    """(rows the task index scan returned, shared buffers hit+read, total ms) of a plan."""
    rows = 0
    stack = [plan]
    while stack:
        node = stack.pop()
        if node.get("Relation Name") == "task" and "Index" in node.get("Node Type", ""):
            rows = max(rows, int(node.get("Actual Rows", 0)))
        stack.extend(node.get("Plans", []))
    buffers = plan.get("Shared Hit Blocks", 0) + plan.get("Shared Read Blocks", 0)
    return rows, buffers, float(plan.get("Actual Total Time", 0.0))


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two snapshots (a process that appeared counts from 0)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def run_level(
    port: int,
    tokens: list[str],
    pid: int,
    clients: int,
    warmup: float,
    seconds: float,
    server_pid: int,
    backends: Backends,
    probe: Probe | None,
) -> dict[str, Any]:
    shares = [tokens[c::clients] for c in range(clients)]
    shares = [s for s in shares if s]
    now = time.time()
    start, stop = now + 1.0 + warmup, now + 1.0 + warmup + seconds
    ctx = multiprocessing.get_context("fork")
    if probe is not None:
        probe.run(start, stop)
    with ctx.Pool(len(shares)) as pool:
        pending = pool.map_async(client_process, [(port, s, pid, start, stop) for s in shares])
        time.sleep(max(0.0, start - time.time()))
        client_pids = [p.pid for p in pool._pool]  # type: ignore[attr-defined]
        app_pids = tree(server_pid)
        db0 = backends.snapshot()
        app0 = {p: proc_cpu(p) for p in app_pids}
        cl0 = {p: proc_cpu(p) for p in client_pids}
        time.sleep(max(0.0, stop - time.time()))
        db1 = backends.snapshot()
        app1 = {p: proc_cpu(p) for p in app_pids}
        cl1 = {p: proc_cpu(p) for p in client_pids}
        results = pending.get(timeout=600)
    lat = sorted(x for r in results for x in r["lat"])
    errors: dict[str, int] = {}
    for r in results:
        for k, v in r.items():
            if k != "lat":
                errors[k] = errors.get(k, 0) + v
    pairs = len(lat)
    per = 1000 / max(pairs, 1)
    found = {
        "annotators": len(tokens),
        "pairs": pairs,
        "pairs_per_s": round(pairs / seconds, 1),
        "pair_p50_ms": round(statistics.median(lat) * 1000, 1) if lat else None,
        "pair_p99_ms": round(lat[int(len(lat) * 0.99) - 1] * 1000, 1) if lat else None,
        "db_cpu_ms_per_pair": round(spent(db0, db1) * per, 2),
        "app_cpu_ms_per_pair": round(spent(app0, app1) * per, 2),
        "client_cpu_ms_per_pair": round(spent(cl0, cl1) * per, 2),
        "db_backends": len(db1),
        "errors": errors,
    }
    return found | (probe.report() if probe is not None else {})


def invariants(url: str, overlap: int) -> dict[str, int]:
    engine = create_engine(url)
    queries = {
        "over_assigned": f"SELECT count(*) FROM task WHERE taken > {overlap}",
        "over_submitted": "SELECT count(*) FROM (SELECT task_id FROM annotation"
        f" WHERE status = 'submitted' GROUP BY task_id HAVING count(*) > {overlap}) x",
        "double_annotated": "SELECT count(*) FROM (SELECT task_id, user_id FROM annotation"
        " GROUP BY task_id, user_id HAVING count(*) > 1) x",
        "users_with_2_leases": "SELECT count(*) FROM (SELECT user_id FROM assignment"
        " WHERE status = 'leased' GROUP BY project_id, user_id HAVING count(*) > 1) x",
        "taken_mismatch": "SELECT count(*) FROM task t LEFT JOIN (SELECT task_id, count(*) n"
        " FROM assignment WHERE status IN ('leased', 'submitted') GROUP BY task_id) a"
        " ON a.task_id = t.id WHERE t.taken <> coalesce(a.n, 0)",
    }
    with engine.connect() as c:
        found = {k: c.execute(text(q)).scalar_one() for k, q in queries.items()}
        # how far apart the 16 lanes' oldest open tasks are (ids): the window within which
        # lane claims keep "oldest open first" (not an invariant; 15 = perfectly even)
        found["lane_head_spread"] = c.execute(
            text(
                "SELECT max(h) - min(h) FROM (SELECT min(id) AS h FROM task WHERE is_open"
                " GROUP BY id % 16) x"
            )
        ).scalar_one()
    engine.dispose()
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tasks", type=int, default=1_000_000)
    ap.add_argument("--overlap", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--levels", default="8,64", help="concurrent annotators, comma-separated")
    ap.add_argument("--seconds", type=float, default=30, help="measured seconds per level")
    ap.add_argument("--warmup", type=float, default=5, help="unmeasured seconds per level")
    ap.add_argument("--clients", type=int, default=2, help="load-generator processes")
    ap.add_argument(
        "--history",
        choices=("vacuumed", "updates"),
        default="vacuumed",
        help="how the done half got done (see build)",
    )
    ap.add_argument("--probe", action="store_true", help="sample waits and EXPLAIN the claim")
    ap.add_argument("--label", default="", help="a name for this run in the table (before/after)")
    ap.add_argument("--save", type=Path, help="also write this run's rows here (JSON)")
    ap.add_argument(
        "--compare",
        nargs="+",
        type=Path,
        metavar="SAVED",
        help="print runs saved with --save side by side (before/after) and exit",
    )
    args = ap.parse_args()
    if args.compare:
        compare([json.loads(p.read_text()) for p in args.compare])
        return
    levels = [int(x) for x in args.levels.split(",")]
    admin_url = os.environ.get(
        "LABELHOUSE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    rows = []
    with (
        scratch_pg_database("lh_claimscale") as (url, dbname),
        tempfile.TemporaryDirectory() as tmp,
    ):
        pid, tokens = build(url, args.tasks, max(levels), args.overlap, args.history)
        env = {
            **os.environ,
            "LABELHOUSE_DATA_DIR": tmp,
            "LABELHOUSE_DATABASE_URL": url,
            "LABELHOUSE_OWNER_EMAIL": "owner@scale.local",
        }
        port = free_port()
        server = subprocess.Popen(
            [*SERVE, "--port", str(port), "--workers", str(args.workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        backends = Backends(admin_url, dbname)
        try:
            wait_for_health(port, server)
            for level in levels:
                row = run_level(
                    port,
                    tokens[:level],
                    pid,
                    min(args.clients, level),
                    args.warmup,
                    args.seconds,
                    server.pid,
                    backends,
                    Probe(url, dbname, pid) if args.probe else None,
                )
                row |= invariants(url, args.overlap)
                print(json.dumps(row), file=sys.stderr)
                rows.append(row)
        finally:
            os.killpg(server.pid, 15)
            server.wait(timeout=30)
            backends.engine.dispose()
    label = args.label or "run"
    if args.save:
        args.save.write_text(
            json.dumps({"label": label, "args": vars(args) | {"save": None}, "rows": rows})
        )
    print(
        f"\nclaim scaling [{label}]: {args.tasks:,} tasks, half done ({args.history}),"
        f" overlap {args.overlap},"
        f" workers {args.workers}, {args.seconds:.0f} s per level;"
        " db cpu = /proc utime+stime of this database's backends"
    )
    keys = [k for k in rows[0] if k not in ("errors", "waits")]
    print("".ljust(24) + "".join(f"{r['annotators']:>12}" for r in rows))
    for k in keys[1:]:
        print(k.ljust(24) + "".join(f"{r[k]!s:>12}" for r in rows))
    print("errors".ljust(24) + "  ".join(json.dumps(r["errors"]) for r in rows))
    for r in rows:
        if "waits" in r:
            print(f"waits at {r['annotators']} (backends per sample):", json.dumps(r["waits"]))
    for line in ratios(rows):
        print(line)


def ratios(rows: list[dict[str, Any]]) -> list[str]:
    """Database CPU per pair at each level over that at 8 annotators (or the first level)."""
    base = next((r for r in rows if r["annotators"] == 8), rows[0])
    if not base["db_cpu_ms_per_pair"]:
        return []
    return [
        f"db_cpu_ratio {r['annotators']}/{base['annotators']}:"
        f" {r['db_cpu_ms_per_pair'] / base['db_cpu_ms_per_pair']:.2f}"
        for r in rows
        if r is not base and r["annotators"] > base["annotators"]
    ]


COMPARED = (
    "pairs_per_s",
    "pair_p50_ms",
    "pair_p99_ms",
    "db_cpu_ms_per_pair",
    "app_cpu_ms_per_pair",
    "client_cpu_ms_per_pair",
    "head_walk_buffers_p50",
    "lane_walk_buffers_p50",
    "over_assigned",
    "double_annotated",
    "users_with_2_leases",
    "lane_head_spread",
)


def compare(runs: list[dict[str, Any]]) -> None:
    """Saved runs side by side: one column per (run, level)."""
    cols = [(run["label"], r) for run in runs for r in run["rows"]]
    print("".ljust(24) + "".join(f"{label[:10]:>11}/{r['annotators']:<3}" for label, r in cols))
    for k in COMPARED:
        print(k.ljust(24) + "".join(f"{r.get(k, '-')!s:>15}" for _, r in cols))
    for run in runs:
        for line in ratios(run["rows"]):
            print(f"{run['label']}: {line}")


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main, http=True)
