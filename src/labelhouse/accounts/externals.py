"""External annotators: the authors of imported answers who are not users of the organization.

An annotation needs a ``user_account`` row (``annotation.user_id`` is a required foreign
key), and a crowd worker or a vendor's annotator deserves to be counted as one person in
agreement, scorecards and gold accuracy. So each identity a file names that is not the
e-mail of a member becomes a user row that can never act:

* no password and ``is_active`` false: sign-in, sessions and API tokens all refuse it
  (``accounts/service.py`` checks ``is_active`` on every path);
* no membership: it is never a member, so it can never be added to a project or a team,
  given work, or made an owner;
* its e-mail is a label that is not an address (``"w42 [external 7]"``): no invitation or
  new user can take it, and reports that show e-mails show the identity;
* one ``external_annotator`` row scopes it to its organization (``identity`` unique there)
  and may attach it to a workforce, so vendor comparisons count its answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelhouse.accounts.models import ExternalAnnotator, Membership, Role, Team, User
from labelhouse.accounts.policy import Actor
from labelhouse.errors import InvalidInput, Problem

MAX_IDENTITY = 200
CHUNK = 500


def external_email(organization_id: int, identity: str) -> str:
    """The unique label stored as an external annotator's e-mail. It has a space and
    brackets, which no address the sign-up paths accept can have (but it reads well)."""
    return f"{identity} [external {organization_id}]"


def members_by_email(
    session: Session, organization_id: int, emails: Iterable[str]
) -> dict[str, int]:
    """``{lower-case e-mail: user id}`` of the organization's members (deactivated ones too:
    their old answers are still theirs) among ``emails``."""
    wanted = sorted({e.strip().lower() for e in emails if "@" in e})
    found: dict[str, int] = {}
    for i in range(0, len(wanted), CHUNK):
        rows = session.execute(
            select(User.email, User.id)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.organization_id == organization_id, User.email.in_(wanted[i : i + CHUNK])
            )
        )
        found.update({email: uid for email, uid in rows})
    return found


def externals_by_identity(
    session: Session, organization_id: int, identities: Iterable[str]
) -> dict[str, int]:
    """``{identity: user id}`` of the organization's external annotators among ``identities``."""
    wanted = sorted(set(identities))
    found: dict[str, int] = {}
    for i in range(0, len(wanted), CHUNK):
        rows = session.execute(
            select(ExternalAnnotator.identity, ExternalAnnotator.user_id).where(
                ExternalAnnotator.organization_id == organization_id,
                ExternalAnnotator.identity.in_(wanted[i : i + CHUNK]),
            )
        )
        found.update({identity: uid for identity, uid in rows})
    return found


def workforce_of(session: Session, actor: Actor, name_or_id: str | int | None) -> int | None:
    """The id of a workforce (staff or vendor team) of the actor's organization, by id or
    exact name; None for None. Anything else is a problem naming the workforces there are."""
    if name_or_id is None or name_or_id == "":
        return None
    query = select(Team.id, Team.name).where(
        Team.organization_id == actor.organization_id, Team.kind.in_(("staff", "vendor"))
    )
    teams = session.execute(query).all()
    for team_id, name in teams:
        if str(name_or_id) in (name, str(team_id)):
            return int(team_id)
    names = ", ".join(sorted(name for _, name in teams)) or "none yet"
    raise InvalidInput(
        f"There is no workforce '{name_or_id}' in this organization.",
        [Problem("workforce", f"unknown workforce; the organization has: {names}")],
    )


def workforces_of_users(
    session: Session, organization_id: int, user_ids: list[int]
) -> dict[int, int]:
    """``{user id: workforce id}`` for members in a workforce and external annotators
    attached to one (what an imported answer's assignment records, like a lease would)."""
    out: dict[int, int] = {}
    for i in range(0, len(user_ids), CHUNK):
        chunk = user_ids[i : i + CHUNK]
        for query in (
            select(Membership.user_id, Membership.workforce_id).where(
                Membership.organization_id == organization_id,
                Membership.user_id.in_(chunk),
                Membership.workforce_id.is_not(None),
            ),
            select(ExternalAnnotator.user_id, ExternalAnnotator.workforce_id).where(
                ExternalAnnotator.organization_id == organization_id,
                ExternalAnnotator.user_id.in_(chunk),
                ExternalAnnotator.workforce_id.is_not(None),
            ),
        ):
            out.update({uid: wf for uid, wf in session.execute(query)})
    return out


def create_externals(
    session: Session, organization_id: int, identities: list[str], workforce_id: int | None
) -> dict[str, int]:
    """New external annotators (identities not yet known); ``{identity: user id}``."""
    out: dict[str, int] = {}
    for identity in identities:
        user = User(
            email=external_email(organization_id, identity),
            name=identity,
            password_hash=None,
            is_active=False,
        )
        session.add(user)
        session.flush()
        session.add(
            ExternalAnnotator(
                user_id=user.id,
                organization_id=organization_id,
                identity=identity,
                workforce_id=workforce_id,
            )
        )
        out[identity] = user.id
    session.flush()
    return out


@dataclass
class External:
    user_id: int
    identity: str
    workforce: str | None
    created_at: datetime


def list_externals(session: Session, actor: Actor) -> list[External]:
    """The organization's external annotators with their workforce (the people page)."""
    actor.require_org(Role.manager, "see the organization's people")
    rows = session.execute(
        select(
            ExternalAnnotator.user_id,
            ExternalAnnotator.identity,
            Team.name,
            ExternalAnnotator.created_at,
        )
        .outerjoin(Team, Team.id == ExternalAnnotator.workforce_id)
        .where(ExternalAnnotator.organization_id == actor.organization_id)
        .order_by(ExternalAnnotator.identity)
    ).all()
    return [External(uid, identity, team, created) for uid, identity, team, created in rows]
