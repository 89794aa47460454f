"""The published scale envelope (issue 18, item 3): how large a project and how many
annotators this machine kind serves with next+submit p99 ≤ 100 ms and the quality page
≤ 1 s, on PostgreSQL and SQLite.

One command, three phases per database, each printing markdown rows ready for
docs/benchmarks.md ("Tested limits") with the command that reproduces the row (on stderr
as each is measured, and as whole tables on stdout at the end). The imports of every
database run first, since they build the project the other phases use:

- ``import``: ``labelhouse import`` of N tasks (default 10,000,000; the JSONL file is
  written streaming into a temporary folder): tasks/s, the command's wall and CPU seconds
  (and the PostgreSQL backend's), its peak RSS (VmHWM), the database's size after.
- ``claims``: that project with ``--done`` (90 %) of its tasks finished, written in SQL as
  the queue would have left them (``taken = done = overlap``, closed, one submitted
  assignment and one submitted annotation per slot, by a pool of past annotators; no
  answer history rows, which no check or read here needs). Then for every
  ``--workers`` × ``--annotators`` a real ``labelhouse serve --workers W`` and that many
  annotators doing ``POST /next`` + submit, each pausing a random 0–2 × ``--think``
  seconds between pairs (``--think 0``: as fast as they can). Per cell: pairs/s, pair p50 /
  p99, **server CPU per pair** (all serve processes, from /proc; beside it what the
  server burns idle, per second, measured for 3 s before the cells), database CPU per pair
  (PostgreSQL backends of this database), the load generator's own CPU per pair, how busy
  the machine was, and the queue's invariants over the cell's answers (tasks with more
  answers than the overlap, people with two answers on one task: both must be 0). A cell
  is *within* when p99 ≤ 100 ms and both are 0.
- ``quality``: the stored analysis recomputed as the background job does (in a process of
  its own: CPU, wall, peak RSS), then the quality report read through the server — the
  JSON API and the HTML page, median of 5 — with the server's CPU per read. *Within*:
  the page ≤ 1 s. ``--cold-page`` also times the first view of a project with no stored
  analysis, which computes it inside the request.

The load generator (``annotators.py``) is a few processes (``--clients``), each
multiplexing its share of the annotators on asyncio streams over raw sockets
(``bench_soak.Conn``), run at ``os.nice`` ``--client-nice`` so that the server keeps the
cores; their CPU is reported beside the server's, so a figure from a busy machine can still
be compared per operation. ``--measured-nice 0`` under ``nice -n 19`` (as root) runs
everything but the measured processes niced.

    .venv/bin/python bench/bench_envelope.py                     # the whole envelope (long)
    .venv/bin/python bench/bench_envelope.py --tasks 20000 --backends sqlite --workers 1 \\
        --annotators 8 64 --seconds 5                            # a quick look (~1 min)
    .venv/bin/python bench/bench_envelope.py --backends postgresql --phases import

PostgreSQL: LABELHOUSE_BENCH_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test);
a private database is created and dropped. Big files go under ``--tmp`` (default: the
system's temporary folder): 10M tasks need about 1 GB of JSONL and 5–8 GB of database.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import create_engine, text

from annotators import busy_share, drive
from bench_core import Server, token_for
from bench_import import BackendCpu, timed_command
from common import (
    PASSWORD,
    ROOT,
    SCHEMA,
    cpu_since,
    make_file,
    pg_backend_cpu,
    run_cli,
    scratch_pg_database,
)

OWNER = "owner@envelope.local"
PAST = 40  # annotators who did the finished part of the project
P99_LIMIT_MS = 100.0
PAGE_LIMIT_S = 1.0
IDLE_SECONDS = 3.0
DEFAULTS = {"tasks": 10_000_000, "seconds": 20.0, "think": 0.5, "done": 0.9}


@dataclass
class Built:
    """One database with the imported project."""

    backend: str
    url: str
    dbname: str | None
    env: dict[str, str]
    project: int
    tokens: list[str] = field(default_factory=list)


# -- the command line of one row --------------------------------------------------------


@contextmanager
def niceness(value: int | None) -> Iterator[None]:
    """The block, and the processes it starts (the measured ones: the import command, the
    server, the recompute), at niceness ``value``; this thread's own afterwards. Lowering
    it takes root; ``None`` leaves everything as it is."""
    if value is None:
        yield
        return
    before = os.getpriority(os.PRIO_PROCESS, 0)
    os.setpriority(os.PRIO_PROCESS, 0, value)
    try:
        yield
    finally:
        os.setpriority(os.PRIO_PROCESS, 0, before)


def row_command(args: argparse.Namespace, backend: str, **only: object) -> str:
    """The command that measures this row alone (sizes as in this run)."""
    parts = ["bench/bench_envelope.py", "--backends", backend]
    if args.tasks != DEFAULTS["tasks"]:
        parts += ["--tasks", str(args.tasks)]
    if args.done != DEFAULTS["done"]:
        parts += ["--done", str(args.done)]
    for name, value in only.items():
        parts += [f"--{name}", str(value)]
    if "phases" in only and only["phases"] == "claims":
        if args.seconds != DEFAULTS["seconds"]:
            parts += ["--seconds", f"{args.seconds:g}"]
        if args.think != DEFAULTS["think"]:
            parts += ["--think", f"{args.think:g}"]
    return "`" + shlex.join(parts) + "`"


ROWS: dict[str, list[str]] = {"import": [], "claims": [], "quality": []}


def emit(table: str, cells: list[object]) -> None:
    """One markdown row, printed (and flushed) as soon as it is measured, prefixed with its
    table's name; :func:`print_tables` prints the tables whole at the end."""
    row = "| " + " | ".join(str(c) for c in cells) + " |"
    ROWS[table].append(row)
    print(f"{time.strftime('%H:%M:%S')} {table}: {row}", file=sys.stderr, flush=True)


# -- import ------------------------------------------------------------------------------


def database_bytes(built: Built) -> int:
    if built.dbname is None:
        path = Path(built.env["LABELHOUSE_DATA_DIR"]) / "labelhouse.db"
        return sum(
            p.stat().st_size for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
        )
    engine = create_engine(built.url)
    with engine.connect() as c:
        size = c.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    engine.dispose()
    return int(size)


def import_phase(
    backend: str,
    url: str | None,
    dbname: str | None,
    tmp: Path,
    data: Path,
    args: argparse.Namespace,
) -> Built:
    """Owner and project through the CLI, then the timed ``labelhouse import``."""
    env = {**os.environ, "LABELHOUSE_DATA_DIR": str(tmp), "LABELHOUSE_OWNER_EMAIL": OWNER}
    if url:
        env["LABELHOUSE_DATABASE_URL"] = url
    run_cli(["users", "create", OWNER, "--password", PASSWORD], env)
    schema_file = tmp / "schema.json"
    schema_file.write_text(json.dumps(SCHEMA))
    pid = run_cli(["projects", "create", "envelope", "--schema", str(schema_file)], env)
    command = ["import", pid, str(data)]
    if dbname:
        with BackendCpu(dbname) as pg, niceness(args.measured_nice):
            wall, cpu, err, peak = timed_command(command, env)
        pg_cpu = f"{pg.seconds:.0f}"
    else:
        with niceness(args.measured_nice):
            wall, cpu, err, peak = timed_command(command, env)
        pg_cpu = "–"
    if f"Imported {args.tasks:,} new tasks" not in " ".join(err.split()):
        raise RuntimeError(f"the import did not create {args.tasks:,} tasks: {err[-2000:]}")
    built = Built(backend, url or f"sqlite:///{tmp / 'labelhouse.db'}", dbname, env, int(pid))
    size = database_bytes(built)
    emit(
        "import",
        [
            backend,
            f"{args.tasks:,}",
            f"{args.tasks / wall:,.0f}",
            f"{wall:.0f}",
            f"{cpu:.0f}",
            pg_cpu,
            f"{peak / 1e6:.0f}",
            f"{size / 1e9:.2f}",
            row_command(args, backend, phases="import"),
        ],
    )
    return built


# -- the finished part of the project, and the annotators ---------------------------------


def people(built: Built, live: int) -> list[int]:
    """``PAST`` annotators who did the finished part and ``live`` ones with API tokens, all
    members of the project; returns the past ones' user ids (consecutive)."""
    from labelhouse.accounts import passwords
    from labelhouse.accounts import service as accounts
    from labelhouse.accounts.models import Role
    from labelhouse.db.engine import open_database
    from labelhouse.people.project_members import add_people

    passwords.use_profile("cheapest")
    db = open_database(built.url)
    with db.session() as s:
        owner_id = s.execute(
            text("SELECT id FROM user_account WHERE email = :e"), {"e": OWNER}
        ).scalar_one()
        owner = accounts.actor_for(s, user_id=owner_id)
        past = [f"past{i}@envelope.local" for i in range(PAST)]
        now = [f"a{i}@envelope.local" for i in range(live)]
        users = [
            accounts.create_user(
                s, email=e, password=PASSWORD, organization_id=owner.organization_id,
                role=Role.annotator,
            )
            for e in past + now
        ]  # fmt: skip
        s.flush()
        ids = [u.id for u in users]
    with db.session() as s:
        emails = past + now
        for start in range(0, len(emails), 100):
            add_people(
                s, owner, built.project, emails=emails[start : start + 100], role="annotator"
            )
    with db.session() as s:
        for user_id in ids[PAST:]:
            actor = accounts.actor_for(s, user_id=user_id)
            built.tokens.append(accounts.create_api_token(s, actor, name="envelope")[1])
    db.dispose()
    if ids[:PAST] != list(range(ids[0], ids[0] + PAST)):
        raise RuntimeError("the past annotators' ids are not consecutive")
    return ids[:PAST]


def finish_most(built: Built, share: float, past: list[int]) -> tuple[int, float]:
    """Close the first ``share`` of the tasks as the queue leaves a finished task: counters
    at the overlap, one submitted assignment and one submitted annotation per slot, by the
    past annotators in turn. Returns (tasks finished, seconds)."""
    engine = create_engine(built.url)
    pg = engine.dialect.name == "postgresql"
    label = "('{\"label\": \"' || (CASE id % 3 WHEN 0 THEN 'pos' WHEN 1 THEN 'neg' ELSE 'neu' END) || '\"}')"
    label += "::jsonb" if pg else ""
    t0 = time.perf_counter()
    steps: list[str] = []

    def step(c: Any, name: str, statement: str) -> None:
        began = time.perf_counter()
        c.execute(text(statement))
        steps.append(f"{name} {time.perf_counter() - began:.1f} s")

    with engine.begin() as c:
        if pg:  # the rows are right by construction: skip the per-row foreign key triggers
            c.execute(text("SET LOCAL session_replication_role = replica"))
        overlap, total = c.execute(
            text(
                "SELECT overlap, (SELECT count(*) FROM task WHERE project_id = :p)"
                " FROM project WHERE id = :p"
            ),
            {"p": built.project},
        ).one()
        n = int(total * share)
        if n == 0:
            return 0, 0.0
        cut = c.execute(
            text("SELECT id FROM task WHERE project_id = :p ORDER BY id LIMIT 1 OFFSET :k"),
            {"p": built.project, "k": n - 1},
        ).scalar_one()
        where = f"WHERE project_id = {built.project} AND id <= {cut}"
        rows = f"FROM task {where}"
        step(
            c,
            "task",
            f"UPDATE task SET taken = {overlap}, done = {overlap}, is_open = false {where}",
        )
        for k in range(overlap):
            who = f"{past[0]} + ((id + {k}) % {PAST})"
            step(
                c,
                "assignment",
                "INSERT INTO assignment (project_id, task_id, user_id, status, leased_at,"
                " expires_at, finished_at) SELECT project_id, id, "
                f"{who}, 'submitted', created_at, created_at, created_at {rows}",
            )
            step(
                c,
                "annotation",
                "INSERT INTO annotation (project_id, task_id, user_id, status, value,"
                " schema_version, revision, lead_time_ms, created_at, updated_at)"
                f" SELECT project_id, id, {who}, 'submitted', {label}, 1, 1,"
                f" 2000 + (id * 7919) % 9000, created_at, created_at {rows}",
            )
    with engine.connect() as c:  # what autovacuum would have done by then
        c = c.execution_options(isolation_level="AUTOCOMMIT")
        began = time.perf_counter()
        c.exec_driver_sql(
            "VACUUM ANALYZE task, assignment, annotation"
            if pg
            else "PRAGMA wal_checkpoint(TRUNCATE)"
        )
        steps.append(f"{'vacuum' if pg else 'checkpoint'} {time.perf_counter() - began:.1f} s")
    print("finishing: " + ", ".join(steps), file=sys.stderr, flush=True)
    engine.dispose()
    return n, time.perf_counter() - t0


def invariants_since(built: Built, after_id: int) -> tuple[int, int]:
    """Over the tasks answered after annotation ``after_id``: tasks with more submitted
    answers than the overlap, and (task, person) pairs answered twice."""
    engine = create_engine(built.url)
    touched = "SELECT task_id FROM annotation WHERE id > :x"
    with engine.connect() as c:
        over = c.execute(
            text(
                "SELECT count(*) FROM (SELECT a.task_id FROM annotation a JOIN project p"
                " ON p.id = a.project_id WHERE a.status = 'submitted' AND a.task_id IN"
                f" ({touched}) GROUP BY a.task_id, p.overlap HAVING count(*) > p.overlap) x"
            ),
            {"x": after_id},
        ).scalar_one()
        twice = c.execute(
            text(
                "SELECT count(*) FROM (SELECT task_id, user_id FROM annotation WHERE task_id IN"
                f" ({touched}) GROUP BY task_id, user_id HAVING count(*) > 1) x"
            ),
            {"x": after_id},
        ).scalar_one()
    engine.dispose()
    return int(over), int(twice)


def last_annotation(built: Built) -> int:
    engine = create_engine(built.url)
    with engine.connect() as c:
        last = c.execute(text("SELECT coalesce(max(id), 0) FROM annotation")).scalar_one()
    engine.dispose()
    return int(last)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def claims_phase(built: Built, args: argparse.Namespace) -> None:
    for workers in args.workers:
        try:
            with niceness(args.measured_nice):
                server = Server(built.env, workers)
        except RuntimeError as exc:  # e.g. too slow to start on a loaded machine
            emit("claims", [built.backend, f"{args.tasks:,}", workers, f"failed: {exc}"[:300]])
            continue
        try:
            port = server.port
            drive(port, built.tokens[:8], built.project, 2.0, 0.0, args)  # warm every worker
            idle0 = server.cpu_seconds()
            time.sleep(IDLE_SECONDS)  # what the server burns with nobody working
            idle = (server.cpu_seconds() - idle0) / IDLE_SECONDS
            for count in args.annotators:
                tokens = built.tokens[:count]
                last = last_annotation(built)
                pg0 = pg_backend_cpu(built.dbname) if built.dbname else {}
                cpu0, machine0 = server.cpu_seconds(), psutil.cpu_times()
                got = drive(port, tokens, built.project, args.seconds, args.think, args)
                server_cpu = server.cpu_seconds() - cpu0
                busy = busy_share(machine0, psutil.cpu_times())
                db_cpu = cpu_since(pg0, pg_backend_cpu(built.dbname)) if built.dbname else None
                over, twice = invariants_since(built, last)
                lat = got["latencies"]
                pairs = len(lat)
                if not pairs:
                    raise RuntimeError(f"no pair done ({got['errors']} errors, {got['dry']} dry)")
                p50, p99 = lat[pairs // 2], lat[max(0, int(pairs * 0.99) - 1)]
                within = p99 * 1000 <= P99_LIMIT_MS and not over and not twice
                note = []
                if got["errors"]:
                    note.append(f"{got['errors']} errors")
                if got["dry"]:
                    note.append(f"queue ran dry {got['dry']}×")
                emit(
                    "claims",
                    [
                        built.backend,
                        f"{args.tasks:,}",
                        workers,
                        count,
                        f"{pairs / args.seconds:.0f}",
                        ms(p50),
                        ms(p99),
                        f"**{server_cpu / pairs * 1000:.2f}**",
                        f"{idle * 100:.1f} %",
                        f"{db_cpu / pairs * 1000:.2f}" if db_cpu is not None else "–",
                        f"{got['cpu'] / pairs * 1000:.2f}",
                        f"{busy * 100:.0f} %",
                        f"{over} / {twice}",
                        ("**within**" if within else "over")
                        + (f" ({', '.join(note)})" if note else ""),
                        row_command(
                            args, built.backend, phases="claims", workers=workers, annotators=count
                        ),
                    ],
                )
        finally:
            server.stop()


# -- the quality page ---------------------------------------------------------------------

RECOMPUTE = """
import json, sys, time
from labelhouse.db.engine import open_database
from labelhouse.quality_report import service as quality
db = open_database(sys.argv[1])
cpu, wall = time.process_time(), time.perf_counter()
state = quality.refresh_analysis(db, int(sys.argv[2]), sys.argv[3])
cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
with open("/proc/self/status") as status:  # VmHWM: this process's own high-water mark
    hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({"cpu": cpu, "wall": wall, "rss": hwm * 1024, "fresh": state.fresh}))
"""


def recompute(built: Built, method: str) -> dict[str, Any]:
    """What the background job runs, in a process of its own (for its peak RSS)."""
    out = subprocess.run(
        [sys.executable, "-c", RECOMPUTE, built.url, str(built.project), method],
        env={**built.env, "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT / "src"))},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"recompute failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def answers(built: Built) -> int:
    engine = create_engine(built.url)
    with engine.connect() as c:
        n = c.execute(
            text("SELECT count(*) FROM annotation WHERE project_id = :p"), {"p": built.project}
        ).scalar_one()
    engine.dispose()
    return int(n)


def forget_analysis(built: Built) -> None:
    from labelhouse.db.engine import open_database
    from labelhouse.quality_report import stored

    db = open_database(built.url)
    with db.session() as s:
        stored.forget(s, built.project)
    db.dispose()


def quality_phase(built: Built, args: argparse.Namespace) -> None:
    """The background job's recompute, then the stored report read through the server
    (API and HTML page); with ``--cold-page`` last the first view with nothing stored."""
    method = "majority"
    n_answers = answers(built)
    with niceness(args.measured_nice):
        job = recompute(built, method)
        server = Server(built.env, 1)
    try:
        token = token_for(built.env, OWNER, server.base)
        api = httpx.Client(
            base_url=server.base, headers={"authorization": f"Bearer {token}"}, timeout=900
        )
        login = httpx.post(
            server.base + "/api/auth/login", json={"email": OWNER, "password": PASSWORD}
        )
        page = httpx.Client(base_url=server.base, cookies=login.cookies, timeout=900)
        reads = {}
        for name, client, path in (
            ("API", api, f"/api/projects/{built.project}/quality"),
            ("page", page, f"/projects/{built.project}/quality"),
        ):
            walls, cpus, db_cpus = [], [], []
            for _ in range(5):
                cpu0 = server.cpu_seconds()
                db0 = pg_backend_cpu(built.dbname) if built.dbname else {}
                t0 = time.perf_counter()
                r = client.get(path)
                walls.append(time.perf_counter() - t0)
                cpus.append(server.cpu_seconds() - cpu0)
                if built.dbname:
                    db_cpus.append(cpu_since(db0, pg_backend_cpu(built.dbname)))
                if r.status_code != 200:
                    raise RuntimeError(f"{path}: {r.status_code} {r.text[:300]}")
            # CPU as the mean of the five (/proc counts in 10 ms ticks), wall as the median
            db_cpu = f"{sum(db_cpus) / 5 * 1000:.0f} ms" if db_cpus else "–"
            reads[name] = (statistics.median(walls), sum(cpus) / 5, db_cpu)
        cold = "–"
        if args.cold_page:  # no stored analysis: the first view computes it in the request
            forget_analysis(built)
            cpu0 = server.cpu_seconds()
            t0 = time.perf_counter()
            r = page.get(f"/projects/{built.project}/quality")
            cold = (
                f"{time.perf_counter() - t0:.1f} s (HTTP {r.status_code}, server CPU "
                f"{server.cpu_seconds() - cpu0:.1f} s)"
            )
        api.close()
        page.close()
    finally:
        server.stop()
    for name, (wall, cpu, db_cpu) in reads.items():
        emit(
            "quality",
            [
                built.backend,
                f"{args.tasks:,}",
                f"{n_answers:,}",
                name,
                f"{wall * 1000:.0f} ms",
                f"{cpu * 1000:.0f} ms",
                db_cpu,
                f"{job['cpu']:.1f} / {job['wall']:.1f} s, {job['rss'] / 1e6:.0f} MB",
                cold if name == "page" else "–",
                "**within**" if wall <= PAGE_LIMIT_S else "over",
                row_command(args, built.backend, phases="quality"),
            ],
        )


# -- main ---------------------------------------------------------------------------------

HEADERS = {
    "import": "| database | tasks | tasks/s | wall s | command CPU s | PostgreSQL backend CPU s"
    " | peak RSS MB | database GB after | command |",
    "claims": "| database | tasks | workers | annotators | pairs/s | p50 ms | p99 ms"
    " | server CPU ms/pair | server idle CPU | database CPU ms/pair | load generator CPU ms/pair | machine busy"
    " | over-assigned / twice | p99 ≤ 100 ms | command |",
    "quality": "| database | tasks | answers | read | median wall | server CPU per read"
    " | database CPU per read | recompute (background job) CPU / wall, peak RSS | first view, nothing stored"
    " | ≤ 1 s | command |",
}


def run(data: Path, args: argparse.Namespace) -> None:
    """Every database's import first (the figures most wanted if a long run is cut short),
    then their finished parts (at the same time), then on each in turn the quality reads and
    the claims."""
    with ExitStack() as stack:
        built = []
        for backend in args.backends:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=args.tmp)))
            url = dbname = None
            if backend == "postgresql":
                url, dbname = stack.enter_context(scratch_pg_database("lh_envelope"))
            built.append(import_phase(backend, url, dbname, tmp, data, args))
        if not {"claims", "quality"} & set(args.phases):
            return
        # Setup, not measured: the databases' finished parts are written at the same time
        # (one in a PostgreSQL backend, one in SQLite's C code, which releases the GIL).
        with ThreadPoolExecutor(len(built)) as pool:
            list(pool.map(lambda one: prepare(one, args), built))
        for one in built:
            # the quality reads first: a run cut short loses the last claims cells, not them
            for phase, measure in (("quality", quality_phase), ("claims", claims_phase)):
                if phase in args.phases:
                    try:
                        measure(one, args)
                    except Exception as exc:  # a long run goes on with the next part
                        print(f"{one.backend} {phase} failed: {exc!r}", file=sys.stderr)
                        emit(phase, [one.backend, f"{args.tasks:,}", f"failed: {exc}"[:300]])


def prepare(one: Built, args: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    past = people(one, max(args.annotators))
    n, seconds = finish_most(one, args.done, past)
    print(
        f"{time.strftime('%H:%M:%S')} {one.backend}: {n:,} tasks finished in SQL in "
        f"{seconds:.0f} s, people in {time.perf_counter() - t0 - seconds:.0f} s",
        file=sys.stderr,
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=DEFAULTS["tasks"])
    parser.add_argument("--backends", nargs="+", choices=["postgresql", "sqlite"],
                        default=["postgresql", "sqlite"])  # fmt: skip
    parser.add_argument("--phases", nargs="+", choices=["import", "claims", "quality"],
                        default=["import", "claims", "quality"])  # fmt: skip
    parser.add_argument("--done", type=float, default=DEFAULTS["done"],
                        help="share of the tasks finished before the claims")  # fmt: skip
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--annotators", type=int, nargs="+", default=[8, 64, 200])
    parser.add_argument("--seconds", type=float, default=DEFAULTS["seconds"], help="per cell")
    parser.add_argument("--think", type=float, default=DEFAULTS["think"],
                        help="mean pause between an annotator's pairs, s (0: none)")  # fmt: skip
    parser.add_argument("--clients", type=int, default=4, help="load-generator processes")
    parser.add_argument("--client-nice", type=int, default=10)
    parser.add_argument("--measured-nice", type=int, default=None,
                        help="niceness of the measured processes (import, server, recompute) "
                        "when this script runs niced, e.g. 0 under `nice -n 19` as root")  # fmt: skip
    parser.add_argument("--cold-page", action="store_true",
                        help="also time the first quality view with nothing stored")  # fmt: skip
    parser.add_argument("--tmp", default=None, help="folder for the task file and databases")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.tmp, prefix="lh-envelope-") as tmp:
        data = Path(tmp) / "tasks.jsonl"
        t0 = time.perf_counter()
        make_file(data, args.tasks, "t")
        print(
            f"task file: {args.tasks:,} rows, {data.stat().st_size / 1e9:.2f} GB in "
            f"{time.perf_counter() - t0:.0f} s",
            file=sys.stderr,
            flush=True,
        )
        try:
            run(data, args)
        finally:
            print_tables()


def print_tables() -> None:
    """The tables measured so far, ready to paste (also after a failure part-way)."""
    for table, header in HEADERS.items():
        if ROWS[table]:
            print(f"\n{header}\n|" + "---|" * (header.count(" | ") + 1))
            print("\n".join(ROWS[table]), flush=True)


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main, http=True)
