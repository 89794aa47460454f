"""Where the server's CPU goes in one next+submit pair, request path included.

    .venv/bin/python bench/profile_requests.py [--pairs 2000] [--pg URL] [--top 25] [--one-trip]

``profile_hot_path.py`` times the service calls alone; this drives the whole ASGI app
(middleware, routing, the bearer-token identity, JSON body and Pydantic validation, the
kind's value check, SQLAlchemy, serialisation, audit, logging) in-process, on one thread —
FastAPI's hand-off of sync endpoints to a worker thread is made inline, so cProfile sees
everything — exactly as an annotator's two requests (``POST /next``, ``POST
/tasks/{id}/annotations``) go through it, minus uvicorn's HTTP parsing (the bare app's floor,
``http_cpu_ms`` in bench/conditions.py). Prints CPU ms per pair without the profiler, then a
breakdown under cProfile: the request's stages (inclusive time of their entry functions)
and the libraries (self time), each scaled to the unprofiled CPU per pair.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio.to_thread
import orjson
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.factories import add_member, make_org, make_project

from labelhouse.accounts import passwords
from labelhouse.accounts import service as accounts
from labelhouse.config import Settings
from labelhouse.db import migrate
from labelhouse.db.engine import open_database
from labelhouse.tasks.importer import import_tasks
from labelhouse.web.app import create_app


async def _inline(func: Any, *args: Any, **_: Any) -> Any:
    return func(*args)


# The stages of a request: (label, the functions whose inclusive time it is). Nested stages
# are listed after the ones they sit in, indented, and are part of them.
STAGES: list[tuple[str, list[tuple[str, str]]]] = [
    ("whole request (ASGI app)", [("fastapi/applications.py", "__call__")]),
    (
        "  FastAPI dependencies and parameters",
        [("fastapi/dependencies/utils.py", "solve_dependencies")],
    ),
    (
        "  lean routes: parameters and body, as FastAPI reads them",
        [("labelhouse/web/api/lean_routes.py", "_arguments")],
    ),
    (
        "  middleware, self time (ours + Starlette's)",
        [
            ("labelhouse/web/middleware.py", "*"),
            ("starlette/middleware/errors.py", "*"),
            ("starlette/middleware/exceptions.py", "*"),
        ],
    ),
    (
        "    request JSON parse + Pydantic body",
        [
            ("fastapi/routing.py", "_extract_endpoint_context"),
            ("fastapi/dependencies/utils.py", "request_body_to_args"),
            ("starlette/requests.py", "json"),
        ],
    ),
    (
        "    endpoint: unit of work and response (sync)",
        [
            # the endpoint functions (a worker thread's way, and every way before session
            # 11), or their two steps (the lean route's way on the event loop): the larger
            ("|", ""),
            ("labelhouse/web/api/tasks.py", "next_task"),
            ("labelhouse/web/api/tasks.py", "save_annotation"),
            ("|", ""),
            ("labelhouse/web/api/tasks.py", "lease_next"),
            ("labelhouse/web/api/tasks.py", "submit"),
            ("labelhouse/web/api/tasks.py", "response"),
        ],
    ),
    ("      identity (token → actor, cached)", [("labelhouse/web/deps.py", "_actor")]),
    (
        "      unit of work (session open/commit)",
        [("labelhouse/db/engine.py", "session"), ("labelhouse/db/engine.py", "hot_session")],
    ),
    ("      claim (queue.claim_next)", [("labelhouse/tasks/queue.py", "claim_next")]),
    ("      predictions of the task", [("labelhouse/tasks/service.py", "predictions_of_task")]),
    ("      /next payload (claim included)", [("labelhouse/web/api/tasks.py", "next_payload")]),
    ("      annotations.save", [("labelhouse/annotations/service.py", "save")]),
    ("        kind value validation", [("labelhouse/kinds/registry.py", "validate_annotation")]),
    ("        audit writes", [("labelhouse/audit/service.py", "record")]),
    (
        "      submit write (idempotency wrapper + save)",
        [("labelhouse/annotations/idempotency.py", "run_once")],
    ),
    (
        "      serialisation (task_out, json_response)",
        [
            ("labelhouse/web/api/serializers.py", "task_out"),
            ("labelhouse/web/api/serializers.py", "json_response"),
            ("labelhouse/web/api/serializers.py", "annotation_out"),
        ],
    ),
    (
        "      commit (SQLAlchemy + SQLite/PostgreSQL)",
        [("sqlalchemy/orm/session.py", "commit"), ("sqlalchemy/engine/base.py", "commit")],
    ),
    (
        "      SQLAlchemy statement execution (all)",
        [("sqlalchemy/engine/base.py", "_execute_clauseelement")],
    ),
    ("        of which the driver's execute", [("sqlalchemy/engine/default.py", "do_execute")]),
    (
        "      statements on the DBAPI cursor (db/prepared.py), all",
        [("labelhouse/db/prepared.py", "execute")],
    ),
]
LIBRARIES = [
    ("SQLAlchemy (Core + ORM)", "sqlalchemy/"),
    ("database driver", "sqlite3"),
    ("database driver", "psycopg"),
    ("FastAPI", "fastapi/"),
    ("Starlette", "starlette/"),
    ("Pydantic", "pydantic"),
    ("logging", "logging/"),
    ("orjson / json", "orjson"),
    ("orjson / json", "json/"),
    ("labelhouse", "labelhouse/"),
]


def _stage_time(stats: pstats.Stats, entries: list[tuple[str, str]]) -> float:
    if entries and entries[0][0] == "|":  # alternatives, each after a "|": the largest
        groups: list[list[tuple[str, str]]] = []
        for entry in entries:
            if entry[0] == "|":
                groups.append([])
            else:
                groups[-1].append(entry)
        return max(_stage_time(stats, group) for group in groups)
    total = 0.0
    for (file, _line, name), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        for f, n in entries:
            if file.endswith(f) and n == "*":
                total += _tt
            elif file.endswith(f) and name == n:
                total += ct
    return total


def _library_times(stats: pstats.Stats) -> dict[str, float]:
    out: dict[str, float] = {}
    for (file, _line, name), (_cc, _nc, tt, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        where = file if file != "~" else name
        label = next((lab for lab, mark in LIBRARIES if mark in where), "other (stdlib, asyncio)")
        out[label] = out.get(label, 0.0) + tt
    return out


def _over_http(tmp: Path, url: str, secret: str, pid: int, pairs: int) -> None:
    """The same pairs through a real ``labelhouse serve`` (uvicorn, one worker, its job and
    checkpoint threads), one annotator at a time: server CPU per pair over HTTP."""
    from bench_core import LightClient, Server

    env = {**os.environ, "LABELHOUSE_DATA_DIR": str(tmp), "LABELHOUSE_DATABASE_URL": url}
    server = Server(env, 1)
    try:
        time.sleep(1)
        c0 = server.cpu_seconds()
        time.sleep(5)
        idle = (server.cpu_seconds() - c0) / 5 * 1000
        client = LightClient(server.base, secret)
        answer = {"value": {"label": "pos"}, "lead_time_ms": 900}

        def run(k: int) -> None:
            for _ in range(k):
                task = client.post(f"/api/projects/{pid}/next")["task"]
                client.post(f"/api/tasks/{task['id']}/annotations", answer)

        run(50)
        c0, t0 = server.cpu_seconds(), time.perf_counter()
        run(pairs // 2)
        wall = time.perf_counter() - t0
        cpu = (server.cpu_seconds() - c0 - idle / 1000 * wall) / (pairs // 2) * 1000
        client.close()
    finally:
        server.stop()
    print(f"over HTTP (labelhouse serve, one annotator): {cpu:.3f} server CPU ms per pair "
          f"(idle server's own {idle:.2f} ms CPU per second subtracted)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--pg", metavar="URL", help="an empty PostgreSQL database")
    parser.add_argument("--top", type=int, default=0, help="also print cProfile's top N")
    parser.add_argument("--sql", action="store_true", help="print one pair's SQL statements")
    parser.add_argument(
        "--one-trip",
        action="store_true",
        help="a pair is one request: submit with ?next=1 (the annotate page's way)",
    )
    parser.add_argument(
        "--server",
        action="store_true",
        help="also serve the same database with `labelhouse serve` and time one annotator's "
        "pairs over HTTP (server CPU per pair, and the idle server's CPU per second)",
    )
    args = parser.parse_args()
    anyio.to_thread.run_sync = _inline  # type: ignore[assignment]
    tmp = Path(tempfile.mkdtemp(prefix="lh-profile-"))
    url = args.pg or f"sqlite:///{tmp}/hot.db"
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    settings = Settings(data_dir=tmp, database_url=url, password_hash_profile="cheapest")
    passwords.use_profile("cheapest")
    db = open_database(url)
    owner = make_org(db)
    pid = make_project(db, owner)
    n = args.pairs * 2 + 200
    rows = b"".join(orjson.dumps({"text": f"row {i}"}) + b"\n" for i in range(n))
    with db.session() as s:
        import_tasks(s, owner.actor, pid, io.BytesIO(rows), filename="t.jsonl")
    member = add_member(db, owner)
    with db.session() as s:
        _, secret = accounts.create_api_token(s, member.actor, name="profile")
    app = create_app(settings)
    head = [
        (b"host", b"127.0.0.1:8000"),
        (b"authorization", f"Bearer {secret}".encode()),
        (b"content-type", b"application/json"),
    ]

    async def call(path: str, body: bytes, query: bytes = b"") -> bytes:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": query, "root_path": "",
            "headers": [*head, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
        }  # fmt: skip
        sent = False
        out: list[bytes] = []
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            else:
                out.append(message.get("body", b""))

        await app(scope, receive, send)
        data = b"".join(out)
        if status >= 400:
            raise RuntimeError(f"{path}: {status} {data[:300]!r}")
        return data

    answer = orjson.dumps({"value": {"label": "pos"}, "lead_time_ms": 900})

    held: list[dict[str, Any]] = []  # --one-trip: the task the last submit leased

    async def pairs(k: int) -> None:
        for _ in range(k):
            if not args.one_trip:
                task = orjson.loads(await call(f"/api/projects/{pid}/next", b""))["task"]
                await call(f"/api/tasks/{task['id']}/annotations", answer)
                continue
            if not held:
                held.append(orjson.loads(await call(f"/api/projects/{pid}/next", b""))["task"])
            out = await call(f"/api/tasks/{held[0]['id']}/annotations", answer, b"next=1")
            held[0] = orjson.loads(out)["next"]["task"]

    loop = asyncio.new_event_loop()
    loop.run_until_complete(pairs(100))
    if args.sql:
        statements: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements.append(" ".join(statement.split())[:300])

        event.listen(Engine, "before_cursor_execute", seen)
        loop.run_until_complete(pairs(1))
        event.remove(Engine, "before_cursor_execute", seen)
        print(f"{len(statements)} statements in one pair:")
        print("\n".join(f"  {i + 1:2}. {q}" for i, q in enumerate(statements)))
    half = args.pairs // 2
    c0 = time.process_time()
    loop.run_until_complete(pairs(half))
    cpu_ms = (time.process_time() - c0) / half * 1000
    print(f"backend: {'postgresql' if args.pg else 'sqlite'}")
    how = "one request (submit with ?next=1)" if args.one_trip else "two requests"
    print(f"server CPU ms per next+submit pair, in-process, no profiler: {cpu_ms:.3f}  ({how})")
    # CPU time, not wall time: on PostgreSQL a request mostly waits for the server's reply.
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    loop.run_until_complete(pairs(args.pairs - half))
    profiler.disable()
    stats = pstats.Stats(profiler)
    whole = _stage_time(stats, STAGES[0][1]) or 1.0
    scale = cpu_ms / whole  # profiled seconds per pair → unprofiled ms per pair

    print(f"\n{'stage (inclusive; indented ones are inside the one above)':58} ms/pair   share")
    for label, entries in STAGES:
        t = _stage_time(stats, entries)
        print(f"{label:58} {t * scale:7.3f}  {t / whole:6.1%}")
    print(f"\n{'library (self time)':58} ms/pair   share")
    libs = _library_times(stats)
    total = sum(libs.values()) or 1.0
    for label, t in sorted(libs.items(), key=lambda kv: -kv[1]):
        print(f"{label:58} {t / total * cpu_ms:7.3f}  {t / total:6.1%}")
    if args.server:
        _over_http(tmp, url, secret, pid, args.pairs)
    if os.environ.get("PROFILE_OUT"):
        stats.dump_stats(os.environ["PROFILE_OUT"])
    if args.top:
        stats.sort_stats(os.environ.get("SORT", "cumulative")).print_stats(args.top)
    loop.close()


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main, http=True)
