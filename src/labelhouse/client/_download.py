"""Writing a streamed answer to a file: complete or not at all, and resumable with HTTP
Range where the server supports it (job results and snapshot files)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import httpx

from labelhouse.client.errors import LabelhouseError
from labelhouse.client.types import ExportResult

_FILENAME = re.compile(r'filename="?([^";]+)"?')

Progress = Callable[[int, int | None], None]  # bytes written so far, total if known


def partial_path(path: Path) -> Path:
    return path.with_name(path.name + ".part")


def save_stream(
    response: httpx.Response,
    path: Path,
    *,
    append: bool = False,
    progress: Progress | None = None,
) -> ExportResult:
    """Write the answer's body to ``path`` through ``path.part`` (renamed at the end, so a
    broken download never looks finished). ``append``: the body continues a ``.part`` file
    already there (a 206 answer to a Range request)."""
    part = partial_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = part.stat().st_size if append and part.exists() else 0
    total = _total(response, written)
    with part.open("ab" if append else "wb") as out:
        for chunk in response.iter_bytes():  # as it arrives: nothing held back if it breaks
            out.write(chunk)
            written += len(chunk)
            if progress is not None:
                progress(written, total)
    if total is not None and written != total:
        raise LabelhouseError(
            f"The download stopped at {written:,} of {total:,} bytes; {part} is kept, call "
            "again to resume."
        )
    os.replace(part, path)
    disposition = response.headers.get("content-disposition", "")
    found = _FILENAME.search(disposition)
    return ExportResult(
        path=str(path),
        bytes=written,
        filename=found.group(1) if found else None,
        content_type=response.headers.get("content-type"),
    )


def _total(response: httpx.Response, already: int) -> int | None:
    """The full size: from Content-Range on a 206, else Content-Length (when not encoded)."""
    content_range = response.headers.get("content-range", "")
    if "/" in content_range:
        size = content_range.rsplit("/", 1)[1].strip()
        return int(size) if size.isdigit() else None
    length = response.headers.get("content-length")
    if length and length.isdigit() and not response.headers.get("content-encoding"):
        return already + int(length)
    return None
