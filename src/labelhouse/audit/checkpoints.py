"""Signed checkpoints: the audit chain's head, anchored outside the database.

The hash chain alone proves nothing to someone who can write the database: they can drop
the triggers, delete or edit events and recompute every hash after the change. A
checkpoint is a small statement — organization, number of events, id and hash of the
newest event, time — signed with an Ed25519 key that is *not* in the database, and
appended to a file the operator keeps elsewhere (another disk, an append-only mount, a log
shipper). Verification checks each checkpoint's signature, then that the database still
holds exactly that head: the same event id with the same hash, preceded by the same number
of events, on a chain that is intact from its first event. That catches deleting the tail,
rewriting or reordering anything up to the newest checkpoint; what it cannot catch is in
docs/audit.md (events newer than the last checkpoint can still vanish unnoticed).

Writers take an exclusive ``flock`` on the file and first read what other writers (other
app processes, the cron command) appended since, so a head is signed once, not once per
process.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

try:
    import fcntl
except ImportError:  # not on Windows: one writer per process is all we can promise there
    fcntl = None  # type: ignore[assignment]

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labelhouse.audit.keys import key_id
from labelhouse.audit.models import AuditEvent
from labelhouse.audit.service import GENESIS, _event_hash
from labelhouse.db.base import utcnow
from labelhouse.errors import InvalidInput, Problem

log = logging.getLogger("labelhouse.audit")

VERSION = 1
# Domain separation: a checkpoint signature can never be mistaken for any other signature
# made with the same key.
CONTEXT = b"labelhouse audit checkpoint v1\n"


# -- checkpoints -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    organization_id: int
    events: int
    head_id: int
    head_hash: str
    at: str  # ISO 8601, UTC
    key_id: str
    signature: str = ""

    def signed_fields(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "organization_id": self.organization_id,
            "events": self.events,
            "head_id": self.head_id,
            "head_hash": self.head_hash,
            "at": self.at,
            "key_id": self.key_id,
        }

    def message(self) -> bytes:
        return CONTEXT + orjson.dumps(self.signed_fields(), option=orjson.OPT_SORT_KEYS)

    def line(self) -> bytes:
        return orjson.dumps(
            {**self.signed_fields(), "signature": self.signature},
            option=orjson.OPT_APPEND_NEWLINE,
        )

    def verifies(self, key: Ed25519PublicKey) -> bool:
        try:
            key.verify(base64.b64decode(self.signature, validate=True), self.message())
        except (InvalidSignature, ValueError, binascii.Error):
            return False
        return True


def parse_line(raw: bytes | str) -> Checkpoint | None:
    """A checkpoint from one line of the file; None when the line is not one."""
    try:
        d = orjson.loads(raw)
        if not isinstance(d, dict) or d.get("v") != VERSION:
            return None
        cp = Checkpoint(
            organization_id=d["organization_id"],
            events=d["events"],
            head_id=d["head_id"],
            head_hash=d["head_hash"],
            at=d["at"],
            key_id=d["key_id"],
            signature=d["signature"],
        )
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    ints = (cp.organization_id, cp.events, cp.head_id)
    strs = (cp.head_hash, cp.at, cp.key_id, cp.signature)
    if not all(type(v) is int for v in ints) or not all(isinstance(v, str) for v in strs):
        return None
    return cp


def sign(
    key: Ed25519PrivateKey, *, organization_id: int, events: int, head_id: int, head_hash: str
) -> Checkpoint:
    unsigned = Checkpoint(
        organization_id=organization_id,
        events=events,
        head_id=head_id,
        head_hash=head_hash,
        at=utcnow().isoformat(timespec="seconds").replace("+00:00", "Z"),
        key_id=key_id(key.public_key()),
    )
    signature = base64.b64encode(key.sign(unsigned.message())).decode()
    return replace(unsigned, signature=signature)


# -- the chain's current heads ---------------------------------------------------------------


def current_heads(session: Session) -> dict[int, tuple[int, str]]:
    """Organization id -> (id, hash) of its newest event, for every organization with events.
    Appends are serialized per organization and ids grow in commit order, so the newest id
    is the chain's head."""
    newest = (
        select(AuditEvent.organization_id, func.max(AuditEvent.id).label("head"))
        .group_by(AuditEvent.organization_id)
        .subquery()
    )
    rows = session.execute(
        select(AuditEvent.organization_id, AuditEvent.id, AuditEvent.hash).join(
            newest, AuditEvent.id == newest.c.head
        )
    )
    return {org: (head_id, head_hash) for org, head_id, head_hash in rows}


def events_through(session: Session, organization_id: int, head_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.organization_id == organization_id, AuditEvent.id <= head_id)
        )
        or 0
    )


def checkpoints_now(
    session: Session,
    key: Ed25519PrivateKey,
    *,
    skip: Callable[[int, int, str], bool] = lambda _org, _id, _hash: False,
) -> list[Checkpoint]:
    """A signed checkpoint of every organization's chain (but those ``skip`` names)."""
    out = []
    for org, (head_id, head_hash) in sorted(current_heads(session).items()):
        if skip(org, head_id, head_hash):
            continue
        out.append(
            sign(
                key,
                organization_id=org,
                events=events_through(session, org, head_id),
                head_id=head_id,
                head_hash=head_hash,
            )
        )
    return out


# -- the append-only file --------------------------------------------------------------------


@contextmanager
def _locked(path: Path) -> Iterator[IO[bytes]]:
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
    with os.fdopen(fd, "r+b") as f:
        if fcntl is not None:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield f
        finally:
            if fcntl is not None:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)


@dataclass
class CheckpointFile:
    """The operator's checkpoint file. Remembers how far it has read and the newest
    correctly signed checkpoint per organization, so each write reads only what others
    appended since."""

    path: Path
    public_key: Ed25519PublicKey
    latest: dict[int, Checkpoint] = field(default_factory=dict)
    _offset: int = 0
    _mutex: threading.Lock = field(default_factory=threading.Lock)

    def _catch_up(self, f: IO[bytes]) -> None:
        size = os.fstat(f.fileno()).st_size
        if size < self._offset:  # replaced or truncated: start over
            self._offset, self.latest = 0, {}
        f.seek(self._offset)
        mine = key_id(self.public_key)
        for raw in f:
            if not raw.endswith(b"\n"):
                break  # a line still being written by a writer that ignores the lock
            self._offset += len(raw)
            cp = parse_line(raw)
            if cp is not None and cp.key_id == mine and cp.verifies(self.public_key):
                self.latest[cp.organization_id] = cp

    def refresh(self) -> None:
        """Read what was appended since the last look (creates no file)."""
        if not self.path.exists():
            return
        with self._mutex, self.path.open("rb") as f:
            self._catch_up(f)

    def write(self, session: Session, key: Ed25519PrivateKey) -> list[Checkpoint]:
        """Sign and append a checkpoint for every organization whose head moved since its
        last checkpoint in the file; fsync'd before returning."""
        with self._mutex, _locked(self.path) as f:
            self._catch_up(f)

            def unchanged(org: int, head_id: int, head_hash: str) -> bool:
                last = self.latest.get(org)
                return last is not None and (last.head_id, last.head_hash) == (head_id, head_hash)

            written = checkpoints_now(session, key, skip=unchanged)
            if written:
                f.write(b"".join(cp.line() for cp in written))
                f.flush()
                os.fsync(f.fileno())
            self._offset = os.fstat(f.fileno()).st_size
            for cp in written:
                self.latest[cp.organization_id] = cp
            return written


# -- verification ----------------------------------------------------------------------------


@dataclass
class FileReading:
    """The checkpoints of a file whose signatures verify, and what is wrong with the rest."""

    checkpoints: list[tuple[int, Checkpoint]] = field(default_factory=list)  # (line, cp)
    problems: list[str] = field(default_factory=list)

    def for_organization(self, organization_id: int) -> list[tuple[int, Checkpoint]]:
        return [(n, cp) for n, cp in self.checkpoints if cp.organization_id == organization_id]

    @property
    def organizations(self) -> set[int]:
        return {cp.organization_id for _, cp in self.checkpoints}


def read_file(path: Path, public_keys: Iterable[Ed25519PublicKey]) -> FileReading:
    keys = {key_id(k): k for k in public_keys}
    out = FileReading()
    try:
        f = path.open("rb")
    except OSError as exc:
        raise InvalidInput(
            f"Cannot read the checkpoint file {path}: {exc.strerror or exc}.",
            [Problem("checkpoints", str(path))],
        ) from None
    with f:
        for n, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            cp = parse_line(raw)
            if cp is None:
                out.problems.append(f"line {n}: not a checkpoint")
            elif cp.key_id not in keys:
                out.problems.append(
                    f"line {n}: signed by key {cp.key_id}, which is not among the public keys given"
                )
            elif not cp.verifies(keys[cp.key_id]):
                out.problems.append(f"line {n}: the signature does not verify (line altered)")
            else:
                out.checkpoints.append((n, cp))
    return out


@dataclass
class ChainReport:
    organization_id: int
    events: int = 0
    first_broken_id: int | None = None
    checkpoints_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return self.first_broken_id is None and not self.problems


def verify_organization(
    session: Session, organization_id: int, checkpoints: Iterable[tuple[int, Checkpoint]] = ()
) -> ChainReport:
    """One pass over the organization's chain: every link, and each checkpoint's head (same
    id, same hash, same number of events up to it)."""
    wanted: dict[int, list[tuple[int, Checkpoint]]] = {}
    for n, cp in checkpoints:
        wanted.setdefault(cp.head_id, []).append((n, cp))
    report = ChainReport(organization_id)
    prev = GENESIS
    rows = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.organization_id == organization_id)
        .order_by(AuditEvent.id)
        .execution_options(yield_per=1000)
    )
    for event in rows:
        report.events += 1
        if report.first_broken_id is None and (
            event.prev_hash != prev or _event_hash(prev, event) != event.hash
        ):
            report.first_broken_id = event.id
        prev = event.hash
        for n, cp in wanted.pop(event.id, ()):
            report.checkpoints_checked += 1
            where = _where(n, cp)
            if event.hash != cp.head_hash:
                report.problems.append(
                    f"{where}: event {cp.head_id} no longer has the signed hash — it or an "
                    "earlier event was rewritten or reordered"
                )
            elif report.events != cp.events:
                report.problems.append(
                    f"{where}: {report.events} events up to event {cp.head_id}, "
                    f"{cp.events} signed — events before it were deleted or inserted"
                )
    for head_id, missing in sorted(wanted.items()):
        for n, cp in missing:
            report.checkpoints_checked += 1
            report.problems.append(
                f"{_where(n, cp)}: event {head_id}, the signed head with "
                f"{cp.events} events, is gone — events were deleted"
            )
    return report


def _where(line: int, cp: Checkpoint) -> str:
    return f"checkpoint line {line} ({cp.at})" if line else f"the checkpoint of {cp.at}"


# -- periodic checkpoints while the server runs ----------------------------------------------


class PeriodicCheckpoints:
    """A daemon thread that writes checkpoints every ``interval`` seconds (and once more at
    stop). It only reads committed rows, so a checkpoint never names an event that a
    rollback could still undo, and it costs requests nothing."""

    def __init__(
        self,
        session_factory: Callable[[], Any],
        key: Ed25519PrivateKey,
        path: Path,
        interval: float,
    ) -> None:
        self._sessions = session_factory
        self._key = key
        self.file = CheckpointFile(path, key.public_key())
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="labelhouse-audit-checkpoints", daemon=True
        )

    def run_once(self) -> list[Checkpoint]:
        try:
            with self._sessions() as session:
                return self.file.write(session, self._key)
        except Exception:  # never let the thread die; the next round tries again
            log.exception("writing audit checkpoints to %s failed", self.file.path)
            return []

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.run_once()

    def start(self) -> PeriodicCheckpoints:
        self.run_once()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self.run_once()
