"""A backup's manifest is untrusted input: restore reads only paths inside the backup, and
only a manifest whose own hash is in SHA256SUMS."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pytest

from labelhouse.db.backup_manifest import (
    FORMAT,
    FORMAT_VERSION,
    FileEntry,
    media_files,
    read_manifest,
    write_manifest,
)
from labelhouse.errors import InvalidInput


def a_backup(folder: Path, paths: list[str]) -> Path:
    """A backup folder listing ``paths`` (each written with its own name as content)."""
    folder.mkdir()
    entries = []
    for path in paths:
        body = path.encode()
        target = folder / path
        if target.resolve().is_relative_to(folder.resolve()):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
        entries.append(FileEntry(path, len(body), hashlib.sha256(body).hexdigest()))
    data = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "labelhouse_version": "0.1.0",
        "database": {"dialect": "sqlite", "alembic_revision": ["0012"]},
        "counts": {"task": 0},
    }
    write_manifest(folder, data, entries)
    return folder


def test_a_well_formed_backup_is_read(tmp_path):
    manifest = read_manifest(a_backup(tmp_path / "b", ["labelhouse.db", "files/p/1/a.png"]))
    assert [f.path for f in manifest.files] == ["labelhouse.db", "files/p/1/a.png"]
    assert manifest.revisions == ["0012"] and manifest.counts == {"task": 0}
    assert manifest.total_bytes == len("labelhouse.db") + len("files/p/1/a.png")


@pytest.mark.parametrize(
    "path", ["../outside.db", "files/../../outside", "/etc/passwd", "files", "other/x", "a\\b"]
)
def test_paths_outside_the_backup_are_refused(tmp_path, path):
    folder = a_backup(tmp_path / "b", ["labelhouse.db", path])
    with pytest.raises(InvalidInput) as refused:
        read_manifest(folder)
    assert f"the file entry {path!r} is not a path inside a backup" in refused.value.message


def test_a_manifest_whose_hash_is_not_in_the_sums_is_refused(tmp_path):
    folder = a_backup(tmp_path / "b", ["labelhouse.db"])
    data = orjson.loads((folder / "manifest.json").read_bytes())
    data["counts"]["task"] = 5
    (folder / "manifest.json").write_bytes(orjson.dumps(data))
    with pytest.raises(InvalidInput, match="does not match its SHA-256 in"):
        read_manifest(folder)


def test_a_backup_without_its_sums_or_manifest_is_incomplete(tmp_path):
    folder = a_backup(tmp_path / "b", ["labelhouse.db"])
    (folder / "SHA256SUMS").unlink()
    with pytest.raises(InvalidInput, match="SHA256SUMS is missing"):
        read_manifest(folder)
    (folder / "manifest.json").unlink()
    with pytest.raises(InvalidInput, match=r"manifest\.json is missing"):
        read_manifest(folder)


def test_media_files_leave_out_uploads_in_progress_and_links(tmp_path):
    root = tmp_path / "files"
    (root / "projects" / "1").mkdir(parents=True)
    (root / "projects" / "1" / "b.png").write_bytes(b"b")
    (root / "projects" / "1" / "a.png").write_bytes(b"a")
    (root / "projects" / "1" / ".upload-x1y2").write_bytes(b"half")
    (root / "projects" / "1" / "link.png").symlink_to(root / "projects" / "1" / "a.png")
    assert [rel for _, rel in media_files(root)] == ["projects/1/a.png", "projects/1/b.png"]
    assert list(media_files(tmp_path / "missing")) == []
