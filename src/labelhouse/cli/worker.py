"""One app process of ``serve --workers N``: uvicorn on the socket its supervisor bound and
handed down, in a process that dies with that supervisor.

Run by the supervisor as ``python -m labelhouse.cli.worker FD SUPERVISOR_PID``. A worker
whose supervisor is gone (kill -9, the OOM killer) would keep serving, re-parented to PID 1,
and keep the port from the next ``serve``; so on Linux the kernel sends it SIGTERM when the
supervisor dies (``PR_SET_PDEATHSIG``), and on every system a watchdog thread notices the
parent changing. Either way uvicorn shuts down gracefully, within a bounded time.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import sys
import threading
import time
import traceback
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import uvicorn

STARTUP_FAILURE = 3  # the worker never served: the app, not the process, is broken
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def uvicorn_config() -> uvicorn.Config:
    """The same options for the single process of ``serve`` and for each worker."""
    import uvicorn

    return uvicorn.Config(
        "labelhouse.web.asgi:app", log_level="warning", access_log=False, proxy_headers=False
    )


def _set_parent_death_signal(sig: int) -> bool:
    """Ask Linux to send ``sig`` when the parent dies. The kernel sends it when the *thread*
    that forked us exits, hence the supervisor forks only from its main thread."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def die_with_parent(
    parent_pid: int, *, grace: float = 10.0, poll: float = 0.5, pdeathsig: bool = True
) -> None:
    """Make this process end when ``parent_pid`` is no longer its parent.

    First SIGTERM (uvicorn's graceful shutdown: stop accepting, finish the requests in
    flight), then, should that take longer than ``grace`` seconds, an immediate exit.
    ``pdeathsig=False`` leaves only the portable watchdog (for its test)."""
    if pdeathsig:
        _set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != parent_pid:  # it died before the kernel was told to warn us
        sys.exit(f"labelhouse worker {os.getpid()}: the supervisor {parent_pid} is gone.")

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def run(fd: int, supervisor_pid: int) -> int:
    """Serve the app on the inherited socket ``fd`` (bound; uvicorn listens once the app is
    loaded) until told to stop; the exit code."""
    die_with_parent(supervisor_pid)
    import uvicorn

    server = uvicorn.Server(uvicorn_config())
    try:
        server.run(sockets=[socket.socket(fileno=fd)])
    except KeyboardInterrupt:  # Ctrl-C, re-raised by uvicorn once it has shut down
        return 0
    except SystemExit:  # uvicorn's way to say it could not start (its reason is logged)
        if server.started:
            raise
        return STARTUP_FAILURE
    except Exception:
        if server.started:
            raise
        traceback.print_exc()  # a bug in the app's start-up: the trace is what to report
        return STARTUP_FAILURE
    return 0


if __name__ == "__main__":
    sys.exit(run(int(sys.argv[1]), int(sys.argv[2])))
