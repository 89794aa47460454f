"""`labelhouse serve` as an operator runs it: real server processes on free ports.

The supervisor of ``--workers N`` can die without cleaning up (kill -9, the OOM killer); its
workers must then go too, or they keep the port and a new ``serve`` cannot start. A port
that is taken is reported before anything starts, with who holds it.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import psutil
import pytest
from typer.testing import CliRunner

from labelhouse.cli.main import app as cli_app
from tests.helpers_data import flat

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="process checks use Linux")

CLI = "import sys; from labelhouse.cli.main import app; sys.exit(app())"  # the console script


def free_port() -> int:
    """A free port below Linux's ephemeral range (32768–60999): once the server is gone, a
    port from that range can be taken at any moment by some outgoing connection."""
    for _ in range(100):
        port = random.randrange(20000, 32000)
        if can_bind(port):
            return port
    raise AssertionError("no free port between 20000 and 32000")


def can_bind(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.fixture
def data_dir(tmp_path: Path, sqlite_template: Path) -> Path:
    """A data folder with a migrated database (migrating would add seconds to each start)."""
    shutil.copy(sqlite_template, tmp_path / "labelhouse.db")
    return tmp_path


def start_serve(data_dir: Path, port: int, *args: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELHOUSE_")}
    return subprocess.Popen(
        [sys.executable, "-c", CLI, "serve", "--port", str(port), *args],
        env={**env, "LABELHOUSE_DATA_DIR": str(data_dir)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # signals to the test's process group leave it alone
    )


def wait_healthy(proc: subprocess.Popen[bytes], port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited {proc.returncode}: {proc.stderr.read().decode()}")
        with suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"serve did not answer on port {port} within {timeout} s")


def is_worker(p: psutil.Process) -> bool:
    """Not multiprocessing's resource tracker (uvicorn's own ``--workers`` starts one)."""
    with suppress(psutil.Error):
        return "resource_tracker" not in " ".join(p.cmdline())
    return False


def children(proc: psutil.Process, n: int, *, other_than: set[int] = frozenset()) -> list:
    """The ``n`` child processes of ``proc`` (the workers), waiting for them to appear."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [c for c in proc.children() if c.pid not in other_than and is_worker(c)]
        if len(found) >= n:
            return found
        time.sleep(0.05)
    raise AssertionError(f"expected {n} workers of {proc.pid}, found {proc.children()}")


def bindable_within(port: int, seconds: float) -> bool:
    """The last thread of a killed process may close its sockets a moment after the
    process shows as a zombie."""
    deadline = time.monotonic() + seconds
    while not can_bind(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def gone_within(procs: list[psutil.Process], seconds: float) -> list[psutil.Process]:
    """Those of ``procs`` still running after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = [p for p in procs if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        if not alive:
            return []
        time.sleep(0.05)
    return alive


@contextmanager
def reaped(*procs: psutil.Process) -> Iterator[list[psutil.Process]]:
    """Whatever the test asserts, no process it started outlives it: those given, their
    children, and any added to the list yielded."""
    more: list[psutil.Process] = []
    try:
        yield more
    finally:
        for p in [*procs, *more]:
            with suppress(psutil.Error):
                for c in p.children(recursive=True):
                    with suppress(psutil.Error):
                        c.kill()
                p.kill()


def test_killing_the_supervisor_takes_its_workers_down_and_frees_the_port(data_dir):
    port = free_port()
    proc = start_serve(data_dir, port, "--workers", "2")
    supervisor = psutil.Process(proc.pid)
    with reaped(supervisor) as also_reaped:
        wait_healthy(proc, port)
        workers = children(supervisor, 2)
        also_reaped.extend(workers)
        supervisor.kill()
        proc.wait(5)
        assert gone_within(workers, 5) == [], "workers outlived their supervisor"
        assert bindable_within(port, 1)


def listens_on(p: psutil.Process, port: int) -> bool:
    with suppress(psutil.Error):
        return any(
            c.status == psutil.CONN_LISTEN and c.laddr.port == port
            for c in p.net_connections(kind="tcp")
        )
    return False


def test_a_dead_worker_is_replaced_and_sigterm_stops_them_all(data_dir):
    port = free_port()
    proc = start_serve(data_dir, port, "--workers", "2")
    supervisor = psutil.Process(proc.pid)
    with reaped(supervisor):
        wait_healthy(proc, port)
        first = children(supervisor, 2)
        first[0].kill()
        (replacement,) = children(supervisor, 1, other_than={c.pid for c in first})
        deadline = time.monotonic() + 30
        while not listens_on(replacement, port):  # it serves, on the dead one's socket
            assert time.monotonic() < deadline, "the replacement never served"
            time.sleep(0.1)
        assert listens_on(first[1], port)
        proc.terminate()
        assert proc.wait(15) == 0
        assert gone_within([first[1], replacement], 1) == []
        assert bindable_within(port, 1)


def orphan_of_dead_parent(code: str) -> tuple[psutil.Process, str]:
    """Run ``code`` in a grandchild whose parent is killed at once; the grandchild and the
    first line it printed (``code`` prints once it is set up)."""
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time\n"
            f"p = subprocess.Popen([sys.executable, '-c', {code!r}], stdout=subprocess.PIPE)\n"
            "print(p.pid, p.stdout.readline().decode().strip(), flush=True)\n"
            "time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    pid, line = parent.stdout.readline().decode().split(" ", 1)
    grandchild = psutil.Process(int(pid))
    parent.kill()
    parent.wait()
    return grandchild, line.strip()


def test_without_the_kernel_signal_the_watchdog_ends_an_orphaned_worker():
    """The portable fallback (macOS has no PR_SET_PDEATHSIG): SIGTERM, as uvicorn expects."""
    code = (
        "import os, signal, sys, time\n"
        "from labelhouse.cli.worker import die_with_parent\n"
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
        "die_with_parent(os.getppid(), pdeathsig=False, poll=0.05)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)"
    )
    grandchild, line = orphan_of_dead_parent(code)
    with reaped(grandchild):
        assert line == "ready"
        assert gone_within([grandchild], 3) == []


def test_a_worker_whose_supervisor_died_before_it_asked_for_the_signal_does_not_serve(
    tmp_path,
):
    """The race the kernel signal leaves open: the parent dies before ``prctl``."""
    served = tmp_path / "served"
    code = (
        "import os, time\n"
        "from labelhouse.cli.worker import die_with_parent\n"
        "supervisor = os.getppid()\n"
        "print('ready', flush=True)\n"
        "time.sleep(0.3)\n"  # the supervisor dies meanwhile
        "die_with_parent(supervisor)\n"
        f"open({str(served)!r}, 'w').close()\n"
        "time.sleep(60)"
    )
    grandchild, line = orphan_of_dead_parent(code)
    with reaped(grandchild):
        assert line == "ready"
        assert gone_within([grandchild], 5) == []
    assert not served.exists()


@pytest.mark.parametrize(("workers", "holder_reuses_port"), [(1, False), (2, True)])
def test_a_taken_port_is_named_before_anything_starts(tmp_path, workers, holder_reuses_port):
    """With workers, the holder may itself use SO_REUSEPORT (a stray worker): the port must
    still count as taken, not be shared with it."""
    with socket.socket() as holder:
        if holder_reuses_port:
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = CliRunner().invoke(
            cli_app,
            ["serve", "--port", str(port), "--workers", str(workers), "--data-dir", str(tmp_path)],
        )
    out = flat(result.output)
    assert result.exit_code == 1, out
    assert f"Port {port} on 127.0.0.1 is already in use by process {os.getpid()} (" in out
    assert "choose another port with --port" in out
    assert "Labelhouse on" not in out and "Traceback" not in out
    assert not (tmp_path / "labelhouse.db").exists()  # nothing was started
