"""``labelhouse audit keygen|checkpoint|verify`` and ``audit-verify --checkpoints``: a key
pair, signed checkpoints for cron, and verification that catches what the hash chain alone
cannot (a deleted tail, a recomputed chain)."""

from __future__ import annotations

import stat
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from labelhouse.audit import service as audit
from labelhouse.audit.models import AuditEvent
from labelhouse.cli.main import app as cli_app
from tests.factories import make_org, make_project


@pytest.fixture
def cli(db_url, tmp_path):
    data_dir = tmp_path / "cli-data"

    def run(*args: str, env: dict[str, str] | None = None):
        result = CliRunner().invoke(
            cli_app,
            [*args, "--data-dir", str(data_dir)]
            if args[0] != "audit" or args[1] != "keygen"
            else list(args),
            env={"LABELHOUSE_DATABASE_URL": db_url, "COLUMNS": "200", **(env or {})},
            catch_exceptions=False,
        )
        assert "Traceback" not in result.output
        return result

    return run


@pytest.fixture
def keys(cli, tmp_path) -> tuple[Path, Path]:
    private = tmp_path / "audit.key"
    result = cli("audit", "keygen", str(private))
    assert result.exit_code == 0, result.output
    public = tmp_path / "audit.pub"
    public.write_text(result.stdout)
    return private, public


def _delete_for_good(db, *event_ids: int) -> None:
    """Committed tampering, with the protection put back afterwards (PostgreSQL's test
    database is shared by the session; each SQLite test has its own copy)."""
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_change"))
        else:
            conn.execute(text("DROP TRIGGER audit_event_no_delete"))
            conn.execute(text("DROP TRIGGER audit_event_no_update"))
        for i in event_ids:
            conn.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": i})
        # the attacker's last step: every hash after the change made consistent again
        prev = audit.GENESIS
        rows = conn.execute(
            select(AuditEvent.__table__).order_by(AuditEvent.id)  # type: ignore[arg-type]
        ).all()
        for org in sorted({r.organization_id for r in rows}):
            prev = audit.GENESIS
            for r in [r for r in rows if r.organization_id == org]:
                e = AuditEvent(**{k: getattr(r, k) for k in r._fields})
                h = audit._event_hash(prev, e)
                conn.execute(
                    text("UPDATE audit_event SET prev_hash = :p, hash = :h WHERE id = :id"),
                    {"p": prev, "h": h, "id": r.id},
                )
                prev = h
        if db.dialect == "postgresql":
            conn.execute(text("ALTER TABLE audit_event ENABLE TRIGGER audit_event_no_change"))


def _ids(db, org: int) -> list[int]:
    with db.read_session() as s:
        return list(
            s.scalars(
                select(AuditEvent.id)
                .where(AuditEvent.organization_id == org)
                .order_by(AuditEvent.id)
            )
        )


def test_keygen_writes_a_private_key_and_prints_the_public_one(cli, tmp_path):
    private = tmp_path / "k.pem"
    result = cli("audit", "keygen", str(private))
    assert result.exit_code == 0
    assert result.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE" not in result.stdout
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in private.read_bytes()
    again = cli("audit", "keygen", str(private))
    assert again.exit_code == 1
    assert "never overwritten" in again.stderr


def test_checkpoints_then_verify_detects_a_recomputed_chain_and_a_deleted_tail(
    db, cli, keys, tmp_path
):
    private, public = keys
    owner = make_org(db)
    other = make_org(db, "Other")
    for _ in range(4):
        make_project(db, owner)
    make_project(db, other)
    file = tmp_path / "checkpoints.jsonl"
    result = cli("audit", "checkpoint", "--key", str(private), "-o", str(file))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # the file is the result; what was signed is on stderr
    assert "signed 4 events" in result.stderr
    lines = [orjson.loads(x) for x in file.read_bytes().splitlines()]
    assert sorted(x["events"] for x in lines) == [1, 4]
    # nothing moved: nothing appended
    assert cli("audit", "checkpoint", "--key", str(private), "-o", str(file)).exit_code == 0
    assert len(file.read_bytes().splitlines()) == 2

    ok = cli("audit-verify", "--checkpoints", str(file), "--public-key", str(public))
    assert ok.exit_code == 0, ok.output
    assert f"organization {owner.organization_id}: 4 events, 1 checkpoints, intact" in ok.stdout
    assert f"organization {other.organization_id}: 1 events, 1 checkpoints, intact" in ok.stdout

    middle, *_, newest = _ids(db, owner.organization_id)[1:]
    _delete_for_good(db, middle, newest)
    chain_only = cli("audit-verify")
    assert chain_only.exit_code == 0  # the report's finding: the chain alone says intact
    bad = cli("audit", "verify", "--checkpoints", str(file), "--public-key", str(public))
    assert bad.exit_code == 1
    assert (
        f"organization {owner.organization_id}: 2 events, 1 checkpoints, does not match"
        in bad.stdout
    )
    assert "is gone — events were deleted" in bad.stdout
    assert f"organization {other.organization_id}: 1 events, 1 checkpoints, intact" in bad.stdout


def test_checkpoint_to_standard_output_and_settings_from_the_environment(db, cli, keys, tmp_path):
    private, _ = keys
    owner = make_org(db)
    make_project(db, owner)
    out = cli("audit", "checkpoint", "-o", "-", env={"LABELHOUSE_AUDIT_SIGNING_KEY": str(private)})
    assert out.exit_code == 0, out.output
    (line,) = [orjson.loads(x) for x in out.stdout.splitlines()]
    assert line["organization_id"] == owner.organization_id and line["events"] == 1
    file = tmp_path / "from-env.jsonl"
    env = {
        "LABELHOUSE_AUDIT_SIGNING_KEY": str(private),
        "LABELHOUSE_AUDIT_CHECKPOINT_FILE": str(file),
    }
    assert cli("audit", "checkpoint", env=env).exit_code == 0
    assert len(file.read_bytes().splitlines()) == 1
    # the verifying key defaults to the public half of the configured signing key
    ok = cli("audit-verify", "--checkpoints", str(file), env=env)
    assert ok.exit_code == 0, ok.output


def test_a_wrong_key_or_an_altered_line_fails_verification(db, cli, keys, tmp_path):
    private, _ = keys
    make_project(db, make_org(db))
    file = tmp_path / "cp.jsonl"
    assert cli("audit", "checkpoint", "--key", str(private), "-o", str(file)).exit_code == 0
    stranger = tmp_path / "stranger.key"
    stranger_pub = tmp_path / "stranger.pub"
    stranger_pub.write_text(cli("audit", "keygen", str(stranger)).stdout)
    wrong = cli("audit-verify", "--checkpoints", str(file), "--public-key", str(stranger_pub))
    assert wrong.exit_code == 1
    assert "not among the public keys given" in wrong.stdout
    line = orjson.loads(file.read_bytes())
    file.write_bytes(orjson.dumps({**line, "events": 99}) + b"\n")
    _, public = keys
    altered = cli("audit-verify", "--checkpoints", str(file), "--public-key", str(public))
    assert altered.exit_code == 1
    assert "line 1: the signature does not verify" in altered.stdout


def test_missing_options_are_explained(db, cli, tmp_path):
    file = tmp_path / "cp.jsonl"
    file.write_text("")
    no_key = cli("audit-verify", "--checkpoints", str(file))
    assert no_key.exit_code == 2
    assert "--public-key" in no_key.stderr
    nowhere = cli("audit", "checkpoint")
    assert nowhere.exit_code == 2
    assert "LABELHOUSE_AUDIT_CHECKPOINT_FILE" in nowhere.stderr
    no_signing_key = cli("audit", "checkpoint", "-o", "-")
    assert no_signing_key.exit_code == 2
    assert "labelhouse audit keygen" in no_signing_key.stderr
    bad_key = tmp_path / "bad.key"
    bad_key.write_text("nope")
    result = cli("audit", "checkpoint", "--key", str(bad_key), "-o", "-")
    assert result.exit_code == 1
    assert "not an Ed25519 private key" in result.stderr


def test_adding_a_member_from_the_command_line_is_recorded(db, cli):
    owner = make_org(db)
    result = cli("users", "create", "cli-added@example.com", "--role", "reviewer")
    assert result.exit_code == 0, result.output
    with db.read_session() as s:
        (e,) = s.scalars(select(AuditEvent).where(AuditEvent.action == "member.add")).all()
        assert (e.organization_id, e.actor_id) == (owner.organization_id, None)
        assert e.details == {"email": "cli-added@example.com", "role": "reviewer", "via": "cli"}
