"""PostgreSQL stalled, then cut, under annotators: what do they get, and how fast?

The app (uvicorn, in this process) talks to a scratch PostgreSQL database through a TCP
proxy (tests/tcp_proxy.py). Annotator threads run next + submit over keep-alive HTTP while
the proxy forwards normally, stalls (bytes stop, sockets stay open: a frozen server or a
black-holed network) for ``--stall`` seconds, forwards again, cuts every connection and
refuses new ones for ``--down`` seconds, and forwards again. A health poller watches
``/api/health`` throughout. Printed per phase: requests, answers by status, latency p50 /
p99 / max; the longest any request waited; how long after each resume the first
annotation was saved, and when health changed.

    .venv/bin/python bench/bench_db_outage.py                          # 30 s stall
    .venv/bin/python bench/bench_db_outage.py --statement-timeout 0    # as before: no timeouts

``--statement-timeout 0`` turns the statement timeout (and the client-side deadline) off,
which is how the app behaved before issue 12: every request waits out the stall.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import socket
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from sqlalchemy import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tests.factories import add_member, make_org, make_project
from tests.tcp_proxy import TcpProxy

from common import migrated_database
from labelhouse.accounts import passwords
from labelhouse.accounts import service as accounts
from labelhouse.config import Settings
from labelhouse.storage import LocalStorage
from labelhouse.tasks.importer import import_tasks
from labelhouse.web.app import create_app

Record = tuple[float, float, str, str]  # (start, seconds, phase, outcome)


class Timeline:
    def __init__(self) -> None:
        self.phase = "normal"
        self.records: list[Record] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.saved_at: list[float] = []  # when an annotation was saved
        self.health: list[tuple[float, int]] = []

    def add(self, start: float, phase: str, outcome: str) -> None:
        """A request that started in ``phase`` at ``start`` ended now with ``outcome``."""
        with self.lock:
            self.records.append((start, time.monotonic() - start, phase, outcome))


def annotator(address: tuple[str, int], token: str, pid: int, timeline: Timeline) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection(*address, timeout=120)

    def call(path: str, body: bytes = b"") -> tuple[int, Any, str | None]:
        nonlocal conn
        start, phase = time.monotonic(), timeline.phase
        try:
            conn.request("POST", path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException):
            timeline.add(start, phase, "connection closed")
            conn.close()
            conn = http.client.HTTPConnection(*address, timeout=120)
            return 0, None, None
        parsed = json.loads(data) if data else None
        code = parsed["error"]["code"] if r.status >= 400 and parsed else ""
        timeline.add(start, phase, f"{r.status} {code}".strip())
        return r.status, parsed, r.getheader("retry-after")

    while not timeline.stop.is_set():
        status, body, retry = call(f"/api/projects/{pid}/next")
        if status == 200 and body["task"] is not None:
            status, body, retry = call(
                f"/api/tasks/{body['task']['id']}/annotations",
                orjson.dumps({"value": {"label": "pos"}}),
            )
            if status in (200, 201):
                with timeline.lock:
                    timeline.saved_at.append(time.monotonic())
        if status != 200 and status != 201:
            time.sleep(min(float(retry or 1), 1.0))  # honour Retry-After, briefly


def health_poller(address: tuple[str, int], timeline: Timeline) -> None:
    while not timeline.stop.is_set():
        conn = http.client.HTTPConnection(*address, timeout=30)
        try:
            conn.request("GET", "/api/health")
            status = conn.getresponse().status
        except (OSError, http.client.HTTPException):
            status = 0
        conn.close()
        timeline.health.append((time.monotonic(), status))
        time.sleep(0.25)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stall", type=float, default=30.0)
    parser.add_argument("--down", type=float, default=5.0)
    parser.add_argument("--annotators", type=int, default=8)
    parser.add_argument("--statement-timeout", type=float, default=15.0)
    parser.add_argument("--tasks", type=int, default=30_000)
    args = parser.parse_args()
    passwords.use_profile("cheapest")

    with (
        migrated_database("postgresql", "outage") as url,
        TcpProxy(make_url(url).host or "127.0.0.1", make_url(url).port or 5432) as proxy,
    ):
        through = make_url(url).set(host="127.0.0.1", port=proxy.port)
        data_dir = Path(f"/tmp/labelhouse-outage-{proxy.port}")
        settings = Settings(
            data_dir=data_dir,
            database_url=through.render_as_string(hide_password=False),
            password_hash_profile="cheapest",
            db_statement_timeout=args.statement_timeout,
        )
        app = create_app(settings, storage=LocalStorage(settings.resolved_storage_dir))
        db = app.state.db
        owner = make_org(db)
        pid = make_project(db, owner)
        rows = b"".join(orjson.dumps({"text": f"row {i}"}) + b"\n" for i in range(args.tasks))
        with db.session() as s:
            import_tasks(s, owner.actor, pid, io.BytesIO(rows), filename="t.jsonl")
        tokens = []
        for _ in range(args.annotators):
            member = add_member(db, owner)
            with db.session() as s:
                tokens.append(accounts.create_api_token(s, member.actor, name="bench")[1])

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        address = sock.getsockname()
        server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
        threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
        while not server.started:
            time.sleep(0.01)

        timeline = Timeline()
        threads = [
            threading.Thread(target=annotator, args=(address, t, pid, timeline), daemon=True)
            for t in tokens
        ] + [threading.Thread(target=health_poller, args=(address, timeline), daemon=True)]
        for t in threads:
            t.start()
        marks: dict[str, float] = {}

        def phase(name: str, seconds: float, action: Any = None) -> None:
            if action is not None:
                action()
            marks[name] = time.monotonic()
            timeline.phase = name
            print(f"{name} for {seconds:g} s", file=sys.stderr)
            time.sleep(seconds)

        phase("normal", 5)
        phase("stalled", args.stall, proxy.stall)
        phase("resumed", 5, proxy.resume)
        phase("cut", args.down, proxy.cut)
        phase("back", 5, proxy.resume)
        timeline.stop.set()
        for t in threads:
            t.join(args.stall + 60)
        server.should_exit = True
        db.dispose()

    print(
        f"PostgreSQL through a proxy; {args.annotators} annotators; statement timeout "
        f"{args.statement_timeout:g} s; stall {args.stall:g} s; down {args.down:g} s"
    )
    print(f"{'phase':<10}{'requests':>9}  {'answers':<44}{'p50 ms':>8}{'p99 ms':>9}{'max s':>8}")
    for name in ("normal", "stalled", "resumed", "cut", "back"):
        mine = [r for r in timeline.records if r[2] == name]
        seconds = [r[1] for r in mine]
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(Counter(r[3] for r in mine).items()))
        print(
            f"{name:<10}{len(mine):>9}  {answers:<44}{percentile(seconds, 0.5) * 1000:>8.0f}"
            f"{percentile(seconds, 0.99) * 1000:>9.0f}{max(seconds, default=0):>8.1f}"
        )
    for resumed in ("resumed", "back"):
        first = next((t for t in timeline.saved_at if t >= marks[resumed]), None)
        after = f"{first - marks[resumed]:.2f} s" if first else "never"
        print(f"first annotation saved after '{resumed}': {after}")
    for fault in ("stalled", "cut"):
        down = next((t for t, s in timeline.health if t >= marks[fault] and s == 503), None)
        print(
            f"health 503 after the start of '{fault}': "
            + (f"{down - marks[fault]:.2f} s" if down else "never")
        )
    back = next((t for t, s in timeline.health if t >= marks["back"] and s == 200), None)
    print(
        "health 200 again after 'back': " + (f"{back - marks['back']:.2f} s" if back else "never")
    )
    stalled = [r[1] for r in timeline.records if r[2] == "stalled"]
    print(f"longest request started during the stall: {max(stalled, default=0):.1f} s")


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main, http=True)
