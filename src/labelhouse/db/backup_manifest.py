"""The backup folder's format: what ``labelhouse backup`` writes and ``restore`` trusts.

A backup is a folder holding the database copy (``labelhouse.db``), the uploaded media
(``files/…``), ``manifest.json`` (what was backed up, from which version and schema
revision, when, how many rows each table had, and the size and SHA-256 of every file) and
``SHA256SUMS`` (the same hashes plus the manifest's own, in ``sha256sum -c`` form, so a
backup can be checked without Labelhouse). Restore reads only what the manifest lists, at
paths it has checked, and compares every byte it copies with the manifest.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

from labelhouse.errors import InvalidInput, Problem

FORMAT = "labelhouse-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
DATABASE_FILE = "labelhouse.db"
FILES_DIR = "files"
CHUNK = 1 << 20
# What a local upload is called while it is being written (storage/local.py): not a file yet.
UPLOAD_TEMP_PREFIX = ".upload-"

OnBytes = Callable[[int], None]  # called with each chunk's length, for progress


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative, POSIX separators
    size: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class Manifest:
    data: dict[str, Any]
    files: list[FileEntry]

    @property
    def revisions(self) -> list[str]:
        return list(self.data["database"]["alembic_revision"])

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.data["counts"])

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def copy_hashing(source: Path, target: Path, on_bytes: OnBytes | None = None) -> tuple[int, str]:
    """Copy ``source`` to ``target`` (a new file, flushed to disk), hashing what was read:
    the hash is of the bytes written, not of a second read that could differ. Returns
    (size, SHA-256)."""
    digest, size = hashlib.sha256(), 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open("rb") as src, target.open("xb") as out:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
            if on_bytes is not None:
                on_bytes(len(chunk))
        out.flush()
        os.fsync(out.fileno())
    return size, digest.hexdigest()


def hash_file(path: Path, on_bytes: OnBytes | None = None) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if on_bytes is not None:
                on_bytes(len(chunk))
    return size, digest.hexdigest()


def media_files(root: Path) -> Iterator[tuple[Path, str]]:
    """The regular files under the media folder, as (path, path relative to it), in a
    stable order; uploads still being written and symbolic links are left out."""
    if not root.is_dir():
        return
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            path = Path(folder) / name
            if name.startswith(UPLOAD_TEMP_PREFIX) or path.is_symlink() or not path.is_file():
                continue
            yield path, path.relative_to(root).as_posix()


def write_manifest(folder: Path, data: dict[str, Any], files: list[FileEntry]) -> None:
    """``manifest.json``, then ``SHA256SUMS`` covering every file and the manifest."""
    body = orjson.dumps(
        {**data, "files": [f.as_dict() for f in files]},
        option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE,
    )
    _write_synced(folder / MANIFEST, body)
    lines = [f"{f.sha256}  {f.path}\n" for f in files]
    lines.append(f"{hashlib.sha256(body).hexdigest()}  {MANIFEST}\n")
    _write_synced(folder / SUMS, "".join(lines).encode())


def _write_synced(path: Path, body: bytes) -> None:
    with path.open("xb") as f:
        f.write(body)
        f.flush()
        os.fsync(f.fileno())


def sync_folder(path: Path) -> None:
    """Make a folder's entries (new files, a rename) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_manifest(folder: Path) -> Manifest:
    """The backup's manifest, after checking that it is one, that it matches ``SHA256SUMS``,
    that its paths stay inside the folder, and that the folder holds exactly the files it
    lists (their contents are compared while they are copied, :func:`copy_hashing`)."""
    if not folder.is_dir():
        raise InvalidInput(f"{folder} is not a folder: give the folder `labelhouse backup` wrote.")
    manifest_path, sums_path = folder / MANIFEST, folder / SUMS
    for needed in (manifest_path, sums_path):
        if not needed.is_file():
            raise InvalidInput(
                f"{needed} is missing, so {folder} is not a complete Labelhouse backup "
                "(`labelhouse backup` writes it last): use another backup."
            )
    body = manifest_path.read_bytes()
    sums = _read_sums(sums_path)
    if sums.get(MANIFEST) != hashlib.sha256(body).hexdigest():
        raise InvalidInput(
            f"{manifest_path} does not match its SHA-256 in {sums_path}: the backup was "
            "changed or damaged after it was written. Nothing was restored."
        )
    try:
        data = orjson.loads(body)
        files = [_entry(item) for item in data.pop("files")]
        if data.get("format") != FORMAT:
            raise ValueError("not a Labelhouse backup manifest")
        if not isinstance(data["database"]["alembic_revision"], list):
            raise ValueError("database.alembic_revision must be a list")
        if not all(isinstance(v, int) for v in data["counts"].values()):
            raise ValueError("counts must be whole numbers")
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidInput(
            f"{manifest_path} is not a Labelhouse backup manifest ({exc})."
        ) from None
    if data.get("format_version") != FORMAT_VERSION:
        raise InvalidInput(
            f"{manifest_path} is backup format {data.get('format_version')!r}; this version of "
            f"Labelhouse reads format {FORMAT_VERSION}: restore it with the version that wrote it "
            f"({data.get('labelhouse_version', 'unknown')})."
        )
    listed = {f.path for f in files}
    if DATABASE_FILE not in listed:
        raise InvalidInput(f"{manifest_path} lists no {DATABASE_FILE}: nothing to restore.")
    for f in files:
        if sums.get(f.path) != f.sha256:
            raise InvalidInput(
                f"{folder / f.path}: its SHA-256 in {sums_path} differs from the manifest's: "
                "the backup was changed after it was written. Nothing was restored."
            )
    present = {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if not p.is_dir() and p not in (manifest_path, sums_path)
    }
    missing, extra = sorted(listed - present), sorted(present - listed)
    if missing:
        raise InvalidInput(
            f"{folder / missing[0]} is missing from the backup"
            + (f" (and {len(missing) - 1} more files)" if len(missing) > 1 else "")
            + ": it is listed in the manifest. Nothing was restored.",
            [Problem(m, "missing") for m in missing[:50]],
        )
    if extra:
        raise InvalidInput(
            f"{folder / extra[0]} is in the backup folder but not in its manifest"
            + (f" (and {len(extra) - 1} more files)" if len(extra) > 1 else "")
            + ": the folder was changed after the backup was taken. Nothing was restored.",
            [Problem(e, "not in the manifest") for e in extra[:50]],
        )
    return Manifest(data, files)


def _entry(item: Any) -> FileEntry:
    path, size, sha = item["path"], item["size"], item["sha256"]
    if not isinstance(path, str) or not isinstance(size, int) or not isinstance(sha, str):
        raise ValueError(f"malformed file entry {item!r}")
    pure = PurePosixPath(path)
    safe = (
        not pure.is_absolute()
        and ".." not in pure.parts
        and "\\" not in path
        and "\0" not in path
        and (path == DATABASE_FILE or (pure.parts[0] == FILES_DIR and len(pure.parts) > 1))
    )
    if not safe or len(sha) != 64:
        raise ValueError(f"the file entry {path!r} is not a path inside a backup")
    return FileEntry(path, size, sha.lower())


def _read_sums(path: Path) -> dict[str, str]:
    sums: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        digest, sep, name = line.partition("  ")
        if sep:
            sums[name] = digest.lower()
    return sums
