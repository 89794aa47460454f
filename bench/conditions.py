"""The conditions a benchmark ran under, and a calibration measured in the same run.

A figure alone cannot be compared across machines (an idle rerun on another machine of
the same kind measured 0.6× the speed of a bare FastAPI app on this one). Every benchmark
prints, beside its figures: CPU model and count, load average before and after, Python,
SQLite and PostgreSQL versions, the commit, and three calibration figures measured by the
same process moments before the benchmark:

- ``py_ms``: a fixed pure-Python workload (dicts, strings, JSON) — the interpreter's speed;
- ``sqlite_ms``: 20,000 inserts in one transaction plus 20,000 indexed point reads on a WAL
  file — the embedded database's speed on this disk;
- ``http_rt_ms`` and ``http_cpu_ms`` (for HTTP benchmarks): the median round trip of a
  bare Starlette app on uvicorn answering ``POST /`` with a small JSON document, driven by
  the same raw-socket client the load generators use, and the server's CPU per request —
  the floor any endpoint of ours stands on.

docs/benchmarks.md quotes figures both as measured and divided by the matching calibration
(e.g. "app CPU per pair = 2.3 × http_rt"), so a figure from another machine is compared
through its own calibration. Run ``python bench/conditions.py`` for the block alone.
"""

from __future__ import annotations

import atexit
import json
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def postgres_version() -> str | None:
    url = os.environ.get(
        "LABELHOUSE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(url, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar()
        engine.dispose()
        return str(version)
    except Exception:  # no PostgreSQL is a condition too, not an error
        return None


def commit() -> str | None:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return out.stdout.strip() or None


def _best_of(runs: int, work: Callable[[], None]) -> float:
    """The median of ``runs`` timings in ms (median, not best: a loaded machine's
    calibration should be as slow as its benchmark)."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        work()
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 2)


def _python_work() -> None:
    rows = [{"id": i, "text": f"item {i}", "tags": [i % 7, i % 11]} for i in range(20_000)]
    encoded = json.dumps(rows)
    decoded = json.loads(encoded)
    index: dict[str, int] = {}
    for row in decoded:
        index[row["text"].upper()] = row["id"] * 2 + len(row["tags"])
    assert len(index) == 20_000


def _sqlite_work() -> None:
    with tempfile.TemporaryDirectory(prefix="lh-calibrate-") as tmp:
        conn = sqlite3.connect(Path(tmp) / "c.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, v TEXT)")
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO t (k, v) VALUES (?, ?)", ((f"k{i}", "x" * 40) for i in range(20_000))
        )
        conn.execute("COMMIT")
        for i in range(0, 20_000):
            conn.execute("SELECT v FROM t WHERE k = ?", (f"k{i}",)).fetchone()
        conn.close()


BARE_APP = """
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def answer(request):
    body = await request.json()
    return JSONResponse({"task": {"id": body.get("id", 1), "data": {"text": "calibration"}}})

app = Starlette(routes=[Route("/", answer, methods=["POST"])])
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_round_trip(requests: int = 2000) -> tuple[float, float] | None:
    """The median round trip of a bare Starlette app on uvicorn (one worker, the same
    HTTP stack as ours), keep-alive, from a raw-socket client; and the server's CPU per
    request (what "server CPU per operation" figures are divided by)."""
    import psutil

    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="lh-calibrate-") as tmp:
        Path(tmp, "bare_app.py").write_text(BARE_APP)
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(port),
             "--log-level", "warning", "--no-access-log"],
            cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            for _ in range(100):
                try:
                    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                    break
                except OSError:
                    time.sleep(0.05)
            else:
                return None
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            payload = b'{"id": 7}'
            request = (
                f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json"
                f"\r\nContent-Length: {len(payload)}\r\n\r\n"
            ).encode() + payload
            times = []
            buffer = b""
            cpu = psutil.Process(server.pid).cpu_times()
            cpu_before = cpu.user + cpu.system
            for _ in range(requests):
                t0 = time.perf_counter()
                sock.sendall(request)
                while True:
                    end = buffer.find(b"\r\n\r\n")
                    if end >= 0:
                        head = buffer[:end].lower()
                        length = int(head.split(b"content-length:")[1].split(b"\r\n")[0])
                        if len(buffer) >= end + 4 + length:
                            buffer = buffer[end + 4 + length :]
                            break
                    buffer += sock.recv(65536)
                times.append((time.perf_counter() - t0) * 1000)
            cpu = psutil.Process(server.pid).cpu_times()
            cpu_ms = (cpu.user + cpu.system - cpu_before) * 1000 / requests
            sock.close()
            return round(statistics.median(times[requests // 10 :]), 3), round(cpu_ms, 3)
        finally:
            server.terminate()
            server.wait(timeout=10)


def calibrate(*, http: bool = False) -> dict[str, float | None]:
    figures: dict[str, float | None] = {
        "py_ms": _best_of(5, _python_work),
        "sqlite_ms": _best_of(5, _sqlite_work),
    }
    if http:
        measured = http_round_trip()
        figures["http_rt_ms"], figures["http_cpu_ms"] = measured or (None, None)
    return figures


def capture(*, http: bool = False) -> dict[str, Any]:
    """The conditions block's first half: the machine, versions and calibration."""
    return {
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "load_before": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres_version(),
        "commit": commit(),
        "calibration": calibrate(http=http),
    }


# The block of the running benchmark (set by :func:`with_conditions`), for its ratios.
CURRENT: dict[str, Any] = {}


def ratio(value: float, calibration: str) -> float | None:
    """``value`` in units of the running benchmark's calibration figure ``calibration``
    (e.g. ``"http_cpu_ms"``); None when it was not measured."""
    unit = CURRENT.get("calibration", {}).get(calibration)
    return round(value / unit, 2) if unit else None


def print_conditions(block: dict[str, Any]) -> None:
    """The block on stderr (figures go to stdout) and as one JSON line, for the docs."""
    c = block["calibration"]
    lines = [
        "── conditions ──",
        f"cpu: {block['cpu']} × {block['cpus']}",
        f"load: before {block['load_before']}  after {block.get('load_after', '…')}",
        f"python {block['python']} · sqlite {block['sqlite']} · postgresql "
        f"{block['postgresql'] or 'not reachable'} · commit {block['commit']}",
        "calibration: "
        + "  ".join(f"{k}={v}" for k, v in c.items() if v is not None)
        + "  (python bench/conditions.py)",
    ]
    print("\n".join(lines), file=sys.stderr)
    print("conditions " + json.dumps(block), file=sys.stderr)


def with_conditions(main: Callable[[], Any], *, http: bool = False) -> Any:
    """Run a benchmark's ``main`` between the two halves of its conditions block: the
    calibration first (so a loaded machine shows in it), the load average after."""
    block = capture(http=http)
    CURRENT.clear()
    CURRENT.update(block)
    print_conditions(block)

    def after() -> None:
        block["load_after"] = [round(x, 2) for x in os.getloadavg()]
        print_conditions(block)

    atexit.register(after)  # also when main() exits through SystemExit
    return main()


if __name__ == "__main__":
    block = capture(http=True)
    block["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print_conditions(block)
    print(json.dumps(block))
