"""Task import: a file sent as it is, or an iterable of dicts sent as JSONL in batches.

The server checks every row of a request and stores all of them or none. An iterable is
cut into batches of ``batch_size`` rows (and at most :data:`BATCH_BYTES`), one request
each, so memory stays bounded whatever the iterable's length, progress is reported after
each batch, and a batch whose connection broke is sent again: the server de-duplicates
tasks (by ``external_id``, else by their data), so a batch stored twice adds nothing.
A bad row stops the import at its batch; the batches before it stay, and running the
corrected import again adds only what is missing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from labelhouse.client._base import ClientBase, IdLike, id_of
from labelhouse.client._http import parse_json
from labelhouse.client.types import ImportProgress, ImportResult

BATCH_BYTES = 8 * 1024 * 1024
FILE_CHUNK = 1 << 16
JSONL = "application/x-ndjson"
OCTETS = "application/octet-stream"
ProgressCallback = Callable[[ImportProgress], None]


class ImportMixin(ClientBase):
    def import_tasks(
        self,
        project: IdLike,
        source: str | os.PathLike[str] | Iterable[dict[str, Any]],
        *,
        batch_size: int | None = 5000,
        format: str | None = None,
        skip_invalid: bool = False,
        progress: ProgressCallback | None = None,
        name: str = "python-client",
    ) -> ImportResult:
        """Import tasks into the project from a file (jsonl, json, csv or parquet, by its
        extension or ``format``) or from an iterable of dicts (each one task: its data keys,
        and optionally ``external_id``, ``predictions``).

        ``batch_size``: rows per request for an iterable (None: one streamed request, all
        or nothing, not retried if the connection breaks). ``skip_invalid``: store the good
        rows and report the rejected ones (``rejected_sample``) instead of refusing.
        ``progress`` is called with an :class:`ImportProgress` as the import advances.
        """
        if isinstance(source, str | os.PathLike):
            return self._import_file(project, Path(source), format, skip_invalid, progress)
        if isinstance(source, dict | bytes):
            raise TypeError("import_tasks takes a file path or an iterable of dicts")
        rows = iter(source)
        if batch_size is None:
            return self._import_stream(project, rows, skip_invalid, progress, name)
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1 (or None for one request)")
        return self._import_batches(project, rows, batch_size, skip_invalid, progress, name)

    def _import_file(
        self,
        project: IdLike,
        path: Path,
        fmt: str | None,
        skip_invalid: bool,
        progress: ProgressCallback | None,
    ) -> ImportResult:
        if not path.is_file():
            raise FileNotFoundError(f"no file at {path}")
        total = path.stat().st_size

        def chunks() -> Iterator[bytes]:
            sent = 0
            with path.open("rb") as f:
                while chunk := f.read(FILE_CHUNK):
                    sent += len(chunk)
                    yield chunk
                    if progress is not None:
                        progress(ImportProgress(0, sent, 0, total))

        params = {"format": fmt, "filename": path.name, "skip_invalid": skip_invalid}
        result = ImportResult()
        result.add(self._post_import(project, params, chunks, retry=True, content_type=OCTETS))
        if progress is not None:
            progress(ImportProgress(result.rows, total, result.created, total))
        return result

    def _import_batches(
        self,
        project: IdLike,
        rows: Iterator[dict[str, Any]],
        batch_size: int,
        skip_invalid: bool,
        progress: ProgressCallback | None,
        name: str,
    ) -> ImportResult:
        result = ImportResult()
        sent_rows = sent_bytes = 0
        number = 0
        while True:
            batch, count = _next_batch(rows, batch_size, first=sent_rows)
            if not count:
                break
            number += 1
            params = {
                "format": "jsonl",
                "filename": f"{name}-{number:05d}.jsonl",
                "skip_invalid": skip_invalid,
            }
            result.add(self._post_import(project, params, batch, retry=True))
            sent_rows += count
            sent_bytes += len(batch)
            if progress is not None:
                progress(ImportProgress(sent_rows, sent_bytes, result.created))
        return result

    def _import_stream(
        self,
        project: IdLike,
        rows: Iterator[dict[str, Any]],
        skip_invalid: bool,
        progress: ProgressCallback | None,
        name: str,
    ) -> ImportResult:
        counts = {"rows": 0, "bytes": 0}
        used = False

        def lines() -> Iterator[bytes]:
            nonlocal used
            if used:  # an iterator can be read once: the request is not retried
                raise RuntimeError("an import from an iterable cannot be sent twice")
            used = True
            for row in rows:
                line = _line(row, counts["rows"])
                counts["rows"] += 1
                counts["bytes"] += len(line)
                yield line
                if progress is not None and counts["rows"] % 1000 == 0:
                    progress(ImportProgress(counts["rows"], counts["bytes"], 0))

        params = {"format": "jsonl", "filename": f"{name}.jsonl", "skip_invalid": skip_invalid}
        result = ImportResult()
        result.add(self._post_import(project, params, lines, retry=False))
        if progress is not None:
            progress(ImportProgress(counts["rows"], counts["bytes"], result.created))
        return result

    def _post_import(
        self,
        project: IdLike,
        params: dict[str, Any],
        body: Any,
        *,
        retry: bool,
        content_type: str = JSONL,
    ) -> dict[str, Any]:
        response = self._http.request(
            "POST",
            f"/api/projects/{id_of(project)}/import",
            params=params,
            body=body,
            headers={"Content-Type": content_type},
            retry=retry,
        )
        return parse_json(response)  # type: ignore[no-any-return]


def _line(row: Any, index: int) -> bytes:
    if not isinstance(row, dict):
        raise TypeError(f"row {index + 1} is a {type(row).__name__}; each task must be a dict")
    return json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _next_batch(rows: Iterator[dict[str, Any]], size: int, first: int) -> tuple[bytes, int]:
    """Up to ``size`` rows (fewer once :data:`BATCH_BYTES` is reached) as JSONL bytes."""
    parts: list[bytes] = []
    length = 0
    for row in rows:
        line = _line(row, first + len(parts))
        parts.append(line)
        length += len(line)
        if len(parts) >= size or length >= BATCH_BYTES:
            break
    return b"".join(parts), len(parts)
