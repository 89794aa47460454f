"""HTTP Range on stored-file downloads (a job's result): 206, Content-Range, If-Range
against the ETag (the file's SHA-256), 416 past the end."""

from __future__ import annotations

import pytest

from labelhouse.web.downloads import byte_range
from tests.factories import login
from tests.jobs.conftest import wait_for


@pytest.fixture
def finished(app, db, owner, project):
    c = login(app, owner)
    job_id = c.post(f"/api/projects/{project}/exports", json={"format": "jsonl"}).json()["id"]
    assert app.state.jobs.run(job_id) == "succeeded"
    wait_for(db, job_id)
    url = f"/api/jobs/{job_id}/download"
    whole = c.get(url)
    return c, url, whole


def test_the_whole_file_says_it_takes_ranges(finished):
    _, _, whole = finished
    assert whole.status_code == 200
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["etag"] == f'"{whole.headers["x-content-sha256"]}"'
    assert 'filename="' in whole.headers["content-disposition"]


def test_a_range_is_a_206_with_its_content_range(finished):
    c, url, whole = finished
    size = len(whole.content)
    part = c.get(url, headers={"Range": "bytes=10-99"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 10-99/{size}"
    assert part.content == whole.content[10:100]
    tail = c.get(url, headers={"Range": "bytes=-25"})
    assert tail.status_code == 206 and tail.content == whole.content[-25:]
    rest = c.get(url, headers={"Range": f"bytes={size - 7}-"})
    assert rest.content == whole.content[-7:]


def test_if_range_resumes_only_the_same_file(finished):
    c, url, whole = finished
    etag = whole.headers["etag"]
    same = c.get(url, headers={"Range": "bytes=5-", "If-Range": etag})
    assert same.status_code == 206 and same.content == whole.content[5:]
    other = c.get(url, headers={"Range": "bytes=5-", "If-Range": '"another-file"'})
    assert other.status_code == 200 and other.content == whole.content


def test_a_range_past_the_end_is_a_416(finished):
    c, url, whole = finished
    size = len(whole.content)
    r = c.get(url, headers={"Range": f"bytes={size}-"})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{size}"


def test_the_range_rules_of_streamed_downloads():
    etag = '"abc"'
    assert byte_range(None, None, etag, 100) is None
    assert byte_range("bytes=0-9", None, etag, 100) == (0, 9)
    assert byte_range("bytes=90-200", None, etag, 100) == (90, 99)
    assert byte_range("bytes=-10", None, etag, 100) == (90, 99)
    assert byte_range("bytes=-500", None, etag, 100) == (0, 99)
    assert byte_range("bytes=0-1,5-6", None, etag, 100) is None  # several: the whole file
    assert byte_range("items=0-1", None, etag, 100) is None
    assert byte_range("bytes=0-9", '"other"', etag, 100) is None
    assert byte_range("bytes=0-9", etag, etag, 100) == (0, 9)
    for unsatisfiable in ("bytes=100-", "bytes=5-2", "bytes=-0"):
        with pytest.raises(ValueError):
            byte_range(unsatisfiable, None, etag, 100)
