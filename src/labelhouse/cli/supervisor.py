"""The process manager behind ``serve --workers N``: the port, worker processes, restarts,
and a shutdown that leaves nothing behind.

Why not uvicorn's own ``--workers``: its workers outlive a supervisor killed with -9, and
they share one listening socket, which lets whichever worker wakes first accept a burst of
keep-alive connections (17/13/2/0 of 32 over four workers). Here each worker dies with the
supervisor (see :mod:`labelhouse.cli.worker`) and, on Linux, gets its own ``SO_REUSEPORT``
socket, so the kernel spreads connections over them (bench/bench_worker_balance.py). The
supervisor keeps every socket open for its whole life: a worker that dies is replaced on
the same socket, and connections that arrived meanwhile wait in its backlog (for the
second or two a new worker takes to start) instead of being refused.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

from labelhouse.cli.worker import STARTUP_FAILURE
from labelhouse.errors import Conflict, InvalidInput

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# Linux spreads connections over SO_REUSEPORT sockets; BSD and macOS hand them all to one.
SPREAD_BY_KERNEL = sys.platform.startswith("linux")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def port_holder(port: int) -> str | None:
    """Which process holds ``port`` (listening, or bound as our supervisor's sockets are),
    as "process PID (command line)", if psutil can tell (it is optional, and other users'
    processes may be hidden)."""
    try:
        import psutil  # type: ignore[import-untyped]
    except ImportError:
        return None
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if not conn.laddr or conn.laddr.port != port:
                continue
            if conn.status != psutil.CONN_LISTEN and conn.raddr:
                continue  # a connection from or to it, not the holder
            if conn.pid is None:
                return None
            command = " ".join(psutil.Process(conn.pid).cmdline()) or "?"
            if len(command) > 100:
                command = command[:99] + "…"
            return f"process {conn.pid} ({command})"
    except psutil.Error:
        return None
    return None


def take_port(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A TCP socket bound to the port, or :class:`Conflict` naming who holds it.

    Bound, not listening: uvicorn listens on it once the app is loaded, so with several
    workers no connection waits in the backlog of one that is still starting."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT only
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise _bind_error(host, port, exc) from None
    sock.set_inheritable(True)
    return sock


def _bind_error(host: str, port: int, exc: OSError) -> Conflict:
    import errno

    if exc.errno == errno.EADDRINUSE:
        holder = port_holder(port)
        return Conflict(
            f"Port {port} on {host} is already in use"
            + (f" by {holder}" if holder else "")
            + ". Stop that program, or choose another port with --port."
        )
    return Conflict(f"Cannot listen on {host}:{port}: {exc.strerror}. Check --host and --port.")


def worker_sockets(host: str, port: int, n: int) -> list[socket.socket]:
    """One socket per worker, all on ``port``. On Linux each is its own ``SO_REUSEPORT``
    socket, and the kernel spreads new connections over them; elsewhere the workers share
    one. A first plain bind proves no other program holds the port: a same-user process
    with ``SO_REUSEPORT`` sockets (a stray worker) would otherwise be joined silently and
    handed a share of the connections."""
    if os.name != "posix":
        raise InvalidInput("serve --workers needs Linux or macOS; run one process here.")
    if not SPREAD_BY_KERNEL:
        return [take_port(host, port)] * n
    with take_port(host, port) as probe:
        port = probe.getsockname()[1]  # the one the system chose, for --port 0
    sockets: list[socket.socket] = []
    try:
        for _ in range(n):
            sockets.append(take_port(host, port, reuse_port=True))
    except Conflict:
        for s in sockets:
            s.close()
        raise
    return sockets


@dataclass
class _Slot:
    sock: socket.socket
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    not_before: float = 0.0  # a worker that dies at once is not restarted in a tight loop


@dataclass
class Supervisor:
    """Runs one worker per socket until SIGINT, SIGTERM or SIGHUP (the terminal closed),
    replacing workers that die.

    Workers are started only from the main thread: Linux's parent-death signal follows the
    thread that forked, and the main thread lives as long as the supervisor."""

    sockets: list[socket.socket]
    say: Callable[[str], None] = field(default=lambda text: print(text, file=sys.stderr))
    poll: float = 0.2
    stop_timeout: float = 30.0
    slots: list[_Slot] = field(init=False)
    _signals: list[int] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.slots = [_Slot(s) for s in self.sockets]

    def _start(self, slot: _Slot) -> None:
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("workers must be started from the main thread")
        fd = slot.sock.fileno()
        slot.process = subprocess.Popen(
            [sys.executable, "-m", "labelhouse.cli.worker", str(fd), str(os.getpid())],
            pass_fds=(fd,),
        )
        slot.started = time.monotonic()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals.append(signum)

    def run(self) -> int:
        """Serve until told to stop; 0, or 1 when a worker could not start the app."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS}
        try:
            for slot in self.slots:
                self._start(slot)
            return self._watch()
        finally:
            self._stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _watch(self) -> int:
        while True:
            time.sleep(self.poll)
            now = time.monotonic()
            for slot in self.slots:
                if self._signals:  # Ctrl-C reaches the workers too: their exits are no crash
                    return 0
                if slot.process is None:
                    if now >= slot.not_before:
                        self._start(slot)
                    continue
                code = slot.process.poll()
                if code is None:
                    continue
                if code == STARTUP_FAILURE:
                    self.say("A worker could not start the app (its error is above); stopping.")
                    return 1
                how = f"was killed by signal {-code}" if code < 0 else f"exited with {code}"
                self.say(f"Worker {slot.process.pid} {how}; starting a new one.")
                slot.process = None
                slot.not_before = slot.started + 1.0

    def _stop(self) -> None:
        """SIGTERM to every worker (they finish their requests in flight), SIGKILL after
        ``stop_timeout`` seconds or at one more stop signal."""
        running = [s.process for s in self.slots if s.process is not None]
        for p in running:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        received = len(self._signals)
        deadline = time.monotonic() + self.stop_timeout
        while any(p.poll() is None for p in running):
            if time.monotonic() > deadline or len(self._signals) > received:
                for p in running:
                    if p.poll() is None:
                        p.kill()
                break
            time.sleep(0.05)
        for p in running:
            p.wait()
