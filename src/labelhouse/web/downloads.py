"""Downloads of stored files (job results, snapshot files) with HTTP Range, so a
multi-gigabyte file can resume.

One entry point, :func:`stored_file`: a file in the local folder goes out through
Starlette's ``FileResponse``, which (since Starlette 0.39; 1.10 is installed) answers
``Range`` with 206 and ``Content-Range``, unsatisfiable ranges with 416, and honours
``If-Range`` against the ETag we give it; any other storage (S3) is streamed here with the
same rules for one range, reading only the requested bytes from the backend. The ETag is
the file's SHA-256, so it never changes for a stored file (they are immutable).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from fastapi import Request
from fastapi.responses import FileResponse, Response, StreamingResponse

from labelhouse.storage import LocalStorage, Storage

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


def _disposition(name: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name) or "download"
    return f'attachment; filename="{safe}"'


def stored_file(
    request: Request,
    storage: Storage,
    *,
    key: str,
    name: str,
    media_type: str,
    size: int,
    sha256: str,
) -> Response:
    headers = {
        "etag": f'"{sha256}"',
        "x-content-sha256": sha256,
        "cache-control": "private, no-cache",
        "content-disposition": _disposition(name),
    }
    if isinstance(storage, LocalStorage):
        return FileResponse(storage.path(key), media_type=media_type, headers=headers)
    return _streamed(request, storage, key, media_type, size, headers)


def byte_range(
    header: str | None, if_range: str | None, etag: str, size: int
) -> tuple[int, int] | None:
    """The one range to send (first, last inclusive), or None for the whole file. Several
    ranges, a malformed header, or an ``If-Range`` that is not our ETag: the whole file
    (RFC 9110 lets a server ignore Range). Raises ``ValueError`` for an unsatisfiable one."""
    if header is None or (if_range is not None and if_range.strip() != etag):
        return None
    match = _RANGE.match(header)
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        n = int(last)
        if n == 0:
            raise ValueError("empty suffix range")
        return max(size - n, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise ValueError("range outside the file")
    return start, end


def _streamed(
    request: Request,
    storage: Storage,
    key: str,
    media_type: str,
    size: int,
    headers: dict[str, str],
) -> Response:
    headers = {**headers, "accept-ranges": "bytes"}
    try:
        wanted = byte_range(
            request.headers.get("range"), request.headers.get("if-range"), headers["etag"], size
        )
    except ValueError:
        return Response(status_code=416, headers={"content-range": f"bytes */{size}"})
    if wanted is None:
        body: Iterator[bytes] = storage.iter_bytes(key)
        headers["content-length"] = str(size)
        return StreamingResponse(body, media_type=media_type, headers=headers)
    start, end = wanted
    headers["content-range"] = f"bytes {start}-{end}/{size}"
    headers["content-length"] = str(end - start + 1)
    return StreamingResponse(
        storage.iter_range(key, start, end),
        status_code=206,
        media_type=media_type,
        headers=headers,
    )
