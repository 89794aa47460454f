"""Soak: many annotators against PostgreSQL and several workers while things break.

200 annotators (asyncio, spread over a few client processes) do next + submit against
``labelhouse serve --workers 4`` on a private PostgreSQL database for 10 minutes. Every
minute one worker process is killed with SIGKILL (the supervisor starts a new one), and
once, half-way, every database connection of the app is terminated
(``pg_terminate_backend``). A submit that fails in transit (connection lost, 503) is
retried with the same ``Idempotency-Key``, as the annotate page does.

At the end the database is checked against what clients were told:

* lost: a submit acknowledged with 2xx whose annotation is not in the database;
* duplicated: an annotation with more than one revision, or whose lead time is not the one
  sent (a retried submit counted twice);
* over-assigned: a task with more submitted annotations than the project's overlap.

All three must be 0. It also prints the error rate (responses that were not 2xx, and
connections lost, over all requests), pair latency p50/p99 and pairs/s, and beside them the
CPU per pair of the server (every serve process, the killed ones included), of the
database's backends and of the load generator itself.

    .venv/bin/python bench/bench_soak.py                       # 200 annotators, 10 minutes
    .venv/bin/python bench/bench_soak.py --annotators 50 --minutes 2 --kill-every 30

PostgreSQL: LABELHOUSE_BENCH_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import Any

import orjson
import psutil
from sqlalchemy import create_engine, text

from bench_import import BackendCpu
from common import (
    LABELHOUSE,
    SCHEMA,
    cpu_since,
    pg_backend_cpu,
    scratch_pg_database,
    tree_cpu_seconds,
    wait_for_health,
)

LEAD_TIME_MS = 1000
RETRIES = 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(url: str, n_tasks: int, n_annotators: int, overlap: int) -> tuple[int, list[str]]:
    """Owner, project, tasks and annotators with API tokens, in-process. Returns
    (project id, one token per annotator)."""
    from sqlalchemy import select

    from labelhouse.accounts import service as accounts
    from labelhouse.accounts.models import Membership, Role
    from labelhouse.accounts.policy import Actor
    from labelhouse.db import migrate
    from labelhouse.db.engine import open_database
    from labelhouse.people.project_members import add_people
    from labelhouse.projects.service import create_project
    from labelhouse.tasks.importer import import_tasks

    db = open_database(url)
    migrate.upgrade(db.engine)
    tokens: list[str] = []
    with db.session() as s:
        owner, _ = accounts.bootstrap_owner(s, email="owner@soak.local", organization_name="Soak")
        owner_id = owner.id
    with db.session() as s:
        org_id = s.scalar(select(Membership.organization_id).where(Membership.user_id == owner_id))
        actor = Actor(user_id=owner_id, organization_id=org_id, role=Role.owner)
        project = create_project(
            s, actor, name="soak", schema=SCHEMA, overlap=overlap, lease_seconds=120
        )
        lines = b"".join(
            orjson.dumps(
                {"external_id": f"s{i}", "text": f"Soak item {i}: fine, shipped in {i % 9} days."},
                option=orjson.OPT_APPEND_NEWLINE,
            )
            for i in range(n_tasks)
        )
        import_tasks(s, actor, project.id, io.BytesIO(lines), filename="soak.jsonl")
        project_id = project.id
    emails = [f"a{i}@soak.local" for i in range(n_annotators)]
    with db.session() as s:
        users = [
            accounts.create_user(
                s,
                email=e,
                password="soak-password-123",
                organization_id=org_id,
                role=Role.annotator,
            )
            for e in emails
        ]
        for start in range(0, len(emails), 100):
            add_people(s, actor, project_id, emails=emails[start : start + 100], role="annotator")
        for user in users:
            _, secret = accounts.create_api_token(
                s,
                Actor(user_id=user.id, organization_id=org_id, role=Role.annotator),
                name="soak",
            )
            tokens.append(secret)
    db.dispose()
    return project_id, tokens


class Conn:
    """A keep-alive HTTP/1.1 connection on asyncio streams (cheap for the load generator)."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.head = (
            f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\n"
        )
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(
        self, path: str, body: object = None, headers: str = ""
    ) -> tuple[int, dict[str, Any], float]:
        """(status, JSON body, Retry-After seconds); raises OSError/IncompleteReadError when
        the connection is lost."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        payload = orjson.dumps(body) if body is not None else b""
        self.writer.write(
            f"POST {path} HTTP/1.1\r\n{self.head}{headers}Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length, retry_after, close = 0, 0.0, False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"retry-after":
                    retry_after = float(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            data = await self.reader.readexactly(length) if length else b""
        except BaseException:
            self.drop()
            raise
        if close:
            self.drop()
        return status, (orjson.loads(data) if data else {}), retry_after

    def drop(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Tally:
    def __init__(self) -> None:
        self.requests = 0
        self.errors: dict[str, int] = {}
        self.latencies: list[float] = []
        self.acked: list[tuple[int, int]] = []  # (task id, annotator index)
        self.refused = 0  # submits answered 4xx (e.g. a lease given to someone else)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def call(conn: Conn, tally: Tally, path: str, body: object = None, headers: str = ""):
    """One request, retried on 503 and on lost connections; returns (status, body) or None
    when it kept failing."""
    for _ in range(RETRIES):
        tally.requests += 1
        try:
            status, data, retry_after = await conn.post(path, body, headers)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            tally.error("connection lost")
            await asyncio.sleep(0.2 + random.random() * 0.3)
            continue
        if status >= 500:
            tally.error(f"{status} {data.get('code', '')}".strip())
            await asyncio.sleep(min(retry_after or 0.5, 5) * (0.5 + random.random()))
            continue
        if status >= 400:
            tally.error(f"{status} {data.get('code', '')}".strip())
        return status, data
    return None


async def annotator(
    index: int, port: int, token: str, project_id: int, stop_at: float, think: float, tally: Tally
) -> None:
    conn = Conn(port, token)
    await asyncio.sleep(random.random() * think)
    while time.monotonic() < stop_at:
        t0 = time.perf_counter()
        got = await call(conn, tally, f"/api/projects/{project_id}/next")
        if got is None or got[0] != 200:
            continue
        task = got[1].get("task")
        if task is None:
            await asyncio.sleep(1)
            continue
        key = f"Idempotency-Key: {uuid.uuid4()}\r\n"
        got = await call(
            conn,
            tally,
            f"/api/tasks/{task['id']}/annotations",
            {"value": {"label": "pos"}, "lead_time_ms": LEAD_TIME_MS},
            key,
        )
        if got is not None and 200 <= got[0] < 300:
            tally.acked.append((task["id"], index))
            tally.latencies.append(time.perf_counter() - t0)
        elif got is not None:
            tally.refused += 1
        await asyncio.sleep(think * random.random() * 2)
    conn.drop()


def client_process(args: tuple[int, list[tuple[int, str]], int, float, float]) -> dict[str, Any]:
    port, annotators, project_id, seconds, think = args
    tally = Tally()
    cpu0 = time.process_time()

    async def main() -> None:
        stop_at = time.monotonic() + seconds
        await asyncio.gather(
            *(annotator(i, port, t, project_id, stop_at, think, tally) for i, t in annotators)
        )

    asyncio.run(main())
    return {
        "requests": tally.requests,
        "errors": tally.errors,
        "latencies": tally.latencies,
        "acked": tally.acked,
        "refused": tally.refused,
        "cpu": time.process_time() - cpu0,
    }


def worker_pids(port: int, supervisor: int) -> list[int]:
    """The supervisor's child processes that hold the listening socket."""
    out = []
    for child in psutil.Process(supervisor).children(recursive=True):
        try:
            if any(c.laddr and c.laddr.port == port for c in child.net_connections("tcp")):
                out.append(child.pid)
        except psutil.Error:
            pass
    return out


def chaos(
    port: int,
    supervisor: int,
    admin_url: str,
    dbname: str,
    seconds: float,
    kill_every: float,
    log: list[str],
    stop: threading.Event,
) -> None:
    start = time.monotonic()
    cut_at = start + seconds / 2
    next_kill = start + kill_every
    cut_done = False
    while not stop.wait(0.5):
        now = time.monotonic()
        if now >= next_kill:
            pids = worker_pids(port, supervisor)
            if pids:
                victim = random.choice(pids)
                os.kill(victim, signal.SIGKILL)
                log.append(f"{now - start:6.1f}s killed worker {victim}")
            next_kill += kill_every
        if not cut_done and now >= cut_at:
            engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
            with engine.connect() as c:
                n = c.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = :d AND pid <> pg_backend_pid()"
                    ),
                    {"d": dbname},
                ).scalar()
            engine.dispose()
            log.append(f"{now - start:6.1f}s terminated {n} database connections")
            cut_done = True


def verify(url: str, acked: set[tuple[int, int]]) -> tuple[int, int, int, int]:
    engine = create_engine(url)
    with engine.connect() as c:
        submitted = {
            (task_id, user_id)
            for task_id, user_id in c.execute(
                text("SELECT task_id, user_id FROM annotation WHERE status = 'submitted'")
            )
        }
        duplicated = c.execute(
            text("SELECT count(*) FROM annotation WHERE revision > 1 OR lead_time_ms <> :lt"),
            {"lt": LEAD_TIME_MS},
        ).scalar()
        over = c.execute(
            text(
                "SELECT count(*) FROM (SELECT a.task_id FROM annotation a "
                "JOIN project p ON p.id = a.project_id WHERE a.status = 'submitted' "
                "GROUP BY a.task_id, p.overlap HAVING count(*) > p.overlap) x"
            )
        ).scalar()
        user_ids = [
            uid
            for (uid,) in c.execute(
                text("SELECT id FROM user_account WHERE email LIKE 'a%@soak.local' ORDER BY id")
            )
        ]
    engine.dispose()
    # users were created in annotator order, so ids sort the same way
    by_index = dict(enumerate(user_ids))
    lost = sum(1 for task_id, i in acked if (task_id, by_index[i]) not in submitted)
    return lost, duplicated, over, len(submitted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotators", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--kill-every", type=float, default=60, help="seconds")
    parser.add_argument("--think", type=float, default=0.5, help="mean seconds between pairs")
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=4, help="load-generator processes")
    args = parser.parse_args()
    seconds = args.minutes * 60
    admin_url = os.environ.get(
        "LABELHOUSE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    with scratch_pg_database("lh_soak") as (url, dbname), tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        project_id, tokens = seed(url, args.tasks, args.annotators, overlap=2)
        print(
            f"seeded {args.tasks} tasks, {args.annotators} annotators in "
            f"{time.perf_counter() - t0:.0f} s",
            file=sys.stderr,
        )
        port = free_port()
        env = {
            **os.environ,
            "LABELHOUSE_DATA_DIR": tmp,
            "LABELHOUSE_DATABASE_URL": url,
            "LABELHOUSE_OWNER_EMAIL": "owner@soak.local",
        }
        server = subprocess.Popen(
            [LABELHOUSE, "serve", "--port", str(port), "--workers", str(args.workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_for_health(port, server)
            shares = [
                [(i, tokens[i]) for i in range(c, len(tokens), args.clients)]
                for c in range(args.clients)
            ]
            log: list[str] = []
            stop = threading.Event()
            chaos_thread = threading.Thread(
                target=chaos,
                args=(port, server.pid, admin_url, dbname, seconds, args.kill_every, log, stop),
                daemon=True,
            )
            cpu_before = psutil.cpu_times()
            server_before = tree_cpu_seconds(server.pid)
            db_before = pg_backend_cpu(dbname)
            ctx = multiprocessing.get_context("fork")
            # sampled all along: a backend cut by the chaos keeps its CPU up to its last sample
            with BackendCpu(dbname) as db_cpu, ctx.Pool(args.clients) as pool:
                pending = pool.map_async(
                    client_process,
                    [(port, share, project_id, seconds, args.think) for share in shares],
                )
                chaos_thread.start()
                results = pending.get(timeout=seconds + 600)
            stop.set()
            chaos_thread.join()
            cpu_after = psutil.cpu_times()
            # killed workers count too: their supervisor waited for them
            server_cpu = tree_cpu_seconds(server.pid) - server_before
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        requests = sum(r["requests"] for r in results)
        errors: dict[str, int] = {}
        for r in results:
            for kind, n in r["errors"].items():
                errors[kind] = errors.get(kind, 0) + n
        latencies = sorted(x for r in results for x in r["latencies"])
        acked = {tuple(a) for r in results for a in r["acked"]}
        lost, duplicated, over, submitted = verify(url, acked)
        busy = sum(
            getattr(cpu_after, f) - getattr(cpu_before, f) for f in ("user", "system", "nice")
        )
        total = busy + (cpu_after.idle - cpu_before.idle)
        for line in log:
            print(line, file=sys.stderr)
        pairs = len(latencies)
        print(f"annotators            {args.annotators}")
        print(f"workers               {args.workers}")
        print(f"minutes               {args.minutes}")
        print(f"workers killed        {sum('killed' in line for line in log)}")
        print(f"db connections cut    {sum('terminated' in line for line in log)}")
        print(f"acknowledged submits  {len(acked)}")
        print(f"submitted in database {submitted}")
        print(f"lost                  {lost}")
        print(f"duplicated            {duplicated}")
        print(f"over-assigned tasks   {over}")
        print(f"refused submits (4xx) {sum(r['refused'] for r in results)}")
        print(f"requests              {requests}")
        print(
            f"error rate            {100 * sum(errors.values()) / max(requests, 1):.3f} % "
            + (
                "(" + ", ".join(f"{k}: {v}" for k, v in sorted(errors.items())) + ")"
                if errors
                else ""
            )
        )
        print(f"pairs/s               {pairs / seconds:.1f}")
        if pairs:  # the headline: CPU per pair holds on a busy machine, wall-clock does not
            per = 1000 / pairs
            print(f"server CPU ms/pair    {server_cpu * per:.2f}")
            print(f"database CPU ms/pair  {cpu_since(db_before, db_cpu.seen) * per:.2f}")
            print(f"client CPU ms/pair    {sum(r['cpu'] for r in results) * per:.2f}")
        if latencies:
            print(f"pair p50 ms           {1000 * latencies[len(latencies) // 2]:.1f}")
            print(f"pair p99 ms           {1000 * latencies[int(len(latencies) * 0.99) - 1]:.1f}")
        print(f"machine CPU busy      {100 * busy / max(total, 1e-9):.0f} %")
        if lost or duplicated or over:
            sys.exit(1)


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main, http=True)
