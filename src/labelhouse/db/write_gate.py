"""The SQLite write gate: one writer at a time per database file, across threads and
processes, with every wait bounded."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

try:
    import fcntl
except ImportError:  # not on Windows: threads still queue on the mutex
    fcntl = None  # type: ignore[assignment]

from labelhouse.errors import Busy


class WriteGate:
    """Queues an SQLite file's writers before they ``BEGIN IMMEDIATE``: a mutex for this
    process's threads, then an ``flock`` on ``<database>-writer.lock`` for other processes
    (several ``serve`` workers, a CLI import). Without it, a writer that finds the database
    locked falls into SQLite's busy handler, which sleeps in steps of 1, 2, 5, 10… ms: under
    8 concurrent annotators that sleeping, not work, set the pace (62 → 133 pairs/s with
    the mutex alone). The gate is held until the transaction has committed or rolled back;
    the kernel drops the flock of a process that dies, and SQLite's own busy timeout stays
    as the backstop for writers that don't use the gate.

    Nobody waits longer than ``timeout`` seconds in all: then :class:`Busy` (a 503 that says
    to try again), never a request hanging behind a long write.
    """

    def __init__(self, path: Path | None, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self._mutex = threading.Lock()
        self._lock_path = None if path is None else path.with_name(path.name + "-writer.lock")
        self._fd: int | None = None
        self._fd_pid = 0
        self._flock: _BoundedFlock | None = None
        self._owner: int | None = None  # the thread holding the gate

    def _file(self) -> _BoundedFlock | None:
        if self._lock_path is None or fcntl is None:
            return None
        if self._flock is None or self._fd_pid != os.getpid():  # not inherited across fork
            self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            self._fd_pid = os.getpid()
            self._flock = _BoundedFlock(self._fd)
        return self._flock

    def _busy(self) -> Busy:
        return Busy(
            f"The database stayed busy for {self.timeout:g} s (another write, such as a large "
            "import, held it); nothing was changed. Try again in a moment.",
            hint="the SQLite write gate was held longer than LABELHOUSE_DB_LOCK_TIMEOUT",
        )

    @contextmanager
    def held(self) -> Iterator[None]:
        """The gate, waiting at most ``timeout`` seconds for it (then :class:`Busy`). A
        thread that holds it already (:meth:`held_if_free`) just goes on."""
        if self._owner == threading.get_ident():
            yield
            return
        deadline = time.monotonic() + self.timeout
        if not self._mutex.acquire(timeout=self.timeout):
            raise self._busy()
        flock = self._flock_or_release(lambda f: f.acquire(deadline))
        if flock is False:
            raise self._busy()
        with self._owned(flock):
            yield

    @contextmanager
    def held_if_free(self) -> Iterator[bool]:
        """The gate if nobody holds it or waits for it, without waiting: yields True and
        holds it until the block ends, else yields False at once (and holds nothing). For
        work that must never wait, such as a request run on the event loop itself."""
        if not self._mutex.acquire(blocking=False):
            yield False
            return
        flock = self._flock_or_release(lambda f: f.acquire_now())
        if flock is False:
            yield False
            return
        with self._owned(flock):
            yield True

    def _flock_or_release(
        self, take: Callable[[_BoundedFlock], bool]
    ) -> _BoundedFlock | Literal[False] | None:
        """With the mutex held: the file lock taken by ``take`` (None where there is no
        file), or False, the mutex released again, when it could not be had."""
        try:
            flock = self._file()
            if flock is None or take(flock):
                return flock
        except BaseException:
            self._mutex.release()
            raise
        self._mutex.release()
        return False

    @contextmanager
    def _owned(self, flock: _BoundedFlock | None) -> Iterator[None]:
        """The gate, taken (mutex and file lock), for this thread until the block ends."""
        try:
            self._owner = threading.get_ident()
            yield
        finally:
            self._owner = None
            if flock is not None:
                flock.release()
            self._mutex.release()


class _BoundedFlock:
    """An exclusive ``flock`` with a deadline, for one thread at a time (the gate's mutex).

    A blocked ``flock`` cannot be interrupted from Python, and polling with ``LOCK_NB``
    would bring back the sleeping the gate exists to avoid. So when the lock is taken, a
    helper thread blocks in ``flock`` (woken by the kernel the moment the lock is free)
    while the caller waits for it only until its deadline. A caller that gave up leaves the
    helper blocked; whoever asks next inherits its place in the queue, and if nobody does,
    the helper lets go as soon as it gets the lock. The lock belongs to the open file, not
    to a thread, so the caller releases what the helper took.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._cond = threading.Condition(threading.Lock())
        self._in_flight = False  # the helper is (about to be) blocked in flock()
        self._wanted = False
        self._granted = False
        self._thread: threading.Thread | None = None

    def acquire(self, deadline: float) -> bool:
        with self._cond:
            if not self._in_flight:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    pass
                self._in_flight = True
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="labelhouse-write-gate", daemon=True
                    )
                    self._thread.start()
            self._wanted = True
            self._cond.notify_all()
            while not self._granted:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._wanted = False
                    return False
                self._cond.wait(remaining)
            self._granted = self._wanted = False
            return True

    def acquire_now(self) -> bool:
        """The lock if it is free this instant: never waits, never queues."""
        with self._cond:
            if self._in_flight:  # someone is queued for it already
                return False
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._in_flight:
                    self._cond.wait()
            fcntl.flock(self._fd, fcntl.LOCK_EX)  # blocks without the GIL
            with self._cond:
                if self._wanted:
                    self._granted = True
                else:  # the caller gave up and nobody took its place
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                self._in_flight = False
                self._cond.notify_all()
