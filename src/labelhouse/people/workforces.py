"""Workforces: teams marked as the lab's own staff or as an outside vendor.

A workforce is a team with a kind (``staff`` or ``vendor``), a contact, a price per task
and/or per hour, and a currency. Work is routed to workforces per project
(:mod:`labelhouse.tasks.routing`). Ending a vendor's contract deactivates all its people at
once (sessions, tokens and leases end) and keeps every annotation's attribution. The rules
that keep workforces apart are in :mod:`labelhouse.people.workforce_rules`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labelhouse.accounts.models import (
    GROUP,
    TEAM_KINDS,
    VENDOR,
    WORKFORCE_KINDS,
    Membership,
    Role,
    Team,
    User,
)
from labelhouse.accounts.policy import Actor
from labelhouse.audit import service as audit
from labelhouse.db.base import utcnow
from labelhouse.errors import Conflict, InvalidInput, NotFound, Problem
from labelhouse.people import organization, workforce_rules
from labelhouse.tasks.models import TaskRoute

CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_PRICE = 1e9
KEEP: Any = object()  # a field left as it is


@dataclass
class ContractEnded:
    deactivated: list[str]
    already_inactive: list[str]
    leases_ended: int
    tokens_revoked: int
    open_slots: int  # routed work the vendor had not started: move it


def _team(session: Session, actor: Actor, team_id: int) -> Team:
    team = session.scalar(
        select(Team).where(Team.id == team_id, Team.organization_id == actor.organization_id)
    )
    if team is None:
        raise NotFound(f"Team {team_id} does not exist.")
    return team


def _price(value: float | None, field_name: str) -> float | None:
    if value is None:
        return None
    if not (isinstance(value, int | float) and math.isfinite(value) and 0 <= value <= MAX_PRICE):
        raise InvalidInput(
            f"{field_name} must be a number from 0 to {MAX_PRICE:,.0f}.",
            [Problem(field_name, "a non-negative number")],
        )
    return float(value)


def update_workforce(
    session: Session,
    actor: Actor,
    team_id: int,
    *,
    kind: str = KEEP,
    contact: str = KEEP,
    price_per_task: float | None = KEEP,
    price_per_hour: float | None = KEEP,
    currency: str = KEEP,
) -> Team:
    """Mark a team as a workforce (or a plain team again) and set its contract details.
    Fields passed as :data:`KEEP` stay as they are. Organization owners and managers."""
    actor.require_org(Role.manager, "manage workforces")
    team = _team(session, actor, team_id)
    changes: dict[str, Any] = {}
    if kind is not KEEP and kind != team.kind:
        if kind not in TEAM_KINDS:
            raise InvalidInput(
                f"'{kind}' is not a kind of team: use group, staff or vendor.",
                [Problem("kind", "group, staff or vendor")],
            )
        changes["kind"] = [team.kind, kind]
        team.kind = kind  # the checks below apply the new kind's rules (a refusal rolls back)
        _change_kind(session, team)
    if contact is not KEEP:
        if len(contact) > 500 or "\x00" in contact:
            raise InvalidInput(
                "The contact is too long.", [Problem("contact", "at most 500 characters")]
            )
        team.contact = contact.strip()
        changes["contact"] = team.contact
    if price_per_task is not KEEP:
        team.price_per_task = _price(price_per_task, "price_per_task")
        changes["price_per_task"] = team.price_per_task
    if price_per_hour is not KEEP:
        team.price_per_hour = _price(price_per_hour, "price_per_hour")
        changes["price_per_hour"] = team.price_per_hour
    if currency is not KEEP:
        code = (currency or "").strip().upper()
        if code and not CURRENCY.match(code):
            raise InvalidInput(
                f"'{currency}' is not a currency code: use three letters, e.g. USD or EUR.",
                [Problem("currency", "an ISO 4217 code such as USD")],
            )
        team.currency = code
        changes["currency"] = code
    if team.kind == GROUP and (team.price_per_task or team.price_per_hour):
        raise InvalidInput(
            "Only a workforce has prices: mark the team staff or vendor.",
            [Problem("kind", "staff or vendor")],
        )
    session.flush()
    _audit(session, actor, team, "workforce.update", changes)
    return team


def _change_kind(session: Session, team: Team) -> None:
    """Keep the team's people in step with its new ``kind`` (already set on ``team``)."""
    members = workforce_rules.team_user_ids(session, team.id)
    if team.kind in WORKFORCE_KINDS:
        workforce_rules.check_can_join(session, team, members)
        if team.kind == VENDOR:
            workforce_rules.check_vendor_team_projects(session, team)
            if team.ended_at is not None:
                raise Conflict(f"The contract of '{team.name}' has ended.")
        workforce_rules.joined(session, team, members)
        return
    routed = session.scalar(select(func.count()).where(TaskRoute.workforce_id == team.id)) or 0
    if routed:
        raise Conflict(
            f"{routed} task routes name '{team.name}': move its work to another workforce "
            "before making it a plain team."
        )
    workforce_rules.left(session, team, members)


def end_contract(session: Session, actor: Actor, team_id: int) -> ContractEnded:
    """End a vendor's contract: every person in it is deactivated at once (sessions, API
    tokens and leases end; their annotations stay attributed), and no work can be routed to
    it any more. Its unstarted routed work stays where it is: move it (the answer says how
    many slots are open)."""
    actor.require_org(Role.manager, "end a vendor's contract")
    team = _team(session, actor, team_id)
    if team.kind != VENDOR:
        raise Conflict(f"'{team.name}' is not a vendor; only a vendor's contract can end.")
    if team.ended_at is not None:
        raise Conflict(f"The contract of '{team.name}' has already ended.")
    result = ContractEnded([], [], 0, 0, 0)
    people = session.execute(
        select(Membership.user_id, Membership.deactivated_at, User.email)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.organization_id == actor.organization_id,
            Membership.workforce_id == team.id,
        )
        .order_by(User.email)
    ).all()
    for user_id, deactivated_at, email in people:
        if deactivated_at is not None:
            result.already_inactive.append(email)
            continue
        ended = organization.deactivate(session, actor, user_id=user_id)
        result.deactivated.append(email)
        result.leases_ended += ended.leases_ended
        result.tokens_revoked += len(ended.revoked_tokens)
    team.ended_at = utcnow()
    result.open_slots = int(
        session.scalar(
            select(func.coalesce(func.sum(TaskRoute.quota - TaskRoute.taken), 0)).where(
                TaskRoute.workforce_id == team.id
            )
        )
        or 0
    )
    _audit(
        session,
        actor,
        team,
        "workforce.end_contract",
        {"deactivated": result.deactivated, "leases_ended": result.leases_ended},
    )
    return result


def _audit(
    session: Session, actor: Actor, team: Team, action: str, details: dict[str, Any]
) -> None:
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action=action,
        object_type="team",
        object_id=team.id,
        details={"name": team.name, **details},
    )
