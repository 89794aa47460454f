"""Exports and snapshots as background jobs: start, follow, cancel, download with resume.

Written against the jobs API: ``POST /api/projects/{id}/exports`` (202 and the job),
``GET /api/jobs/{id}``, ``POST /api/jobs/{id}/cancel``, ``GET /api/jobs/{id}/download``
(HTTP Range, the ETag being the file's SHA-256), ``POST``/``GET
/api/projects/{id}/snapshots``, ``GET /api/snapshots/{id}`` and
``GET /api/snapshots/{id}/files/{name}``. Downloads check the SHA-256 the server gives, so a
resumed file is known to be whole.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from labelhouse.client._base import ClientBase, IdLike, id_of
from labelhouse.client._download import Progress, partial_path, save_stream
from labelhouse.client.errors import JobFailed, LabelhouseError
from labelhouse.client.job_types import Job, Snapshot
from labelhouse.client.types import ExportResult

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
        own, as for :meth:`export` (sent as query parameters, like the direct export)."""
        params = {
            "format": format,
            "content": content,
            "include_drafts": include_drafts,
            "consensus_method": consensus_method,
            **options,
        }
        path = f"/api/projects/{id_of(project)}/exports"
        return Job.from_json(self._http.call("POST", path, params=params))

    def get_job(self, job: IdLike) -> Job:
        return Job.from_json(self._http.call("GET", f"/api/jobs/{id_of(job)}"))

    def cancel_job(self, job: IdLike) -> Job:
        """Cancel a queued or running job (Conflict once it has finished)."""
        return Job.from_json(self._http.call("POST", f"/api/jobs/{id_of(job)}/cancel"))

    def wait_for_job(
        self,
        job: IdLike,
        *,
        poll: float = 1.0,
        timeout: float | None = None,
        progress: JobProgress | None = None,
    ) -> Job:
        """Poll until the job ends; ``progress`` is called with each state seen (``.state``,
        ``.fraction``). Raises :class:`JobFailed` if it failed or was cancelled, and
        :class:`LabelhouseError` after ``timeout`` seconds (the job goes on running)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        current = self.get_job(job)
        while True:
            if progress is not None:
                progress(current)
            if current.finished:
                break
            if deadline is not None and time.monotonic() > deadline:
                raise LabelhouseError(
                    f"Job {current.id} is still {current.state} after {timeout} seconds; "
                    "call wait_for_job again to go on waiting."
                )
            self._http.sleep(poll)
            current = self.get_job(current.id)
        if not current.succeeded:
            why = f": {current.error}" if current.error else "."
            raise JobFailed(f"Job {current.id} ended {current.state}{why}", job=current)
        return current

    def download_job(
        self,
        job: IdLike | Job,
        path: str | os.PathLike[str],
        *,
        resume: bool = True,
        progress: Progress | None = None,
    ) -> ExportResult:
        """Download a finished job's file to ``path`` and check its SHA-256. A download that
        broke leaves ``path.part``; with ``resume`` the next call asks only for the rest
        (HTTP Range, guarded by If-Range so a changed file is fetched whole)."""
        found = job if isinstance(job, Job) and job.result else self.get_job(id_of(job))
        if not found.succeeded or found.result is None:
            raise LabelhouseError(f"Job {found.id} has no file to download (it is {found.state}).")
        url = found.result.download_url or f"/api/jobs/{found.id}/download"
        return self._download(url, Path(path), resume, progress, found.result.sha256)

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
        return self.download_job(self.wait_for_job(job, poll=poll, progress=progress), path)

    # -- snapshots --------------------------------------------------------------------------

    def create_snapshot(
        self,
        project: IdLike,
        formats: Iterable[str] = ("jsonl",),
        *,
        name: str = "",
        content: str | None = None,
        include_drafts: bool | None = None,
        consensus_method: str | None = None,
        options: dict[str, dict[str, str]] | None = None,
        wait: bool = True,
        poll: float = 1.0,
        progress: JobProgress | None = None,
    ) -> Snapshot:
        """Freeze the project's export in one or more formats as a snapshot (a manifest with
        every file's SHA-256). ``options``: per format, that format's own options. With
        ``wait`` (the default) it returns once its job has written it, with its manifest;
        otherwise at once (``.job`` to follow)."""
        body: dict[str, Any] = {"name": name, "formats": list(formats)}
        for key, value in (
            ("content", content),
            ("include_drafts", include_drafts),
            ("consensus_method", consensus_method),
            ("options", options),
        ):
            if value is not None:
                body[key] = value
        path = f"/api/projects/{id_of(project)}/snapshots"
        snapshot = Snapshot.from_json(self._http.call("POST", path, json=body))
        if not wait:
            return snapshot
        if snapshot.job is not None and not snapshot.job.finished:
            self.wait_for_job(snapshot.job, poll=poll, progress=progress)
        return self.get_snapshot(snapshot.id)

    def list_snapshots(self, project: IdLike) -> list[Snapshot]:
        """The project's snapshots, newest first."""
        body = self._http.call("GET", f"/api/projects/{id_of(project)}/snapshots")
        items = body["items"] if isinstance(body, dict) else body
        return [Snapshot.from_json(s) for s in items]

    def get_snapshot(self, snapshot: IdLike) -> Snapshot:
        """A snapshot with its manifest (None until its job has succeeded)."""
        return Snapshot.from_json(self._http.call("GET", f"/api/snapshots/{id_of(snapshot)}"))

    def download_snapshot(
        self, snapshot: IdLike | Snapshot, directory: str | os.PathLike[str], *, resume: bool = True
    ) -> list[ExportResult]:
        """Every file of the snapshot (its manifest too) into ``directory``, each checked
        against its SHA-256 and resumable like a job's download."""
        snap = snapshot if isinstance(snapshot, Snapshot) else self.get_snapshot(snapshot)
        if not snap.files:
            raise LabelhouseError(f"Snapshot {snap.id} has no files yet; wait for its job.")
        folder = Path(directory).resolve()
        out = []
        for f in snap.files:
            target = (folder / f.name).resolve()
            if not target.is_relative_to(folder):
                raise LabelhouseError(f"The snapshot names a file outside its folder: {f.name!r}.")
            url = f.download_url or f"/api/snapshots/{snap.id}/files/{quote(f.name, safe='')}"
            out.append(self._download(url, target, resume, None, f.sha256))
        return out

    def _download(
        self, url: str, path: Path, resume: bool, progress: Progress | None, sha256: str | None
    ) -> ExportResult:
        part = partial_path(path)
        have = part.stat().st_size if resume and part.exists() else 0
        headers: dict[str, str] = {}
        if have:
            headers["Range"] = f"bytes={have}-"
            if sha256:
                headers["If-Range"] = f'"{sha256}"'
        try:
            with self._http.stream("GET", url, headers=headers or None) as response:
                append = have > 0 and response.status_code == 206
                result = save_stream(response, path, append=append, progress=progress)
        except LabelhouseError as exc:
            if exc.status != 416 or not have:
                raise
            part.unlink()  # longer than the file: not a piece of it; fetch it whole
            return self._download(url, path, False, progress, sha256)
        if sha256 and _sha256(path) != sha256:
            path.unlink()
            raise LabelhouseError(
                f"{path.name} does not match the SHA-256 the server gave for it; it was removed, "
                "download it again."
            )
        return result


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
