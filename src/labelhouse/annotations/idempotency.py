"""Idempotency keys: a retried write gets its first answer back instead of writing twice.

A client whose request committed but whose answer was lost (a dropped connection, a proxy
timeout) cannot tell that from a request that never arrived, so it sends it again. With an
``Idempotency-Key`` header (IETF draft-ietf-httpapi-idempotency-key-header) the server
remembers, per person and key, the request's fingerprint and the answer it gave:

- the same key and the same request again → the stored answer, and nothing is written;
- the same key with another request → refused (:class:`InvalidInput`, a 422), nothing written;
- a write that fails stores no key (it rolled back with it), so a retry runs it afresh.

The key row is inserted *before* the write, in the same transaction, and completed after
it: a crash leaves neither, and two copies of one request arriving together are serialised
on the key's unique index (the second waits for the first to commit, then replays it).
Keys are kept for :data:`TTL`; every keyed write removes a few expired rows (in the
statement that completes its own key, so the upkeep costs PostgreSQL two round trips).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.orm import Session

from labelhouse.annotations.models import IdempotencyKey
from labelhouse.db.base import utcnow
from labelhouse.db.dialect import insert_ignoring_conflicts
from labelhouse.errors import Conflict, InvalidInput, Problem

HEADER = "Idempotency-Key"
TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255
PRUNE_BATCH = 20  # expired rows removed per keyed write: more than one is added, so it drains


@dataclass(frozen=True)
class Reply:
    """An answer to store and send: the status code and the JSON body (None: no body)."""

    status: int
    body: Any = None
    replayed: bool = False


def fingerprint(method: str, path: str, body: Any) -> str:
    """What "the same request" means: method, path and the parsed body (key order and
    number spelling do not matter; query flags that only shape the answer are left out)."""
    canonical = orjson.dumps([method.upper(), path, body], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def parse_key(raw: str) -> str:
    """The key as sent: a token, or a quoted string as the draft's structured-field syntax
    writes it (``"8e03…"``); both name the same key."""
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise InvalidInput(
            f"The {HEADER} header must hold 1 to {MAX_KEY_LENGTH} characters; send a new "
            "random value (a UUID) for each request and the same one when you retry it.",
            [Problem(HEADER, f"1 to {MAX_KEY_LENGTH} characters")],
        )
    if not all("!" <= ch <= "~" for ch in key):
        raise InvalidInput(
            f"The {HEADER} header may only hold printable ASCII characters without spaces "
            "(a UUID is a good key).",
            [Problem(HEADER, "printable ASCII characters only, no spaces")],
        )
    return key


_K: Table = IdempotencyKey.__table__  # type: ignore[assignment]
_INSERT = {
    is_pg: insert_ignoring_conflicts(dialect, _K, ["user_id", "key"]).returning(_K.c.id)
    for is_pg, dialect in ((True, "postgresql"), (False, "sqlite"))
}
_FIND = select(_K.c.id, _K.c.request_hash, _K.c.status, _K.c.response, _K.c.expires_at).where(
    _K.c.user_id == bindparam("uid"), _K.c.key == bindparam("key")
)
_COMPLETE = (
    update(_K)
    .where(_K.c.id == bindparam("kid"))
    .values(status=bindparam("status"), response=bindparam("response"))
)
_DROP = delete(_K).where(_K.c.id == bindparam("kid"))
_expired = select(_K.c.id).where(_K.c.expires_at < bindparam("now")).limit(PRUNE_BATCH)
_PRUNE = {  # PostgreSQL: rows another pruner holds are left to it, nobody waits
    True: delete(_K).where(_K.c.id.in_(_expired.with_for_update(skip_locked=True))),
    False: delete(_K).where(_K.c.id.in_(_expired)),
}
# PostgreSQL: completing the key and pruning expired ones in one round trip (they touch
# different rows: the key just made expires in a day). SQLite runs in-process: two statements.
_COMPLETE_AND_PRUNE_PG = _PRUNE[True].add_cte(_COMPLETE.cte("completed"))


def prune_expired(session: Session, now: datetime | None = None) -> int:
    """Remove up to :data:`PRUNE_BATCH` keys past their time; how many went."""
    conn = session.connection()
    is_pg = conn.dialect.name == "postgresql"
    return conn.execute(_PRUNE[is_pg], {"now": now or utcnow()}).rowcount or 0


def run_once(
    session: Session,
    user_id: int,
    key: str | None,
    request: str,
    write: Callable[[], Reply],
    *,
    now: datetime | None = None,
) -> Reply:
    """Run ``write`` unless this person already sent this key; ``request`` is the
    request's :func:`fingerprint`. Without a key, just runs it. Call inside the unit of
    work that ``write`` uses, so the key commits (or rolls back) with the write."""
    if key is None:
        return write()
    key = parse_key(key)
    now = now or utcnow()
    conn = session.connection()
    is_pg = conn.dialect.name == "postgresql"
    row = {
        "user_id": user_id,
        "key": key,
        "request_hash": request,
        "created_at": now,
        "expires_at": now + TTL,
    }
    key_id = conn.execute(_INSERT[is_pg], row).scalar()
    if key_id is None:
        found = conn.execute(_FIND, {"uid": user_id, "key": key}).first()
        if found is not None and found.expires_at <= now:  # past its time, not yet pruned
            conn.execute(_DROP, {"kid": found.id})
            key_id = conn.execute(_INSERT[is_pg], row).scalar()
        elif found is not None:
            return _replay(found, request)
        if key_id is None:  # removed and taken again by a concurrent request meanwhile
            raise Conflict(f"Another request with this {HEADER} is being handled; retry it.")
    reply = write()
    body = None if reply.body is None else orjson.dumps(reply.body).decode()
    done = {"kid": key_id, "status": reply.status, "response": body, "now": now}
    if is_pg:
        conn.execute(_COMPLETE_AND_PRUNE_PG, done)
    else:
        conn.execute(_COMPLETE, done)
        conn.execute(_PRUNE[False], done)
    return reply


def _replay(found: Any, request: str) -> Reply:
    if found.request_hash != request:
        raise InvalidInput(
            f"This {HEADER} was already used for a different request; a retry must repeat "
            "the request exactly, and a new request needs a new key.",
            [Problem(HEADER, "already used for a different request")],
        )
    if found.status is None:  # only visible to another transaction if it never completes
        raise Conflict(f"A request with this {HEADER} is still being handled; retry it.")
    body = None if found.response is None else orjson.loads(found.response)
    return Reply(found.status, body, replayed=True)
