"""Snapshots: a manifest with every file's hash, byte-identical downloads, the same bytes
when regenerated from the snapshot's settings, and ``labelhouse snapshot verify``."""

from __future__ import annotations

import hashlib

import orjson
import pytest
from typer.testing import CliRunner

from labelhouse.cli.main import app as cli_app
from labelhouse.jobs.exports import plan_from
from labelhouse.jobs.models import Snapshot
from labelhouse.projects.models import Project
from labelhouse.projects.service import load_schema
from tests.factories import login
from tests.jobs.conftest import wait_for

FORMATS = ["jsonl", "json", "csv"]


@pytest.fixture
def cli(db_url, settings):
    data_dir = str(settings.data_dir)

    def run(*args: str):
        return CliRunner().invoke(
            cli_app,
            list(args) if args[:2] == ("snapshot", "verify") else [*args, "--data-dir", data_dir],
            env={"LABELHOUSE_DATABASE_URL": db_url},
            catch_exceptions=False,
        )

    return run


@pytest.fixture
def snapshot(app, db, owner, project, consumer):
    """A finished snapshot of the project in three formats, consensus included."""
    c = login(app, owner)
    r = c.post(
        f"/api/projects/{project}/snapshots",
        json={
            "name": "Round 1",
            "formats": FORMATS,
            "content": "both",
            "consensus_method": "dawid_skene",
        },
    )
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["job"]["kind"] == "snapshot" and body["files"] == []
    job = wait_for(db, body["job"]["id"])
    assert job.state == "succeeded", job.error
    return c, body["id"]


def test_the_manifest_names_every_file_with_its_hash(app, db, project, snapshot):
    c, sid = snapshot
    shown = c.get(f"/api/snapshots/{sid}").json()
    manifest = shown["manifest"]
    assert manifest["snapshot_id"] == sid and manifest["name"] == "Round 1"
    assert manifest["project"]["id"] == project
    assert manifest["formats"] == FORMATS
    assert manifest["consensus"] == {"content": "both", "method": "dawid_skene"}
    assert manifest["filters"] == {"include_drafts": False}
    assert manifest["counts"] == {
        "tasks": 12,
        "annotations": 16,
        "annotation_schema_versions": [1],
    }
    assert manifest["schema_version"] == 1 and manifest["labelhouse_version"]
    assert {f["name"] for f in manifest["files"]} == {
        "labels-jsonl.jsonl",
        "labels-json.json",
        "labels-csv.csv",
    }
    for entry in manifest["files"]:
        body = c.get(f"/api/snapshots/{sid}/files/{entry['name']}").content
        assert len(body) == entry["size"]
        assert hashlib.sha256(body).hexdigest() == entry["sha256"]
    stored = c.get(f"/api/snapshots/{sid}/files/manifest.json").content
    assert orjson.loads(stored) == manifest
    listed = c.get(f"/api/projects/{project}/snapshots").json()["items"]
    assert [s["id"] for s in listed] == [sid]
    assert len(listed[0]["files"]) == 4  # three formats and the manifest


def test_the_same_snapshot_always_gives_the_same_bytes(app, db, project, snapshot):
    c, sid = snapshot
    files = c.get(f"/api/snapshots/{sid}").json()["manifest"]["files"]
    # Downloading twice, and regenerating each file from the snapshot's settings while the
    # data has not changed: byte for byte the same (the writers are deterministic).
    with db.read_session() as s:
        row = s.get(Snapshot, sid)
        proj = s.get(Project, project)
        schema = load_schema(s, proj)
        for entry in files:
            first = c.get(f"/api/snapshots/{sid}/files/{entry['name']}").content
            second = c.get(f"/api/snapshots/{sid}/files/{entry['name']}").content
            assert first == second
            again = b"".join(plan_from(proj, schema, row.settings, entry["format"]).stream(s))
            assert again == first, entry["name"]


def test_a_snapshot_in_progress_has_no_files_yet(app, db, owner, project):
    c = login(app, owner)
    sid = c.post(f"/api/projects/{project}/snapshots", json={"formats": ["jsonl"]}).json()["id"]
    assert c.get(f"/api/snapshots/{sid}").json()["manifest"] is None
    assert c.get(f"/api/snapshots/{sid}/files/labels-jsonl.jsonl").status_code == 409


def test_snapshot_settings_are_checked_like_an_export(app, owner, project):
    c = login(app, owner)
    bad = c.post(f"/api/projects/{project}/snapshots", json={"formats": ["jsonl", "xml"]})
    assert bad.status_code == 422
    stray = c.post(
        f"/api/projects/{project}/snapshots",
        json={"formats": ["jsonl"], "options": {"csv": {"x": "y"}}},
    )
    assert stray.status_code == 422
    assert stray.json()["error"]["details"][0]["field"] == "options"


def test_download_then_verify_and_tampering_is_named(cli, snapshot, tmp_path):
    _, sid = snapshot
    folder = tmp_path / "copy"
    r = cli("snapshot", "download", str(sid), str(folder))
    assert r.exit_code == 0, r.output
    ok = cli("snapshot", "verify", str(folder))
    assert ok.exit_code == 0, ok.output
    assert ok.stdout == ""

    with (folder / "labels-csv.csv").open("ab") as f:
        f.write(b"one more row\n")
    (folder / "labels-json.json").unlink()
    (folder / "notes.txt").write_text("mine")
    bad = cli("snapshot", "verify", str(folder))
    assert bad.exit_code == 1
    lines = bad.stdout.splitlines()
    assert any(line.startswith("labels-csv.csv: size") for line in lines)
    assert "labels-json.json: missing" in lines
    assert "notes.txt: extra (not in the manifest)" in lines
    assert not any(line.startswith("labels-jsonl.jsonl") for line in lines)


def test_same_size_tampering_is_caught_by_the_hash(cli, snapshot, tmp_path):
    _, sid = snapshot
    folder = tmp_path / "copy"
    assert cli("snapshot", "download", str(sid), str(folder)).exit_code == 0
    target = folder / "labels-jsonl.jsonl"
    data = bytearray(target.read_bytes())
    data[10] = ord("X") if data[10] != ord("X") else ord("Y")
    target.write_bytes(bytes(data))
    bad = cli("snapshot", "verify", str(folder))
    assert bad.exit_code == 1
    assert bad.stdout.startswith("labels-jsonl.jsonl: sha256 ")


def test_verify_without_a_manifest_says_so(cli, tmp_path):
    r = cli("snapshot", "verify", str(tmp_path))
    assert r.exit_code == 2
    assert "manifest.jsondoesnotexist" in "".join(r.output.split())  # rich may fold it


def test_snapshot_create_list_and_jobs_from_the_command_line(cli, db, project, tmp_path):
    r = cli("snapshot", "create", str(project), "-f", "jsonl", "-f", "csv", "--name", "cli")
    assert r.exit_code == 0, r.output
    sid = int(r.stdout.strip())
    listed = orjson.loads(cli("snapshot", "list", str(project), "--json").stdout)
    assert listed[0]["id"] == sid and listed[0]["state"] == "succeeded"
    assert listed[0]["files"] == ["labels-jsonl.jsonl", "labels-csv.csv"]
    jobs = orjson.loads(cli("jobs", "list", str(project), "--json").stdout)
    assert jobs[0]["kind"] == "snapshot" and jobs[0]["state"] == "succeeded"
    shown = orjson.loads(cli("jobs", "show", str(jobs[0]["id"]), "--json").stdout)
    assert shown["result"]["name"] == "manifest.json"
    queued = cli("snapshot", "create", str(project), "--background")
    assert queued.exit_code == 0
    later = orjson.loads(cli("jobs", "list", str(project), "--json").stdout)[0]
    assert later["state"] == "queued"
    cancelled = cli("jobs", "cancel", str(later["id"]))
    assert cancelled.exit_code == 0
    missing = cli("jobs", "show", "99999")
    assert missing.exit_code == 1 and "does not exist" in missing.output


def _snapshot_files(c, db, project, formats):
    r = c.post(f"/api/projects/{project}/snapshots", json={"formats": formats})
    assert r.status_code == 202, r.text
    job = wait_for(db, r.json()["job"]["id"])
    assert job.state == "succeeded", job.error
    sid = r.json()["id"]
    files = c.get(f"/api/snapshots/{sid}").json()["manifest"]["files"]
    return sid, {
        f["format"]: c.get(f"/api/snapshots/{sid}/files/{f['name']}").content for f in files
    }


def test_training_formats_rebuild_identically_with_the_snapshots_own_pseudonyms(
    app, db, owner, project, consumer
):
    """Parquet and the Hugging Face dataset carry pseudonymous annotators (a key drawn per
    export) and save_to_disk records a random fingerprint: a snapshot fixes both, so its
    files rebuild byte for byte; another snapshot gets other pseudonyms."""
    pytest.importorskip("datasets")
    import io

    import pyarrow.parquet as pq

    c = login(app, owner)
    formats = ["parquet", "hf_dataset"]
    sid, stored = _snapshot_files(c, db, project, formats)
    with db.read_session() as s:
        row = s.get(Snapshot, sid)
        proj = s.get(Project, project)
        schema = load_schema(s, proj)
        for fmt in formats:
            again = b"".join(
                plan_from(proj, schema, row.settings, fmt, pseudonym_key=row.pseudonym_key).stream(
                    s
                )
            )
            assert again == stored[fmt], fmt
        other_key = b"".join(plan_from(proj, schema, row.settings, "parquet").stream(s))
    assert other_key != stored["parquet"]  # without the snapshot's key: other pseudonyms

    def annotators(parquet: bytes) -> set[str]:
        rows = pq.read_table(io.BytesIO(parquet)).column("provenance").to_pylist()
        return {str(row["annotator"]) for row in rows if row and row["annotator"] is not None}

    _, second = _snapshot_files(c, db, project, ["parquet"])
    first_names, second_names = annotators(stored["parquet"]), annotators(second["parquet"])
    assert len(first_names) == 2 and len(second_names) == 2
    assert first_names.isdisjoint(second_names)  # pseudonyms do not link two snapshots
    assert not any(name.isdigit() for name in first_names)  # never the user ids
