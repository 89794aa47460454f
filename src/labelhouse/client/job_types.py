"""Typed results of the background-job calls: jobs and snapshots.

Read leniently (a job bare or as ``{"job": {...}}``, ``state`` or ``status``, progress as
``{done, total, fraction}`` or a number), so small differences in the server's spelling do
not break a caller; the whole answer is in ``raw``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SUCCEEDED = frozenset({"succeeded", "success", "done", "completed", "complete", "finished"})
FAILED = frozenset({"failed", "failure", "error", "errored"})
CANCELLED = frozenset({"cancelled", "canceled"})


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class JobResult:
    """The file a finished job made (what :meth:`Client.download_job` fetches)."""

    name: str | None
    size: int | None
    sha256: str | None
    download_url: str | None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> JobResult:
        return cls(
            name=d.get("name"),
            size=_int(d.get("size")),
            sha256=d.get("sha256"),
            download_url=d.get("download_url"),
        )


@dataclass(frozen=True)
class Job:
    id: int
    kind: str  # "export", "snapshot", ...
    state: str  # queued, running, succeeded, failed, cancelled
    done: int | None
    total: int | None
    fraction: float | None  # 0..1 when the server can tell
    error: str | None
    result: JobResult | None  # once it succeeded
    snapshot_id: int | None
    raw: dict[str, Any]

    @property
    def finished(self) -> bool:
        return self.state in SUCCEEDED | FAILED | CANCELLED

    @property
    def succeeded(self) -> bool:
        return self.state in SUCCEEDED

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
        if fraction is None and done is not None and total:
            fraction = done / total
        state = str(d.get("state") or d.get("status") or "").lower()
        error = d.get("error") or d.get("message")
        result = d.get("result")
        return cls(
            id=int(d["id"]),
            kind=str(d.get("kind") or d.get("type") or ""),
            state=state,
            done=done,
            total=total,
            fraction=fraction,
            error=str(error) if error and state not in SUCCEEDED else None,
            result=JobResult.from_json(result) if isinstance(result, dict) else None,
            snapshot_id=_int(d.get("snapshot_id")),
            raw=d,
        )


@dataclass(frozen=True)
class SnapshotFile:
    name: str
    size: int | None
    sha256: str | None
    download_url: str | None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SnapshotFile:
        return cls(
            name=str(d.get("name") or d.get("path")),
            size=_int(d.get("size")),
            sha256=d.get("sha256") or d.get("hash"),
            download_url=d.get("download_url"),
        )


@dataclass(frozen=True)
class Snapshot:
    """A frozen export: its files (with SHA-256) once its job has succeeded, the manifest
    from :meth:`Client.get_snapshot`, and the job that writes it."""

    id: int
    name: str
    project_id: int | None
    created_at: str | None
    completed_at: str | None
    files: list[SnapshotFile]
    manifest: dict[str, Any] | None
    job: Job | None
    raw: dict[str, Any]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Snapshot:
        d = d["snapshot"] if isinstance(d.get("snapshot"), dict) else d
        manifest = d.get("manifest") if isinstance(d.get("manifest"), dict) else None
        files = d.get("files") or (manifest or {}).get("files") or []
        if isinstance(files, dict):  # {name: {size, sha256}}
            files = [{"name": k, **(v if isinstance(v, dict) else {})} for k, v in files.items()]
        job = d.get("job")
        return cls(
            id=int(d["id"]),
            name=str(d.get("name") or ""),
            project_id=_int(d.get("project_id")),
            created_at=d.get("created_at"),
            completed_at=d.get("completed_at"),
            files=[SnapshotFile.from_json(f) for f in files if isinstance(f, dict)],
            manifest=manifest,
            job=Job.from_json(job) if isinstance(job, dict) else None,
            raw=d,
        )
