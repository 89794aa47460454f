"""Snapshot manifests: their canonical bytes, and checking a copy of a snapshot against
its manifest (``labelhouse snapshot verify DIR``). Pure: files and JSON, no database."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """The manifest as stored and downloaded: sorted keys, two-space indent, final newline."""
    return orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def file_name(format_name: str, extension: str) -> str:
    """A snapshot file's name: unique per format (two formats may share an extension)."""
    return f"labels-{format_name}.{extension}"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Mismatch:
    name: str
    problem: str  # "missing", "extra", "size …", "sha256 …"


def verify_dir(folder: Path) -> list[Mismatch]:
    """Every difference between ``folder`` and the manifest in it: a listed file missing,
    of another size or another SHA-256, or a file the manifest does not list. Raises
    ``ValueError`` with a sentence when there is no readable manifest."""
    path = folder / MANIFEST_NAME
    try:
        manifest = orjson.loads(path.read_bytes())
        files = {f["name"]: f for f in manifest["files"]}
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist: is {folder} a downloaded snapshot?") from None
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise ValueError(f"{path} is not a snapshot manifest.") from None
    problems: list[Mismatch] = []
    for name, entry in sorted(files.items()):
        target = folder / name
        if not target.is_file():
            problems.append(Mismatch(name, "missing"))
            continue
        size = target.stat().st_size
        if size != entry["size"]:
            problems.append(Mismatch(name, f"size {size}, the manifest says {entry['size']}"))
            continue
        digest = sha256_of(target)
        if digest != entry["sha256"]:
            problems.append(Mismatch(name, f"sha256 {digest}, the manifest says {entry['sha256']}"))
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    for name in sorted(present - set(files) - {MANIFEST_NAME}):
        problems.append(Mismatch(name, "extra (not in the manifest)"))
    return problems
