"""Read queries over the audit log for project pages."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelhouse.audit.models import AuditEvent


def project_events(
    session: Session, organization_id: int, project_id: int, *, limit: int = 10
) -> list[AuditEvent]:
    """The newest events about one project. Scoped by organization like every tenant query
    (object ids are only unique per type, and the type is part of the filter)."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.organization_id == organization_id,
                AuditEvent.object_type == "project",
                AuditEvent.object_id == str(project_id),
            )
            .order_by(AuditEvent.id.desc())
            .limit(limit)
        )
    )
