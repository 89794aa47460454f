"""Reading snapshots: the project's list, one snapshot's manifest, one of its files."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelhouse.accounts.models import Role
from labelhouse.accounts.policy import Actor
from labelhouse.errors import Conflict, NotFound
from labelhouse.exports.manifest import MANIFEST_NAME
from labelhouse.jobs.models import Job, Snapshot
from labelhouse.projects.service import get_project


def list_snapshots(
    session: Session, actor: Actor, project_id: int, *, limit: int = 100
) -> list[tuple[Snapshot, Job]]:
    get_project(session, actor, project_id)  # 404 unless the actor sees it, in their org
    actor.in_project(project_id).require(Role.manager, "see snapshots")
    query = (
        select(Snapshot, Job)
        .join(Job, Job.id == Snapshot.job_id)
        .where(
            Snapshot.project_id == project_id,
            Snapshot.organization_id == actor.organization_id,
        )
        .order_by(Snapshot.id.desc())
        .limit(limit)
    )
    return [(snap, job) for snap, job in session.execute(query)]


def get_snapshot(session: Session, actor: Actor, snapshot_id: int) -> tuple[Snapshot, Job]:
    row = session.execute(
        select(Snapshot, Job)
        .join(Job, Job.id == Snapshot.job_id)
        .where(Snapshot.id == snapshot_id, Snapshot.organization_id == actor.organization_id)
    ).first()
    missing = NotFound(f"Snapshot {snapshot_id} does not exist.")
    if row is None:
        raise missing
    snapshot, job = row
    try:
        scoped = actor.in_project(snapshot.project_id)
    except NotFound:  # a project they do not see: the same answer as no such snapshot
        raise missing from None
    scoped.require(Role.manager, "see snapshots")
    return snapshot, job


@dataclass(frozen=True)
class StoredFile:
    key: str
    name: str
    media_type: str
    size: int
    sha256: str


def snapshot_file(session: Session, actor: Actor, snapshot_id: int, name: str) -> StoredFile:
    """One file of a completed snapshot (or its manifest), as stored."""
    snapshot, job = get_snapshot(session, actor, snapshot_id)
    if snapshot.manifest is None or snapshot.key_prefix is None:
        raise Conflict(f"Snapshot {snapshot_id} is not complete (its job is {job.state}).")
    if name == MANIFEST_NAME:
        assert job.result_key and job.result_size is not None and job.result_sha256
        return StoredFile(
            job.result_key, name, "application/json", job.result_size, job.result_sha256
        )
    for entry in snapshot.manifest["files"]:
        if entry["name"] == name:
            return StoredFile(
                f"{snapshot.key_prefix}/{name}",
                name,
                entry.get("media_type") or "application/octet-stream",
                entry["size"],
                entry["sha256"],
            )
    raise NotFound(f"Snapshot {snapshot_id} has no file '{name}'.")
