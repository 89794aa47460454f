"""Ranged reads from both backends, and a stored-file download served from S3 with HTTP
Range (web/downloads.py streams the requested bytes with a ranged GET)."""

from __future__ import annotations

import hashlib
import io
import os

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from labelhouse.web.downloads import stored_file
from tests.storage.test_storage import storage  # noqa: F401  (the two-backend fixture)


def test_iter_range_reads_only_the_bytes_asked_for(storage):  # noqa: F811
    data = os.urandom(200_000)
    storage.put("jobs/1/1/export.bin", io.BytesIO(data))
    assert b"".join(storage.iter_range("jobs/1/1/export.bin", 0, 0)) == data[:1]
    assert (
        b"".join(storage.iter_range("jobs/1/1/export.bin", 70_000, 150_000)) == data[70_000:150_001]
    )
    assert b"".join(storage.iter_range("jobs/1/1/export.bin", 199_990, 199_999)) == data[-10:]


def test_a_download_from_either_backend_answers_ranges(storage):  # noqa: F811
    data = os.urandom(100_000)
    storage.put("jobs/2/1/export.bin", io.BytesIO(data))
    sha = hashlib.sha256(data).hexdigest()
    app = FastAPI()

    @app.get("/f")
    def f(request: Request):
        return stored_file(
            request,
            storage,
            key="jobs/2/1/export.bin",
            name="export.bin",
            media_type="application/octet-stream",
            size=len(data),
            sha256=sha,
        )

    with TestClient(app) as c:
        whole = c.get("/f")
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["etag"] == f'"{sha}"'
        part = c.get("/f", headers={"Range": "bytes=1000-1999", "If-Range": f'"{sha}"'})
        assert part.status_code == 206 and part.content == data[1000:2000]
        assert part.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
        stale = c.get("/f", headers={"Range": "bytes=1000-1999", "If-Range": '"old"'})
        assert stale.status_code == 200 and stale.content == data
        past = c.get("/f", headers={"Range": f"bytes={len(data)}-"})
        assert past.status_code == 416
        assert past.headers["content-range"] == f"bytes */{len(data)}"
