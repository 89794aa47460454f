"""Signed checkpoints anchor the audit chain outside the database (issue 12).

The attack from the report, reproduced: with write access to the database, drop the
triggers, delete an event and recompute every hash after it — the chain alone verifies as
intact, and so does a chain whose newest events were deleted. A checkpoint signed with a key
that is not in the database catches both, and a rewrite or reordering, up to the newest
checkpoint; what happens after it is not covered (the last test says so)."""

from __future__ import annotations

import base64
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from labelhouse.audit import checkpoints as cps
from labelhouse.audit import keys
from labelhouse.audit import service as audit
from labelhouse.audit.models import AuditEvent
from labelhouse.errors import InvalidInput
from tests.factories import login, make_org, make_project


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def note(db, org_id: int, n: int = 1) -> None:
    for i in range(n):
        with db.session() as s:
            audit.record(
                s,
                organization_id=org_id,
                actor_id=None,
                action="test.note",
                object_type="note",
                object_id=str(i),
                details={"i": i},
            )


def ids(db, org_id: int) -> list[int]:
    with db.read_session() as s:
        return list(
            s.scalars(
                select(AuditEvent.id)
                .where(AuditEvent.organization_id == org_id)
                .order_by(AuditEvent.id)
            )
        )


@contextmanager
def tampering(db) -> Iterator[Session]:
    """A session on a connection where the append-only triggers are lifted; everything is
    rolled back at the end (the test database stays protected)."""
    with db.engine.connect() as conn:
        trans = conn.begin()
        try:
            if db.dialect == "postgresql":
                conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_change"))
            else:
                conn.execute(text("DROP TRIGGER audit_event_no_update"))
                conn.execute(text("DROP TRIGGER audit_event_no_delete"))
            with Session(bind=conn, autoflush=True) as s:
                yield s
        finally:
            trans.rollback()


def recompute_chain(s: Session, org_id: int) -> None:
    """What an attacker does after an edit: every hash made consistent again."""
    prev = audit.GENESIS
    for e in s.scalars(
        select(AuditEvent).where(AuditEvent.organization_id == org_id).order_by(AuditEvent.id)
    ):
        e.prev_hash = prev
        e.hash = audit._event_hash(prev, e)
        prev = e.hash
    s.flush()


def delete(s: Session, *event_ids: int) -> None:
    s.execute(text("DELETE FROM audit_event WHERE id = :id"), [{"id": i} for i in event_ids])


def checkpoint(db, key, org_id: int) -> cps.Checkpoint:
    with db.read_session() as s:
        (cp,) = [c for c in cps.checkpoints_now(s, key) if c.organization_id == org_id]
    return cp


# -- the attack, and what catches it -------------------------------------------------------


Tamper = Callable[[Session, int, list[int]], None]


def _delete_middle(s: Session, org: int, rows: list[int]) -> None:
    delete(s, rows[2])
    recompute_chain(s, org)


def _delete_tail(s: Session, org: int, rows: list[int]) -> None:
    delete(s, *rows[-2:])  # the newest events: no hash after them to break


def _rewrite(s: Session, org: int, rows: list[int]) -> None:
    s.execute(text("UPDATE audit_event SET object_id = 'forged' WHERE id = :id"), {"id": rows[1]})
    recompute_chain(s, org)


def _reorder(s: Session, org: int, rows: list[int]) -> None:
    a, b = (s.get(AuditEvent, i) for i in rows[1:3])
    assert a is not None and b is not None
    a.details, b.details = b.details, a.details
    a.object_id, b.object_id = b.object_id, a.object_id
    recompute_chain(s, org)


@pytest.mark.parametrize(
    "tamper", [_delete_middle, _delete_tail, _rewrite, _reorder], ids=lambda f: f.__name__[1:]
)
def test_the_chain_alone_is_fooled_but_a_signed_checkpoint_is_not(db, owner, key, tamper):
    org = owner.organization_id
    note(db, org, 5)
    rows = ids(db, org)
    cp = checkpoint(db, key, org)
    assert (cp.events, cp.head_id) == (len(rows), rows[-1])
    with db.read_session() as s:
        assert cps.verify_organization(s, org, [(1, cp)]).intact
    with tampering(db) as s:
        tamper(s, org, rows)
        assert audit.verify_chain(s, org)[1] is None  # the report's finding: "intact"
        report = cps.verify_organization(s, org, [(1, cp)])
        assert report.first_broken_id is None
        assert not report.intact
        (problem,) = report.problems
        assert problem.startswith("checkpoint line 1 (")
    with db.read_session() as s:  # rolled back: intact again
        assert cps.verify_organization(s, org, [(1, cp)]).intact


def test_tampering_without_recomputing_breaks_the_chain_itself(db, owner, key):
    org = owner.organization_id
    note(db, org, 4)
    rows = ids(db, org)
    cp = checkpoint(db, key, org)
    with tampering(db) as s:
        delete(s, rows[1])
        report = cps.verify_organization(s, org, [(1, cp)])
        assert report.first_broken_id == rows[2]
        assert "deleted" in report.problems[0]


def test_events_after_the_last_checkpoint_are_not_covered(db, owner, key):
    """The documented limit: the newest events, signed by no checkpoint yet, can vanish."""
    org = owner.organization_id
    note(db, org, 3)
    cp = checkpoint(db, key, org)
    note(db, org, 2)
    with tampering(db) as s:
        delete(s, *ids(db, org)[-2:])
        assert cps.verify_organization(s, org, [(1, cp)]).intact


def test_each_organization_is_checked_against_its_own_checkpoints(db, owner, key):
    other = make_org(db, "Other")
    note(db, owner.organization_id, 2)
    note(db, other.organization_id, 3)
    with db.read_session() as s:
        made = {c.organization_id: c for c in cps.checkpoints_now(s, key)}
    assert made[owner.organization_id].events == 2
    assert made[other.organization_id].events == 3
    with db.read_session() as s:
        for org, cp in made.items():
            assert cps.verify_organization(s, org, [(1, cp)]).intact


# -- signatures and the file ---------------------------------------------------------------


def test_a_checkpoint_line_verifies_only_unchanged_and_with_its_key(db, owner, key, tmp_path):
    note(db, owner.organization_id, 2)
    cp = checkpoint(db, key, owner.organization_id)
    line = orjson.loads(cp.line())
    assert set(line) == {
        "v",
        "organization_id",
        "events",
        "head_id",
        "head_hash",
        "at",
        "key_id",
        "signature",
    }
    assert cp.verifies(key.public_key())
    assert not cp.verifies(Ed25519PrivateKey.generate().public_key())
    forged = {**line, "events": line["events"] - 1}
    path = tmp_path / "cp.jsonl"
    path.write_bytes(cp.line() + orjson.dumps(forged) + b"\nnot json\n\n")
    reading = cps.read_file(path, [key.public_key()])
    assert [n for n, _ in reading.checkpoints] == [1]
    assert reading.problems == [
        "line 2: the signature does not verify (line altered)",
        "line 3: not a checkpoint",
    ]
    other = cps.read_file(path, [Ed25519PrivateKey.generate().public_key()])
    assert other.checkpoints == []
    assert "not among the public keys" in other.problems[0]


def test_the_file_gets_a_checkpoint_only_when_a_head_moved(db, owner, key, tmp_path):
    path = tmp_path / "checkpoints.jsonl"
    org = owner.organization_id
    note(db, org, 2)
    writer = cps.CheckpointFile(path, key.public_key())
    with db.read_session() as s:
        assert [c.events for c in writer.write(s, key)] == [2]
        assert writer.write(s, key) == []  # nothing new
    # another process (own reader, same file) sees what is there and does not repeat it
    with db.read_session() as s:
        assert cps.CheckpointFile(path, key.public_key()).write(s, key) == []
    note(db, org, 1)
    with db.read_session() as s:
        assert [c.events for c in cps.CheckpointFile(path, key.public_key()).write(s, key)] == [3]
        assert writer.write(s, key) == []  # caught up with the other writer's line
    lines = path.read_bytes().splitlines()
    assert len(lines) == 2
    assert stat.S_IMODE(path.stat().st_mode) & 0o007 == 0  # not world-readable
    reading = cps.read_file(path, [key.public_key()])
    assert not reading.problems
    with db.read_session() as s:
        report = cps.verify_organization(s, org, reading.for_organization(org))
    assert report.intact and report.checkpoints_checked == 2


def test_periodic_checkpoints_write_at_start_and_stop(db, owner, key, tmp_path):
    path = tmp_path / "cp.jsonl"
    note(db, owner.organization_id, 1)
    periodic = cps.PeriodicCheckpoints(db.read_session, key, path, interval=3600).start()
    note(db, owner.organization_id, 1)
    periodic.stop()
    events = [orjson.loads(x)["events"] for x in path.read_bytes().splitlines()]
    assert events == [1, 2]


def test_the_periodic_writer_survives_an_unwritable_file(db, owner, key, tmp_path, caplog):
    note(db, owner.organization_id, 1)
    periodic = cps.PeriodicCheckpoints(db.read_session, key, tmp_path / "no" / "dir.jsonl", 3600)
    assert periodic.run_once() == []
    assert "writing audit checkpoints" in caplog.text


# -- keys ----------------------------------------------------------------------------------


def test_keys_load_from_pem_raw_hex_and_base64(tmp_path, key):
    private = tmp_path / "private.pem"
    public = keys.generate_key_file(private)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    loaded = keys.load_private_key(private)
    assert keys.key_id(loaded.public_key()) == keys.key_id(public)
    assert keys.key_id(keys.load_public_key(private)) == keys.key_id(public)
    pem = tmp_path / "public.pem"
    pem.write_text(keys.public_pem(public))
    assert keys.key_id(keys.load_public_key(pem)) == keys.key_id(public)
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    for i, data in enumerate([raw, raw.hex().encode(), base64.b64encode(raw) + b"\n"]):
        path = tmp_path / f"k{i}"
        path.write_bytes(data)
        assert keys.key_id(keys.load_private_key(path).public_key()) == keys.key_id(
            key.public_key()
        )


def test_key_problems_are_named_errors(tmp_path):
    private = tmp_path / "k.pem"
    keys.generate_key_file(private)
    with pytest.raises(InvalidInput, match="never overwritten"):
        keys.generate_key_file(private)
    junk = tmp_path / "junk"
    junk.write_text("hello")
    with pytest.raises(InvalidInput, match="not an Ed25519 private key"):
        keys.load_private_key(junk)
    with pytest.raises(InvalidInput, match="Cannot read the key file"):
        keys.load_private_key(tmp_path / "missing")
    rsa_like = tmp_path / "pub.pem"
    rsa_like.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    with pytest.raises(InvalidInput, match="not an Ed25519 public key"):
        keys.load_public_key(rsa_like)


# -- the API and the page report a mismatch --------------------------------------------------


def test_verify_api_checks_the_latest_checkpoint_when_configured(app, db, owner, tmp_path):
    key_path = tmp_path / "audit.key"
    public = keys.generate_key_file(key_path)
    cp_path = tmp_path / "checkpoints.jsonl"
    app.state.settings.audit_signing_key = key_path
    app.state.settings.audit_checkpoint_file = cp_path
    make_project(db, owner)
    make_project(db, owner)
    with db.read_session() as s:
        cps.CheckpointFile(cp_path, public).write(s, keys.load_private_key(key_path))
    c = login(app, owner)  # one more event, after the checkpoint
    body = c.get("/api/audit/verify").json()
    assert body["intact"] is True and body["problems"] == []
    assert body["checkpoint"]["latest"]["events"] == 2
    # delete the newest checkpointed event, for good this time (the chain stays linked)
    head = ids(db, owner.organization_id)[1]
    if db.dialect == "postgresql":
        stmts = [
            "ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_change",
            f"DELETE FROM audit_event WHERE id = {head}",
            "ALTER TABLE audit_event ENABLE TRIGGER audit_event_no_change",
        ]
    else:
        stmts = ["DROP TRIGGER audit_event_no_delete", f"DELETE FROM audit_event WHERE id = {head}"]
    with db.engine.begin() as conn:
        for stmt in stmts:
            conn.execute(text(stmt))
    body = c.get("/api/audit/verify").json()
    assert body["intact"] is False
    assert "is gone" in body["problems"][0] or "no longer" in body["problems"][0]
    page = c.get("/audit")
    assert page.status_code == 200
    assert "checkpoint mismatch" in page.text


def test_unreadable_checkpoint_settings_are_reported_not_raised(app, db, owner, tmp_path):
    app.state.settings.audit_signing_key = tmp_path / "missing.key"
    app.state.settings.audit_checkpoint_file = tmp_path / "cp.jsonl"
    c = login(app, owner)
    r = c.get("/api/audit/verify")
    assert r.status_code == 200
    assert r.json()["intact"] is False
    assert "cannot be read" in r.json()["problems"][0]
    assert c.get("/audit").status_code == 200
