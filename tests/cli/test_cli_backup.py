"""``labelhouse backup`` and ``labelhouse restore``: a backup of a SQLite installation taken
while annotators work restores to a copy that passes every check; a changed backup, a
non-empty target and PostgreSQL installations get a sentence, never a traceback."""

from __future__ import annotations

import io
import shutil
import sqlite3
import threading
from pathlib import Path

import orjson
import pytest
from PIL import Image
from sqlalchemy import create_engine
from typer.testing import CliRunner

from labelhouse import __version__
from labelhouse.audit import service as audit
from labelhouse.cli.main import app as cli_app
from labelhouse.db import migrate
from labelhouse.db.backup import back_up_sqlite
from labelhouse.storage import LocalStorage
from labelhouse.tables import Base
from labelhouse.tasks.service import store_file
from tests.factories import add_member, add_tasks, login, make_project, text_rows

TASKS = 300
ANNOTATORS = 4
WRITES_DURING_BACKUP = 12  # submissions the backup must see committed while it holds its snapshot


def cli(*args: str, env: dict[str, str | None] | None = None):
    return CliRunner().invoke(
        cli_app,
        list(args),
        env={"LABELHOUSE_DATABASE_URL": None, "LABELHOUSE_STORAGE_DIR": None, **(env or {})},
        catch_exceptions=False,  # a traceback fails the test
    )


def sqlite_only(backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("backs up a SQLite installation")


def png(colour: str) -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", (3, 3), colour).save(out, format="PNG")
    out.seek(0)
    return out


def row_counts(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return {
            t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
            for t in Base.metadata.tables
        }
    finally:
        conn.close()


@pytest.fixture
def installation(backend, db, owner, settings):
    """A data folder (``settings.data_dir``) with a project of TASKS tasks and two images."""
    sqlite_only(backend)
    pid = make_project(db, owner, name="Reviews", overlap=2)
    add_tasks(db, owner, pid, text_rows(TASKS))
    storage = LocalStorage(settings.resolved_storage_dir)
    with db.session() as s:
        for colour in ("red", "blue"):
            store_file(
                s,
                owner.actor,
                pid,
                name=f"{colour}.png",
                source=png(colour),
                storage=storage,
                max_bytes=1 << 20,
            )
    return pid


def test_a_backup_taken_while_annotators_write_restores_to_a_consistent_copy(
    app, db, owner, settings, installation, tmp_path
):
    pid = installation
    members = [add_member(db, owner) for _ in range(ANNOTATORS)]
    clients = [login(app, m) for m in members]  # sign-ins: audit events
    stop = threading.Event()
    moved = threading.Condition()
    done = {"submits": 0, "events": 0}
    errors: list[BaseException] = []

    def count(what: str) -> None:
        with moved:
            done[what] += 1
            moved.notify_all()

    def annotate(c) -> None:  # the real annotator loop: /next, then submit
        try:
            while not stop.is_set():
                r = c.post(f"/api/projects/{pid}/next")
                assert r.status_code == 200, r.text
                task = r.json()["task"]
                if task is None:
                    return
                r = c.post(f"/api/tasks/{task['id']}/annotations", json={"value": {"label": "pos"}})
                assert r.status_code in (200, 201), r.text
                count("submits")
        except BaseException as exc:
            errors.append(exc)

    def log_events() -> None:  # the audit chain grows during the backup too
        try:
            while not stop.is_set():
                with db.session() as s:
                    audit.record(
                        s,
                        organization_id=owner.organization_id,
                        actor_id=owner.user_id,
                        action="test.tick",
                        object_type="test",
                        object_id=done["events"],
                    )
                count("events")
        except BaseException as exc:
            errors.append(exc)

    def wait_for(what: str, n: int) -> int:
        with moved:
            assert moved.wait_for(lambda: done[what] >= n or bool(errors), timeout=60), done
        assert not errors, errors
        return done[what]

    in_snapshot: dict[str, int] = {}

    def held(what: str, _done: int, _total: int) -> None:
        """On the first step of the copy (its snapshot held): writers must keep committing."""
        if what != "database" or in_snapshot:
            return
        in_snapshot["annotations"] = row_counts(tmp_path / "labelhouse.db")["annotation"]
        wait_for("submits", done["submits"] + WRITES_DURING_BACKUP)
        wait_for("events", done["events"] + 3)

    threads = [threading.Thread(target=annotate, args=(c,)) for c in clients]
    threads.append(threading.Thread(target=log_events))
    for t in threads:
        t.start()
    try:
        wait_for("submits", 10)
        result = back_up_sqlite(
            db.url,
            settings.resolved_storage_dir,
            tmp_path / "backup",
            tables=list(Base.metadata.tables),
            version=__version__,
            pages_per_step=8,  # many steps, even for a small file
            progress=held,
        )
        wait_for("submits", done["submits"] + 5)  # and after it
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not errors, errors

    manifest = orjson.loads((tmp_path / "backup" / "manifest.json").read_bytes())
    counts = manifest["counts"]
    assert counts == result.counts
    assert manifest["database"]["alembic_revision"] == [head_revision()]
    assert manifest["labelhouse_version"] == __version__
    # one snapshot, from before the first step: none of the writes made meanwhile
    assert 10 <= counts["annotation"] <= in_snapshot["annotations"]
    assert row_counts(tmp_path / "labelhouse.db")["annotation"] > (
        counts["annotation"] + WRITES_DURING_BACKUP
    )
    assert counts["task"] == TASKS and counts["stored_file"] == 2
    assert {f["path"] for f in manifest["files"]} == {"labelhouse.db"} | {
        f"files/{p.relative_to(settings.resolved_storage_dir).as_posix()}"
        for p in settings.resolved_storage_dir.rglob("*.png")
    }

    restored = tmp_path / "restored"
    r = cli("restore", str(tmp_path / "backup"), "--data-dir", str(restored))
    assert r.exit_code == 0, r.output
    assert r.stdout == f"{restored}\n"
    assert "every checksum and row count matches" in r.stderr
    assert row_counts(restored / "labelhouse.db") == counts
    for entry in manifest["files"][1:]:
        assert (restored / entry["path"]).read_bytes() == (
            settings.resolved_storage_dir / entry["path"].removeprefix("files/")
        ).read_bytes()

    check = cli("db", "check", "--deep", "--data-dir", str(restored))
    assert check.exit_code == 0, check.output
    assert "Storage: no damage found" in check.stdout
    assert f"Work queue: 14 rules over {TASKS} tasks: all hold." in check.stdout
    verified = cli("audit-verify", "--data-dir", str(restored))
    assert verified.exit_code == 0, verified.output
    events = counts["audit_event"]
    assert f"organization {owner.organization_id}: {events} events, intact" in verified.stdout
    assert events >= ANNOTATORS  # the sign-ins, and the ticks before the snapshot


@pytest.fixture
def backed_up(installation, settings, tmp_path) -> Path:
    r = cli("backup", str(tmp_path / "backup"), "--data-dir", str(settings.data_dir))
    assert r.exit_code == 0, r.output
    assert r.stdout == f"{tmp_path / 'backup'}\n"
    assert "Copied the database" in r.stderr and f"{TASKS:,} tasks" in r.stderr
    return tmp_path / "backup"


def no_leftovers(folder: Path) -> None:
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("target", ["labelhouse.db", "image"])
def test_a_changed_file_is_refused_naming_it(backed_up, tmp_path, target):
    changed = (
        backed_up / "labelhouse.db"
        if target == "labelhouse.db"
        else next((backed_up / "files").rglob("*.png"))
    )
    flip_a_byte(changed)
    r = cli("restore", str(backed_up), "--data-dir", str(tmp_path / "restored"))
    assert r.exit_code == 1
    message = " ".join(r.stderr.split())
    assert f"{changed} does not match the backup's manifest" in message
    assert "Nothing was restored." in message
    assert not (tmp_path / "restored").exists()
    no_leftovers(tmp_path)


def test_a_changed_manifest_a_missing_and_an_extra_file_are_refused(backed_up, tmp_path):
    target = tmp_path / "restored"
    manifest = backed_up / "manifest.json"
    original = manifest.read_bytes()
    manifest.write_bytes(original.replace(f'"task": {TASKS}'.encode(), b'"task": 1'))
    r = cli("restore", str(backed_up), "--data-dir", str(target))
    assert r.exit_code == 1
    assert f"{manifest} does not match its SHA-256 in" in " ".join(r.stderr.split())
    manifest.write_bytes(original)

    image = next((backed_up / "files").rglob("*.png"))
    image.rename(tmp_path / "aside.png")
    r = cli("restore", str(backed_up), "--data-dir", str(target))
    assert r.exit_code == 1
    assert f"{image} is missing from the backup" in " ".join(r.stderr.split())
    (tmp_path / "aside.png").rename(image)

    (backed_up / "files" / "planted.sh").write_text("echo hi")
    r = cli("restore", str(backed_up), "--data-dir", str(target))
    assert r.exit_code == 1
    assert f"{backed_up / 'files' / 'planted.sh'} is in the backup folder but not in its" in (
        " ".join(r.stderr.split())
    )
    assert not target.exists()


def test_non_empty_folders_are_refused_and_force_keeps_the_old_contents(
    backed_up, settings, tmp_path
):
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    r = cli("backup", str(occupied), "--data-dir", str(settings.data_dir))
    assert r.exit_code == 1
    assert f"Error: {occupied} is not empty" in " ".join(r.stderr.split())
    assert [p.name for p in occupied.iterdir()] == ["notes.txt"]

    r = cli("restore", str(backed_up), "--data-dir", str(occupied))
    assert r.exit_code == 1
    assert "pass --force to restore there anyway" in " ".join(r.stderr.split())
    assert [p.name for p in occupied.iterdir()] == ["notes.txt"]

    r = cli("restore", str(backed_up), "--data-dir", str(occupied), "--force")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in occupied.iterdir()) == ["files", "labelhouse.db"]
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("occupied.before-restore-")]
    assert len(aside) == 1 and (aside[0] / "notes.txt").read_text() == "mine"
    assert f"is now in {aside[0]}" in " ".join(r.stderr.split())
    no_leftovers(tmp_path)

    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("restore", str(backed_up), "--data-dir", str(empty)).exit_code == 0
    assert (empty / "labelhouse.db").is_file()


def head_revision() -> str:
    """The newest migration's revision (what a fresh database is at)."""
    from alembic.script import ScriptDirectory

    from labelhouse.db.migrate import alembic_config

    engine = create_engine("sqlite://")
    try:
        (head,) = ScriptDirectory.from_config(alembic_config(engine)).get_heads()
    finally:
        engine.dispose()
    return head


def test_a_backup_from_an_older_version_is_upgraded_on_restore(backend, tmp_path):
    sqlite_only(backend)
    old = tmp_path / "old"
    old.mkdir()
    engine = create_engine(f"sqlite:///{old / 'labelhouse.db'}")
    migrate.upgrade(engine, "0011")
    engine.dispose()
    r = cli("backup", str(tmp_path / "backup"), "--data-dir", str(old))
    assert r.exit_code == 0, r.output
    assert "revision 0011" in r.stderr
    manifest = orjson.loads((tmp_path / "backup" / "manifest.json").read_bytes())
    assert manifest["database"]["alembic_revision"] == ["0011"]
    with sqlite3.connect(old / "labelhouse.db") as conn:  # a backup never migrates
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("0011",)]

    r = cli("restore", str(tmp_path / "backup"), "--data-dir", str(tmp_path / "new"))
    assert r.exit_code == 0, r.output
    assert f"Upgraded the database from revision 0011 to {head_revision()}." in r.stderr
    check = cli("db", "check", "--data-dir", str(tmp_path / "new"))
    assert check.exit_code == 0, check.output
    assert "No differences between models and database." in check.stdout


def test_a_backup_from_a_newer_version_is_refused(backend, tmp_path):
    sqlite_only(backend)
    newer = tmp_path / "newer"
    newer.mkdir()
    engine = create_engine(f"sqlite:///{newer / 'labelhouse.db'}")
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0099'")
    engine.dispose()
    assert cli("backup", str(tmp_path / "backup"), "--data-dir", str(newer)).exit_code == 0
    r = cli("restore", str(tmp_path / "backup"), "--data-dir", str(tmp_path / "new"))
    assert r.exit_code == 1
    message = " ".join(r.stderr.split())
    assert "at revision 0099, which this version of Labelhouse does not know" in message
    assert not (tmp_path / "new").exists()
    no_leftovers(tmp_path)


def test_a_missing_or_damaged_database_is_a_sentence(tmp_path):
    r = cli("backup", str(tmp_path / "backup"), "--data-dir", str(tmp_path / "nothing"))
    assert r.exit_code == 1
    assert f"There is no database at {tmp_path / 'nothing' / 'labelhouse.db'}" in (
        " ".join(r.stderr.split())
    )
    assert not (tmp_path / "backup").exists() and not (tmp_path / "nothing").exists()
    r = cli("restore", str(tmp_path / "nothing"), "--data-dir", str(tmp_path / "new"))
    assert r.exit_code == 1
    assert "is not a folder: give the folder `labelhouse backup` wrote" in r.stderr

    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "labelhouse.db").write_text("not a database, just text")
    r = cli("backup", str(tmp_path / "backup"), "--data-dir", str(damaged))
    assert r.exit_code == 1
    message = " ".join(r.stderr.split())
    assert f"{damaged / 'labelhouse.db'} is not a SQLite database" in message
    assert "Nothing was backed up." in message
    assert not (tmp_path / "backup").exists()
    no_leftovers(tmp_path)


def test_a_folder_that_cannot_be_written_is_a_sentence(backed_up, settings, tmp_path):
    (tmp_path / "a-file").write_text("")
    r = cli("backup", str(tmp_path / "a-file" / "b"), "--data-dir", str(settings.data_dir))
    assert r.exit_code == 1
    message = " ".join(r.stderr.split())
    assert f"Could not write {tmp_path / 'a-file'}/" in message
    assert "Not a directory. Nothing was kept at" in message
    r = cli("restore", str(backed_up), "--data-dir", str(tmp_path / "a-file" / "r"))
    assert r.exit_code == 1
    assert "then run the restore again." in " ".join(r.stderr.split())


def test_postgresql_installations_are_told_the_commands(tmp_path):
    env = {
        "LABELHOUSE_DATABASE_URL": "postgresql+psycopg://lab:s3cret@db.example.org:5433/lh",
        "LABELHOUSE_STORAGE_URL": "s3://media/lh",
        "LABELHOUSE_S3_ENDPOINT_URL": "http://minio:9000",
    }
    target = tmp_path / "pg-backup"
    r = cli("backup", str(target), env=env)
    assert r.exit_code == 1
    assert r.stdout.splitlines() == [
        f"mkdir {target}",
        f"pg_dump --format=custom --file={target}/labelhouse.dump "
        "postgresql://lab@db.example.org:5433/lh",
        f"aws s3 sync s3://media/lh {target}/files --endpoint-url http://minio:9000",
    ]
    message = " ".join(r.stderr.split())
    assert "back it up with pg_dump, then copy the bucket — in that order" in message
    assert "PGPASSWORD" in message and "s3cret" not in r.output
    assert "pg_restore --exit-on-error --single-transaction" in message
    assert not target.exists()

    r = cli("restore", str(target), env=env)
    assert r.exit_code == 1
    assert r.stdout.splitlines()[0].startswith(f"aws s3 sync {target}/files s3://media/lh")
    assert r.stdout.splitlines()[1].startswith("pg_restore ")


def test_the_printed_postgresql_commands_back_up_and_restore(
    backend, db, owner, settings, tmp_path
):
    """The commands `backup` and `restore` print on PostgreSQL, run as printed (but for the
    restore's target database, a fresh one): the copy passes every check."""
    if backend != "postgresql" or not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("needs PostgreSQL and its client tools")
    import os
    import subprocess

    from sqlalchemy import make_url, text

    pid = make_project(db, owner, name="Reviews", overlap=2)
    add_tasks(db, owner, pid, text_rows(50))
    with db.session() as s:
        store_file(
            s,
            owner.actor,
            pid,
            name="red.png",
            source=png("red"),
            storage=LocalStorage(settings.resolved_storage_dir),
            max_bytes=1 << 20,
        )
    app_env = {"LABELHOUSE_DATABASE_URL": db.url}
    target = tmp_path / "pg-backup"
    printed = cli("backup", str(target), "--data-dir", str(settings.data_dir), env=app_env)
    assert printed.exit_code == 1
    for line in printed.stdout.splitlines():
        subprocess.run(line, shell=True, check=True, env=os.environ)
    assert (target / "labelhouse.dump").is_file() and len(list(target.rglob("*.png"))) == 1

    fresh = f"labelhouse_restore_{os.getpid()}"
    admin = create_engine(db.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{fresh}"'))
        c.execute(text(f'CREATE DATABASE "{fresh}"'))
    fresh_url = make_url(db.url).set(database=fresh).render_as_string(hide_password=False)
    try:
        restored = tmp_path / "restored"
        env = {"LABELHOUSE_DATABASE_URL": fresh_url}
        steps = cli("restore", str(target), "--data-dir", str(restored), env=env)
        assert steps.exit_code == 1
        lines = steps.stdout.splitlines()
        assert lines[2:] == [
            "labelhouse db upgrade",
            "labelhouse db check --deep && labelhouse audit-verify",
        ]
        for line in lines[:2]:  # the media, then the database
            subprocess.run(line, shell=True, check=True, env=os.environ)
        assert len(list((restored / "files").rglob("*.png"))) == 1
        assert cli("db", "upgrade", "--data-dir", str(restored), env=env).exit_code == 0
        check = cli("db", "check", "--deep", "--data-dir", str(restored), env=env)
        assert check.exit_code == 0, check.output
        assert "Work queue: 14 rules over 50 tasks: all hold." in check.stdout
        verified = cli("audit-verify", "--data-dir", str(restored), env=env)
        assert verified.exit_code == 0, verified.output
        engines = create_engine(db.url), create_engine(fresh_url)
        for table in ("task", "audit_event", "stored_file", "user_account"):
            counted = []
            for engine in engines:
                with engine.connect() as c:
                    counted.append(c.execute(text(f'SELECT count(*) FROM "{table}"')).scalar())
            assert counted[0] == counted[1] > 0, table
        for engine in engines:
            engine.dispose()
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)'))
        admin.dispose()
