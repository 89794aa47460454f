"""Exports and snapshots as background jobs: start, follow, cancel, download with resume.

Written against the jobs API (``POST /api/projects/{id}/exports`` → 202 with the job,
``GET /api/jobs/{id}``, ``POST /api/jobs/{id}/cancel``, ``GET /api/jobs/{id}/download``
with HTTP Range, and the snapshot routes). The JSON is read leniently (a job may come bare
or as ``{"job": {...}}``, progress as a fraction or as done/total), so small differences in
the server's spelling do not break a caller.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from labelhouse.client._base import ClientBase, IdLike, id_of
from labelhouse.client._download import Progress, partial_path, save_stream
from labelhouse.client.errors import JobFailed, LabelhouseError
from labelhouse.client.types import ExportResult

SUCCEEDED = frozenset({"succeeded", "success", "done", "completed", "complete", "finished"})
FAILED = frozenset({"failed", "failure", "error", "errored"})
CANCELLED = frozenset({"cancelled", "canceled", "cancelling"})


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    status: str
    done: int | None
    total: int | None
    fraction: float | None  # 0..1 when the server can tell
    error: str | None
    result: dict[str, Any]
    raw: dict[str, Any]

    @property
    def finished(self) -> bool:
        return self.status in SUCCEEDED | FAILED | CANCELLED

    @property
    def succeeded(self) -> bool:
        return self.status in SUCCEEDED

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Job:
        d = d["job"] if isinstance(d.get("job"), dict) else d
        progress = d.get("progress")
        done = total = None
        fraction: float | None = None
        if isinstance(progress, dict):
            done, total = _int(progress.get("done")), _int(progress.get("total"))
            if progress.get("fraction") is not None:
                fraction = float(progress["fraction"])
        elif isinstance(progress, int | float):
            fraction = float(progress) if progress <= 1 else float(progress) / 100
        done = done if done is not None else _int(d.get("done"))
        total = total if total is not None else _int(d.get("total"))
        if fraction is None and done is not None and total:
            fraction = done / total
        error = d.get("error") or d.get("message") if str(d.get("status")) in FAILED else None
        return cls(
            id=int(d["id"]),
            kind=str(d.get("kind") or d.get("type") or ""),
            status=str(d.get("status") or d.get("state") or "").lower(),
            done=done,
            total=total,
            fraction=fraction,
            error=str(error) if error else None,
            result=dict(d.get("result") or {}),
            raw=d,
        )


@dataclass(frozen=True)
class SnapshotFile:
    name: str
    size: int | None
    sha256: str | None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SnapshotFile:
        digest = d.get("sha256") or d.get("hash") or d.get("content_hash")
        return cls(
            name=str(d.get("name") or d.get("path")), size=_int(d.get("size")), sha256=digest
        )


@dataclass(frozen=True)
class Snapshot:
    id: int
    project_id: int | None
    created_at: str | None
    files: list[SnapshotFile]
    manifest: dict[str, Any]
    raw: dict[str, Any]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Snapshot:
        d = d["snapshot"] if isinstance(d.get("snapshot"), dict) else d
        manifest = dict(d.get("manifest") or {})
        files = d.get("files") or manifest.get("files") or []
        if isinstance(files, dict):  # {name: {size, sha256}}
            files = [{"name": k, **(v if isinstance(v, dict) else {})} for k, v in files.items()]
        return cls(
            id=int(d["id"]),
            project_id=_int(d.get("project_id")),
            created_at=d.get("created_at"),
            files=[SnapshotFile.from_json(f) for f in files if isinstance(f, dict)],
            manifest=manifest,
            raw=d,
        )


JobProgress = Callable[[Job], None]


class JobsMixin(ClientBase):
    def start_export(
        self,
        project: IdLike,
        format: str = "jsonl",
        *,
        content: str | None = None,
        include_drafts: bool | None = None,
        consensus_method: str | None = None,
        **options: Any,
    ) -> Job:
        """Start an export as a background job (for large projects); follow it with
        :meth:`wait_for_job`, fetch it with :meth:`download_job`. ``options``: the format's
        own, as for :meth:`export`."""
        params = _export_params(format, content, include_drafts, consensus_method, options)
        path = f"/api/projects/{id_of(project)}/exports"
        return Job.from_json(self._http.call("POST", path, params=params))

    def get_job(self, job: IdLike) -> Job:
        return Job.from_json(self._http.call("GET", f"/api/jobs/{id_of(job)}"))

    def cancel_job(self, job: IdLike) -> Job:
        path = f"/api/jobs/{id_of(job)}/cancel"
        return Job.from_json(self._http.call("POST", path, retry=True))

    def wait_for_job(
        self,
        job: IdLike,
        *,
        poll: float = 1.0,
        timeout: float | None = None,
        progress: JobProgress | None = None,
    ) -> Job:
        """Poll until the job ends; ``progress`` is called with each state seen. Raises
        :class:`JobFailed` if it failed or was cancelled, :class:`LabelhouseError` after
        ``timeout`` seconds (the job goes on running)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        current = self.get_job(job)
        while True:
            if progress is not None:
                progress(current)
            if current.finished:
                break
            if deadline is not None and time.monotonic() > deadline:
                raise LabelhouseError(
                    f"Job {current.id} is still {current.status} after {timeout} seconds; "
                    "wait_for_job again to go on waiting."
                )
            self._http.sleep(poll)
            current = self.get_job(current.id)
        if not current.succeeded:
            why = f": {current.error}" if current.error else "."
            raise JobFailed(f"Job {current.id} ended {current.status}{why}", job=current)
        return current

    def download_job(
        self,
        job: IdLike,
        path: str | os.PathLike[str],
        *,
        resume: bool = True,
        progress: Progress | None = None,
    ) -> ExportResult:
        """Download a finished job's file to ``path``. A download that broke leaves
        ``path.part``; with ``resume`` the next call asks only for the rest (HTTP Range)."""
        return self._download(f"/api/jobs/{id_of(job)}/download", Path(path), resume, progress)

    def export_in_background(
        self,
        project: IdLike,
        path: str | os.PathLike[str],
        format: str = "jsonl",
        *,
        progress: JobProgress | None = None,
        poll: float = 1.0,
        **options: Any,
    ) -> ExportResult:
        """:meth:`start_export`, :meth:`wait_for_job` and :meth:`download_job` in one call."""
        job = self.start_export(project, format, **options)
        done = self.wait_for_job(job, poll=poll, progress=progress)
        return self.download_job(done, path)

    # -- snapshots --------------------------------------------------------------------------

    def create_snapshot(
        self,
        project: IdLike,
        format: str = "jsonl",
        *,
        wait: bool = True,
        progress: JobProgress | None = None,
        **options: Any,
    ) -> Snapshot | Job:
        """Freeze an export as a snapshot (a manifest with every file's hash). When the
        server builds it in a job, ``wait`` waits for it and returns the snapshot;
        otherwise the job is returned."""
        params = _export_params(format, None, None, None, options)
        path = f"/api/projects/{id_of(project)}/snapshots"
        body = self._http.call("POST", path, params=params)
        if "job" not in body and "status" not in body:
            return Snapshot.from_json(body)
        job = Job.from_json(body)
        if not wait:
            return job
        done = self.wait_for_job(job, progress=progress)
        snapshot_id = done.result.get("snapshot_id") or done.raw.get("snapshot_id")
        if snapshot_id is None:
            raise LabelhouseError(f"Job {done.id} finished without naming its snapshot.")
        return self.get_snapshot(int(snapshot_id))

    def list_snapshots(self, project: IdLike) -> list[Snapshot]:
        body = self._http.call("GET", f"/api/projects/{id_of(project)}/snapshots")
        items = body["items"] if isinstance(body, dict) else body
        return [Snapshot.from_json(s) for s in items]

    def get_snapshot(self, snapshot: IdLike) -> Snapshot:
        return Snapshot.from_json(self._http.call("GET", f"/api/snapshots/{id_of(snapshot)}"))

    def download_snapshot(
        self,
        snapshot: IdLike | Snapshot,
        directory: str | os.PathLike[str],
        *,
        resume: bool = True,
    ) -> list[ExportResult]:
        """Every file of the snapshot into ``directory`` (each resumable like a job's)."""
        snap = snapshot if isinstance(snapshot, Snapshot) else self.get_snapshot(snapshot)
        folder = Path(directory)
        out = []
        for f in snap.files:
            target = (folder / f.name).resolve()
            if not target.is_relative_to(folder.resolve()):
                raise LabelhouseError(f"The snapshot names a file outside its folder: {f.name!r}.")
            url = f"/api/snapshots/{snap.id}/files/{quote(f.name, safe='/')}"
            out.append(self._download(url, target, resume, None))
        return out

    def _download(
        self, url: str, path: Path, resume: bool, progress: Progress | None
    ) -> ExportResult:
        part = partial_path(path)
        have = part.stat().st_size if resume and part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else None
        with self._http.stream("GET", url, headers=headers) as response:
            append = have > 0 and response.status_code == 206
            return save_stream(response, path, append=append, progress=progress)


def _export_params(
    format: str,
    content: str | None,
    include_drafts: bool | None,
    consensus_method: str | None,
    options: dict[str, Any],
) -> dict[str, Any]:
    params = {
        "format": format,
        "content": content,
        "include_drafts": include_drafts,
        "consensus_method": consensus_method,
        **options,
    }
    return {k: v for k, v in params.items() if v is not None}


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None
