"""Shared by the audit API and the audit page: the filter parameters, and the verification
shown at the top of the page (the chain, and the organization's latest signed checkpoint
when the server has a signing key and a checkpoint file)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Query
from sqlalchemy.orm import Session

from labelhouse.audit import checkpoints, keys
from labelhouse.audit.queries import MAX_FILTER_LENGTH, AuditFilters
from labelhouse.errors import LabelhouseError
from labelhouse.web.deps import Context

WHEN = "a date (YYYY-MM-DD) or an ISO 8601 time, UTC"


def audit_filters(
    action: str = Query(default="", max_length=MAX_FILTER_LENGTH, description="action prefix"),
    actor: str = Query(default="", max_length=MAX_FILTER_LENGTH, description="part of an e-mail"),
    object_type: str = Query(default="", max_length=MAX_FILTER_LENGTH),
    object_id: str = Query(default="", max_length=MAX_FILTER_LENGTH),
    since: str = Query(default="", max_length=40, description=WHEN),
    until: str = Query(default="", max_length=40, description=WHEN + " (a date: that whole day)"),
    q: str = Query(default="", max_length=MAX_FILTER_LENGTH, description="text in the details"),
) -> AuditFilters:
    return AuditFilters.parse(
        action=action,
        actor=actor,
        object_type=object_type,
        object_id=object_id,
        since=since,
        until=until,
        text=q,
    )


@dataclass
class Verification:
    events: int
    first_broken_id: int | None
    checkpoint: dict[str, Any] | None = None  # None: no checkpoints configured
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return self.first_broken_id is None and not self.problems

    def as_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "events": self.events,
            "intact": self.intact,
            "first_broken_id": self.first_broken_id,
        }
        if self.checkpoint is not None:
            out["checkpoint"] = self.checkpoint
            out["problems"] = self.problems
        return out


def _checkpoint_file(ctx: Context) -> checkpoints.CheckpointFile | None:
    """The server's checkpoint file, read incrementally across requests (kept on the app)."""
    settings = ctx.settings
    if settings.audit_checkpoint_file is None or settings.audit_signing_key is None:
        return None
    state = ctx.request.app.state
    cached = getattr(state, "audit_checkpoint_reader", None)
    if cached is None:
        key = keys.load_private_key(settings.audit_signing_key).public_key()
        cached = state.audit_checkpoint_reader = checkpoints.CheckpointFile(
            settings.audit_checkpoint_file, key
        )
    return cached  # type: ignore[no-any-return]


def verification(ctx: Context, session: Session, organization_id: int) -> Verification:
    """One pass over the chain; against the latest checkpoint too when configured."""
    try:
        reader = _checkpoint_file(ctx)
        if reader is not None:
            reader.refresh()
    except (LabelhouseError, OSError) as exc:
        message = exc.message if isinstance(exc, LabelhouseError) else str(exc)
        report = checkpoints.verify_organization(session, organization_id)
        return Verification(
            report.events,
            report.first_broken_id,
            {"configured": True, "error": message},
            [f"the checkpoints cannot be read: {message}"],
        )
    latest = reader.latest.get(organization_id) if reader is not None else None
    report = checkpoints.verify_organization(
        session, organization_id, [(0, latest)] if latest is not None else []
    )
    checkpoint: dict[str, Any] | None = None
    if reader is not None:
        checkpoint = {"configured": True, "latest": None}
        if latest is not None:
            checkpoint["latest"] = {
                "at": latest.at,
                "events": latest.events,
                "head_id": latest.head_id,
                "key_id": latest.key_id,
            }
    return Verification(report.events, report.first_broken_id, checkpoint, report.problems)
