"""What happens when someone loses access to a project: their leases end at once.

Work they hold goes straight back to the queue (and a review lease back to the review
queue) instead of waiting out its expiry. Their pages stop working at their next request on
this app server and within the identity cache's bound (``identity_cache_seconds``, 5 s by
default) on the others.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from labelhouse.accounts import access
from labelhouse.accounts.models import Membership, Role
from labelhouse.projects.models import Project
from labelhouse.review.models import ReviewLease
from labelhouse.tasks import queue


def end_lost_leases(session: Session, *, project_id: int, user_ids: Iterable[int]) -> int:
    """End the leases in ``project_id`` of those ``user_ids`` who can no longer see it."""
    organization_id = session.scalar(
        select(Project.organization_id).where(Project.id == project_id)
    )
    if organization_id is None:
        return 0
    lost = [
        uid
        for uid in sorted(set(user_ids))
        if not _still_sees(session, user_id=uid, organization_id=organization_id, pid=project_id)
    ]
    return end_leases(session, project_ids=[project_id], user_ids=lost)


def end_leases(session: Session, *, project_ids: Iterable[int], user_ids: list[int]) -> int:
    ended = 0
    for pid in project_ids:
        ended += queue.end_leases(session, project_id=pid, user_ids=user_ids)
        if user_ids:
            session.execute(
                delete(ReviewLease)
                .where(ReviewLease.project_id == pid, ReviewLease.reviewer_id.in_(user_ids))
                .execution_options(synchronize_session=False)
            )
    return ended


def _still_sees(session: Session, *, user_id: int, organization_id: int, pid: int) -> bool:
    role = session.scalar(
        select(Membership.role).where(
            Membership.user_id == user_id,
            Membership.organization_id == organization_id,
            Membership.deactivated_at.is_(None),
        )
    )
    if role is None:
        return False
    if not access.needs_project_roles(Role(role)):
        return True
    roles = access.project_roles(session, user_id=user_id, organization_id=organization_id)
    return pid in roles
