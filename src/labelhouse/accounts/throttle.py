"""Login throttling: after repeated failures for an e-mail or a client address, refuse
further attempts for a while (argon2 makes each guess cost the server ~0.2 s of CPU, so
unthrottled guessing is also a denial of service).

Failures live in the database (``login_failure``), not in process memory, so every app
process and host on the same database enforces one shared limit; an in-process counter
would give an attacker N × the guesses against N workers. Rows hold only the SHA-256 of the
throttle key (never a raw e-mail or address) and the failure time from ``utcnow()`` (app
clocks; hosts are expected to run NTP, and a few seconds of skew only shift the window).
Growth stays bounded under a spray of random e-mails: each insert deletes its key's expired
rows, and each process purges every expired row once per window.

The digest is a pseudonym, not a secret: an IPv4 address or a known e-mail can be hashed
and compared. It keeps addresses and e-mails out of the table (and its backups) in clear
text, and the rows themselves are gone within minutes.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from labelhouse.accounts.models import LoginFailure
from labelhouse.db.base import utcnow

MAX_FAILURES = 10
WINDOW_SECONDS = 300.0
# A login attempt has three keys (see ``login_keys``), with their own limits per window:
# - the (account, source address) pair: MAX_FAILURES — guessing one account from one place;
# - the source address: IP_MAX_FAILURES — spraying many accounts from one place;
# - the account: ACCOUNT_BRAKE failures from anywhere switch on a gentle brake, which only
#   stops sources that have already failed for this account. A distributed guesser gets one
#   guess per address per window; the real user, from an address without failures, still
#   signs in (before, ten wrong passwords from anywhere locked them out for five minutes).
IP_MAX_FAILURES = 50
ACCOUNT_BRAKE = 20


def login_keys(email: str, client: str) -> tuple[str, str, str]:
    """The throttle keys of a login attempt: (account+address, address, account)."""
    address = email.strip().lower()
    return f"pair:{address}|{client}", f"ip:{client}", f"email:{address}"


def key_digest(key: str) -> str:
    """What is stored for a throttle key such as ``email:a@b.c`` or ``ip:10.0.0.1``."""
    return hashlib.sha256(key.encode()).hexdigest()


class LoginThrottle:
    """The limit and its bookkeeping; the failures themselves are rows, read and written
    through the session the caller passes (which commits them)."""

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.clock = clock  # tests move time by replacing it
        self._last_purge: datetime | None = None
        self._lock = threading.Lock()

    def _cutoff(self, now: datetime) -> datetime:
        return now - timedelta(seconds=self.window)

    def retry_after(self, session: Session, *keys: str, now: datetime | None = None) -> float:
        """Seconds to wait before another attempt is allowed (0 if allowed now): one query
        over ``ix_login_failure_key``. A key is blocked while it has ``max_failures`` failures
        inside the window, until the ``max_failures``-th newest of them leaves it."""
        now = self.clock() if now is None else now
        cutoff = self._cutoff(now)
        rows = session.execute(
            select(LoginFailure.key_hash, LoginFailure.failed_at)
            .where(
                LoginFailure.key_hash.in_([key_digest(k) for k in keys]),
                LoginFailure.failed_at > cutoff,
            )
            .order_by(LoginFailure.failed_at.desc())
        )
        counts: dict[str, int] = {}
        wait = 0.0
        for key_hash, failed_at in rows:
            counts[key_hash] = counts.get(key_hash, 0) + 1
            if counts[key_hash] == self.max_failures:
                wait = max(wait, (failed_at - cutoff).total_seconds())
        return wait

    def login_retry_after(
        self, session: Session, keys: tuple[str, str, str], *, now: datetime | None = None
    ) -> float:
        """Seconds before this login attempt is allowed (0: now), under the limits above."""
        pair, ip, account = keys
        now = self.clock() if now is None else now
        cutoff = self._cutoff(now)
        digests = {key_digest(pair): "pair", key_digest(ip): "ip", key_digest(account): "acct"}
        times: dict[str, list[datetime]] = {"pair": [], "ip": [], "acct": []}
        for key_hash, failed_at in session.execute(
            select(LoginFailure.key_hash, LoginFailure.failed_at)
            .where(LoginFailure.key_hash.in_(list(digests)), LoginFailure.failed_at > cutoff)
            .order_by(LoginFailure.failed_at.desc())
        ):
            times[digests[key_hash]].append(failed_at)

        def wait_for(kind: str, limit: int) -> float:
            seen = times[kind]
            return (seen[limit - 1] - cutoff).total_seconds() if len(seen) >= limit else 0.0

        wait = max(wait_for("pair", self.max_failures), wait_for("ip", IP_MAX_FAILURES))
        if times["pair"]:  # the brake applies only where this account already failed
            wait = max(wait, min(wait_for("acct", ACCOUNT_BRAKE), wait_for("pair", 1)))
        return wait

    def failed(self, session: Session, *keys: str, now: datetime | None = None) -> None:
        now = self.clock() if now is None else now
        cutoff = self._cutoff(now)
        digests = [key_digest(k) for k in keys]
        expired = LoginFailure.failed_at <= cutoff
        if self._purge_due(now):
            _purge(session, expired)
        else:
            _purge(session, LoginFailure.key_hash.in_(digests), expired)
        session.add_all(LoginFailure(key_hash=d, failed_at=now) for d in digests)
        session.flush()

    def succeeded(self, session: Session, email_key: str) -> None:
        session.execute(
            delete(LoginFailure)
            .where(LoginFailure.key_hash == key_digest(email_key))
            .execution_options(synchronize_session=False)
        )

    def _purge_due(self, now: datetime) -> bool:
        """Once per window per process (the first failure a process sees included)."""
        with self._lock:
            last = self._last_purge
            if last is not None and last <= now < last + timedelta(seconds=self.window):
                return False
            self._last_purge = now
            return True


def _purge(session: Session, *where: ColumnElement[bool]) -> None:
    """Delete expired rows, skipping rows another transaction is deleting right now: on
    PostgreSQL a global purge and a per-key purge would otherwise lock the same rows in
    different orders and could deadlock (SQLite serializes writers and ignores the clause)."""
    doomed = select(LoginFailure.id).where(*where).with_for_update(skip_locked=True)
    session.execute(
        delete(LoginFailure)
        .where(LoginFailure.id.in_(doomed.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )
