"""What the core benchmarks share: the workload (schema and task file), running the real
CLI, a scratch PostgreSQL database, and the results table."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson
import psutil
from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parent.parent
LABELHOUSE = str(ROOT / ".venv" / "bin" / "labelhouse")
PASSWORD = "bench-password-123"
SCHEMA = {
    "fields": [
        {
            "name": "label",
            "kind": "choice",
            "reads": ["text"],
            "options": [{"value": "pos"}, {"value": "neg"}, {"value": "neu"}],
        }
    ]
}


def make_file(path: Path, n: int, prefix: str) -> None:
    """A JSONL file of ``n`` short review texts with external ids ``<prefix><i>``."""
    with path.open("wb") as f:
        for i in range(n):
            f.write(
                orjson.dumps(
                    {
                        "external_id": f"{prefix}{i}",
                        "text": f"Review {i}: the product was fine, shipping took {i % 9 + 1} days.",
                    },
                    option=orjson.OPT_APPEND_NEWLINE,
                )
            )


def run_cli(args: list[str], env: dict[str, str]) -> str:
    out = subprocess.run([LABELHOUSE, *args], env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{args}: {out.stderr}")
    return out.stdout.strip()


@contextmanager
def scratch_pg_database(prefix: str) -> Iterator[tuple[str, str]]:
    """A private PostgreSQL database for one run, dropped afterwards: yields (url, name).
    The server comes from LABELHOUSE_BENCH_PG_URL (default: local, user postgres)."""
    admin_url = os.environ.get(
        "LABELHOUSE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    dbname = f"{prefix}_{os.getpid()}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{dbname}"'))
    try:
        yield make_url(admin_url).set(database=dbname).render_as_string(hide_password=False), dbname
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
        admin.dispose()


def tree_cpu_seconds(pid: int) -> float:
    """User+sys CPU seconds of a process and all its descendants, counting those that have
    ended and been waited for (a worker killed and replaced by its supervisor keeps
    counting): what a server spent, for "server CPU per operation" figures."""
    root = psutil.Process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.NoSuchProcess:
            pass
    return total


TICKS = os.sysconf("SC_CLK_TCK")


def pg_backend_cpu(dbname: str) -> dict[int, float]:
    """User+sys CPU seconds so far of each PostgreSQL backend serving ``dbname`` (its
    command line names the database), read from /proc: the database's share of a run's
    CPU, which the app's own figures leave out. Background processes (WAL writer,
    checkpointer, autovacuum) are left out: they serve every database on the server.
    Plain /proc reads (~1 ms a call; psutil's process_iter took 7 ms), as samplers call it
    every 50 ms on the cores they measure."""
    seen: dict[int, float] = {}
    marker = f" {dbname} ".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm", "rb") as f:
                if f.read() != b"postgres\n":
                    continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if marker not in f.read().replace(b"\0", b" "):
                    continue
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rpartition(b")")[2].split()
            seen[int(entry)] = (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
        except (OSError, IndexError, ValueError):
            pass  # gone meanwhile
    return seen


def cpu_since(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two :func:`pg_backend_cpu` snapshots (a backend that
    started in between counts whole; one that ended in between loses its last part)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def print_table(rows: list[dict[str, object]]) -> None:
    """One column per backend, one line per figure."""
    keys = list(rows[0])
    width = max(len(k) for k in keys)
    print("".ljust(width) + "".join(str(r["backend"]).rjust(14) for r in rows))
    for k in keys[1:]:
        print(k.ljust(width) + "".join(str(r[k]).rjust(14) for r in rows))


@contextmanager
def migrated_database(backend: str, prefix: str) -> Iterator[str]:
    """A private, migrated database for one in-process run: a temporary SQLite file or a
    scratch PostgreSQL database (see :func:`scratch_pg_database`). Yields its URL."""
    from labelhouse.db import migrate

    with contextlib.ExitStack() as stack:
        if backend == "sqlite":
            tmp = stack.enter_context(tempfile.TemporaryDirectory())
            url = f"sqlite:///{tmp}/{prefix}.db"
        else:
            url, _ = stack.enter_context(scratch_pg_database(prefix))
        engine = create_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url


def wait_for_health(port: int, server: subprocess.Popen[bytes], seconds: float = 60) -> None:
    """Until ``labelhouse serve`` on ``port`` answers /api/health; exits the benchmark with a
    sentence if it does not within ``seconds`` or the server process ends."""
    deadline = time.time() + seconds
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).is_success:
                return
        except httpx.HTTPError:
            pass
        if time.time() > deadline or server.poll() is not None:
            raise SystemExit("the server did not start")
        time.sleep(0.2)
