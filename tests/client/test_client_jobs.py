"""Exports and snapshots as background jobs. The resume logic is checked now at the network
edge (MockTransport serving Range requests); the calls against the real server run once
the jobs API is in the server (until then they skip, saying so)."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import httpx
import pytest

from labelhouse.client import (
    Client,
    Conflict,
    ConnectionFailed,
    Job,
    JobFailed,
    LabelhouseError,
    Snapshot,
)
from tests.client.conftest import LiveServer
from tests.client.test_client_live import SCHEMA

PAYLOAD = b"".join(b'{"row": %d}\n' % i for i in range(20_000))


class RangeServer:
    """Serves PAYLOAD at /api/jobs/1/download honouring Range; ``cut_after`` bytes into the
    first full download the connection breaks."""

    def __init__(self, cut_after: int | None = None) -> None:
        self.cut_after = cut_after
        self.ranges: list[str | None] = []
        self.if_ranges: list[str | None] = []
        self.sha256 = hashlib.sha256(PAYLOAD).hexdigest()
        self.job = {
            "id": 1,
            "state": "succeeded",
            "result": {
                "name": "export.jsonl",
                "size": len(PAYLOAD),
                "sha256": self.sha256,
                "download_url": "/api/jobs/1/download",
            },
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/jobs/1":
            return httpx.Response(200, json=self.job)
        header = request.headers.get("range")
        self.ranges.append(header)
        self.if_ranges.append(request.headers.get("if-range"))
        if header:
            start = int(header.removeprefix("bytes=").rstrip("-"))
            body = PAYLOAD[start:]
            headers = {"content-range": f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}"}
            return httpx.Response(206, content=body, headers=headers)
        if self.cut_after is not None:
            cut, self.cut_after = self.cut_after, None
            return httpx.Response(
                200, stream=Broken(PAYLOAD[:cut]), headers={"content-length": str(len(PAYLOAD))}
            )
        return httpx.Response(200, content=PAYLOAD)


class Broken(httpx.SyncByteStream):
    def __init__(self, head: bytes) -> None:
        self.head = head

    def __iter__(self):
        yield self.head
        raise httpx.ReadError("connection reset")


def test_a_broken_download_resumes_with_a_range_request(tmp_path: Path):
    server = RangeServer(cut_after=100_000)
    target = tmp_path / "export.jsonl"
    with Client("http://lh.test", token="t", transport=httpx.MockTransport(server)) as c:
        with pytest.raises(ConnectionFailed):
            c.download_job(1, target)
        assert not target.exists()
        assert (tmp_path / "export.jsonl.part").stat().st_size == 100_000
        seen: list[tuple[int, int | None]] = []
        done = c.download_job(1, target, progress=lambda n, total: seen.append((n, total)))
    assert server.ranges == [None, "bytes=100000-"]
    assert server.if_ranges == [None, f'"{server.sha256}"']  # only the same file is resumed
    assert target.read_bytes() == PAYLOAD and done.bytes == len(PAYLOAD)
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert not (tmp_path / "export.jsonl.part").exists()


def test_a_download_that_does_not_match_its_sha256_is_removed(tmp_path: Path):
    server = RangeServer()
    server.job["result"]["sha256"] = "0" * 64
    client = Client("http://lh.test", token="t", transport=httpx.MockTransport(server))
    with client as c, pytest.raises(LabelhouseError) as caught:
        c.download_job(1, tmp_path / "x.jsonl")
    assert "SHA-256" in str(caught.value)
    assert not (tmp_path / "x.jsonl").exists()


def test_job_and_snapshot_json_are_read_leniently():
    job = Job.from_json(
        {
            "job": {
                "id": 3,
                "kind": "export",
                "status": "running",
                "progress": {"done": 25, "total": 100},
            }
        }
    )
    assert (job.id, job.fraction, job.finished) == (3, 0.25, False)
    failed = Job.from_json({"id": 4, "status": "failed", "error": "disk full"})
    assert failed.finished and not failed.succeeded and failed.error == "disk full"
    snap = Snapshot.from_json(
        {
            "id": 7,
            "project_id": 2,
            "manifest": {"files": {"data.jsonl": {"size": 10, "sha256": "ab"}}},
        }
    )
    assert [(f.name, f.size, f.sha256) for f in snap.files] == [("data.jsonl", 10, "ab")]


def test_wait_for_job_reports_progress_and_raises_when_it_fails():
    states = iter(["queued", "running", "failed"])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": 1, "state": next(states), "error": "no space"})

    seen: list[str] = []
    with (
        Client(
            "http://lh.test",
            token="t",
            transport=httpx.MockTransport(handler),
            sleep=lambda s: None,
        ) as c,
        pytest.raises(JobFailed) as caught,
    ):
        c.wait_for_job(1, progress=lambda j: seen.append(j.state))
    assert seen == ["queued", "running", "failed"]
    assert caught.value.job.state == "failed" and "no space" in str(caught.value)


# -- against the real server, once it has the jobs API ------------------------------------------


@pytest.fixture
def jobs_api(live: LiveServer) -> None:
    paths = httpx.get(live.url + "/api/openapi.json", timeout=10).json()["paths"]
    wanted = [
        "/api/projects/{project_id}/exports",
        "/api/jobs/{job_id}",
        "/api/projects/{project_id}/snapshots",
    ]
    missing = [p for p in wanted if p not in paths]
    if missing:
        pytest.skip(
            f"the server has no jobs API yet ({', '.join(missing)}): it is being built "
            "on another branch; these tests run once it is merged"
        )


@pytest.fixture
def project(lh: Client):
    p = lh.create_project(f"jobs-{uuid.uuid4().hex[:8]}", SCHEMA)
    lh.import_tasks(p, [{"external_id": f"j{i}", "text": f"t{i}"} for i in range(200)])
    return p


def test_export_as_a_job_waits_downloads_and_resumes(jobs_api, lh: Client, project, tmp_path):
    job = lh.start_export(project, "jsonl")
    seen: list[Job] = []
    done = lh.wait_for_job(job, poll=0.2, timeout=120, progress=seen.append)
    assert done.succeeded and seen[-1].id == job.id and done.result.sha256
    with pytest.raises(Conflict):
        lh.cancel_job(done)  # it has finished
    full = lh.download_job(done, tmp_path / "all.jsonl")
    lines = Path(full.path).read_text().splitlines()
    assert [json.loads(x)["external_id"] for x in lines][:2] == ["j0", "j1"] and len(lines) == 200
    # a download that broke half-way: the rest comes with a Range request
    data = Path(full.path).read_bytes()
    (tmp_path / "again.jsonl.part").write_bytes(data[: len(data) // 2])
    again = lh.download_job(done, tmp_path / "again.jsonl")
    assert Path(again.path).read_bytes() == data


def test_snapshots_are_listed_and_downloaded_with_their_hashes(
    jobs_api, lh: Client, project, tmp_path
):
    snap = lh.create_snapshot(project, ["jsonl", "csv"], name="v1")
    assert isinstance(snap, Snapshot) and snap.name == "v1" and snap.manifest
    assert {"manifest.json"} < {f.name for f in snap.files}
    assert snap.id in [s.id for s in lh.list_snapshots(project)]
    files = lh.download_snapshot(snap.id, tmp_path / "snap")
    for f, got in zip(snap.files, files, strict=True):
        assert Path(got.path).name == f.name
        assert hashlib.sha256(Path(got.path).read_bytes()).hexdigest() == f.sha256
