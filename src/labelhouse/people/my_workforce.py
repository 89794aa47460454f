"""What a workforce manager (a vendor's own manager, ``team_member.is_manager``) sees and
does: their own people, the work routed to their workforce, their people's work and gold
scores — and nothing of other workforces, the lab's staff, gold answers, other projects,
the audit log or exports.

Every function starts from the actor's own workforce (``actor.workforce_id``); no id of
another workforce is ever taken from the caller. A person id outside the workforce is a
404, exactly like a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from labelhouse.accounts import invitations
from labelhouse.accounts.models import (
    Invitation,
    Membership,
    ProjectMember,
    Role,
    Team,
    TeamMember,
    User,
)
from labelhouse.accounts.policy import Actor
from labelhouse.annotations.models import Annotation
from labelhouse.audit import service as audit
from labelhouse.db.base import utcnow
from labelhouse.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Problem
from labelhouse.exports.service import ExportPlan, check_csv_formulas, check_format, plan_for
from labelhouse.people import organization
from labelhouse.projects.models import Project
from labelhouse.projects.service import load_schema
from labelhouse.review import gold as gold_scores
from labelhouse.tasks import outside_policy
from labelhouse.tasks.models import Assignment, TaskRoute
from labelhouse.tasks.visibility import (
    routes_visible_in,
    staging_of,
    stagings_of,
    visible_task_id,
)

RECENT_DAYS = 7
MAX_INVITES = 200


def own_workforce(session: Session, actor: Actor) -> Team:
    """The actor's workforce, if they manage it (else PermissionDenied)."""
    if actor.workforce_id is None or not actor.workforce_manager:
        raise PermissionDenied("Only a workforce's own managers can do this.")
    team = session.get(Team, actor.workforce_id)
    if team is None or team.organization_id != actor.organization_id or team.ended_at:
        raise PermissionDenied("Your workforce's contract has ended.")
    return team


@dataclass
class WorkforcePerson:
    user_id: int
    email: str
    name: str
    active: bool
    manager: bool
    last_active: datetime | None
    recent_annotations: int = 0


@dataclass
class WorkforceProject:
    id: int
    name: str
    routed_tasks: int = 0
    slots: int = 0
    taken: int = 0
    submitted: int = 0  # annotations submitted by the workforce's people


@dataclass
class WorkforceView:
    id: int
    name: str
    kind: str
    people: list[WorkforcePerson] = field(default_factory=list)
    projects: list[WorkforceProject] = field(default_factory=list)
    pending_invitations: list[Invitation] = field(default_factory=list)


def _people(session: Session, team: Team) -> list[WorkforcePerson]:
    managers = set(
        session.scalars(
            select(TeamMember.user_id).where(
                TeamMember.team_id == team.id, TeamMember.is_manager.is_(True)
            )
        )
    )
    rows = session.execute(
        select(User.id, User.email, User.name, Membership.deactivated_at, Membership.last_login_at)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.organization_id == team.organization_id, Membership.workforce_id == team.id
        )
        .order_by(User.email)
    ).all()
    people = {
        uid: WorkforcePerson(uid, email, name, gone is None, uid in managers, seen)
        for uid, email, name, gone, seen in rows
    }
    if people:
        since = utcnow() - timedelta(days=RECENT_DAYS)
        for uid, n in session.execute(
            select(Annotation.user_id, func.count())
            .join(Project, Project.id == Annotation.project_id)
            .where(
                Project.organization_id == team.organization_id,
                Annotation.user_id.in_(list(people)),
                Annotation.updated_at >= since,
            )
            .group_by(Annotation.user_id)
        ):
            people[uid].recent_annotations = n
    return list(people.values())


def _projects(session: Session, team: Team, people: list[int]) -> list[WorkforceProject]:
    projects = {
        pid: WorkforceProject(pid, name)
        for pid, name in session.execute(
            select(Project.id, Project.name)
            .join(ProjectMember, ProjectMember.project_id == Project.id)
            .where(ProjectMember.team_id == team.id, Project.archived.is_(False))
            .order_by(Project.name)
        )
    }
    if not projects:
        return []
    for pid, tasks, slots, taken in session.execute(
        select(
            TaskRoute.project_id,
            func.count(),
            func.coalesce(func.sum(TaskRoute.quota), 0),
            func.coalesce(func.sum(TaskRoute.taken), 0),
        )
        .where(
            TaskRoute.workforce_id == team.id,
            TaskRoute.project_id.in_(list(projects)),
            # not the routes of an import still being staged
            routes_visible_in(stagings_of(session, projects), TaskRoute.__table__),
        )
        .group_by(TaskRoute.project_id)
    ):
        projects[pid].routed_tasks, projects[pid].slots, projects[pid].taken = tasks, slots, taken
    if people:
        for pid, n in session.execute(
            select(Assignment.project_id, func.count())
            .where(
                Assignment.project_id.in_(list(projects)),
                Assignment.user_id.in_(people),
                Assignment.status == "submitted",
            )
            .group_by(Assignment.project_id)
        ):
            projects[pid].submitted = n
    return list(projects.values())


def view(session: Session, actor: Actor) -> WorkforceView:
    """The manager's workforce: its people, its projects with routed work, its pending
    invitations."""
    team = own_workforce(session, actor)
    people = _people(session, team)
    pending = list(
        session.scalars(
            select(Invitation)
            .where(
                Invitation.team_id == team.id,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > utcnow(),
            )
            .order_by(Invitation.created_at)
        )
    )
    return WorkforceView(
        team.id,
        team.name,
        team.kind,
        people,
        _projects(session, team, [p.user_id for p in people]),
        pending,
    )


def invite(session: Session, actor: Actor, *, emails: list[str]) -> list[tuple[Invitation, str]]:
    """Invite people into the organization as annotators of this workforce (all or nothing;
    the secrets go into the links)."""
    team = own_workforce(session, actor)
    if not emails or len(emails) > MAX_INVITES:
        raise InvalidInput(
            f"Invite 1 to {MAX_INVITES} people at once.", [Problem("emails", "1 to 200 addresses")]
        )
    out = []
    for i, email in enumerate(emails):
        try:
            out.append(
                invitations.create_invitation(
                    session, actor, email=email, role=Role.annotator, team_id=team.id
                )
            )
        except (Conflict, InvalidInput) as exc:
            raise InvalidInput(
                f"Nobody was invited: line {i + 1}: {exc}", [Problem(f"emails[{i}]", str(exc))]
            ) from None
    return out


def _own_person(
    session: Session, actor: Actor, team: Team, user_id: int
) -> tuple[Membership, User]:
    row = session.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.organization_id == actor.organization_id,
            Membership.user_id == user_id,
            Membership.workforce_id == team.id,
        )
    ).first()
    if row is None:
        raise NotFound(f"User {user_id} is not in your workforce.")
    return row[0], row[1]


def _not_a_manager(session: Session, team: Team, user_id: int, action: str) -> None:
    manager = session.scalar(
        select(TeamMember.is_manager).where(
            TeamMember.team_id == team.id, TeamMember.user_id == user_id
        )
    )
    if manager:
        raise PermissionDenied(
            f"Only the lab can {action} a workforce manager; ask the lab's administrators."
        )


def deactivate(session: Session, actor: Actor, *, user_id: int) -> organization.AccessEnded:
    """End one of the workforce's annotators' access (sessions, tokens, leases)."""
    team = own_workforce(session, actor)
    m, user = _own_person(session, actor, team, user_id)
    _not_a_manager(session, team, user_id, "deactivate")
    return organization.deactivate_member(session, actor, m, user)


def reactivate(session: Session, actor: Actor, *, user_id: int) -> Membership:
    team = own_workforce(session, actor)
    m, user = _own_person(session, actor, team, user_id)
    _not_a_manager(session, team, user_id, "reactivate")
    return organization.reactivate_member(session, actor, m, user)


@dataclass
class PersonWork:
    user_id: int
    email: str
    submitted: int
    last_submitted: datetime | None
    gold_answers: int
    gold_checked: int
    gold_correct: int

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_correct / self.gold_checked if self.gold_checked else None


def project_work(session: Session, actor: Actor, project_id: int) -> list[PersonWork]:
    """The workforce's people in one of its projects: submissions and gold scores (their
    own scores only; never the gold answers themselves)."""
    team = own_workforce(session, actor)
    in_project = session.scalar(
        select(ProjectMember.id).where(
            ProjectMember.project_id == project_id, ProjectMember.team_id == team.id
        )
    )
    project = session.get(Project, project_id)
    if in_project is None or project is None or project.organization_id != actor.organization_id:
        raise NotFound(f"Project {project_id} does not exist.")
    people = {p.user_id: p for p in _people(session, team)}
    work = {uid: PersonWork(uid, p.email, 0, None, 0, 0, 0) for uid, p in people.items()}
    if not work:
        return []
    for uid, n, last in session.execute(
        select(Assignment.user_id, func.count(), func.max(Assignment.finished_at))
        .where(
            Assignment.project_id == project_id,
            Assignment.user_id.in_(list(work)),
            Assignment.status == "submitted",
        )
        .group_by(Assignment.user_id)
    ):
        work[uid].submitted, work[uid].last_submitted = n, last
    for uid, score in gold_scores.scores_for(session, project, list(work)).items():
        work[uid].gold_answers = score.answers
        work[uid].gold_checked = score.checked
        work[uid].gold_correct = score.correct
    return list(work.values())


def plan_slice_export(
    session: Session, actor: Actor, project_id: int, *, format_name: str, csv_formulas: str
) -> ExportPlan:
    """An export of the workforce's own slice of a project, when the lab granted it
    (``project_member.can_export`` on the workforce's team): the tasks routed to it and its
    people's submitted annotations, with task data and answers as its people are shown them
    (the outside policy); no other workforce's work, no review, no predictions, no
    consensus. Recorded in the audit log like any export."""
    team = own_workforce(session, actor)
    grant = session.scalar(
        select(ProjectMember.can_export).where(
            ProjectMember.project_id == project_id, ProjectMember.team_id == team.id
        )
    )
    project = session.get(Project, project_id)
    if grant is None or project is None or project.organization_id != actor.organization_id:
        raise NotFound(f"Project {project_id} does not exist.")
    if not grant:
        raise PermissionDenied(
            "The lab has not granted your workforce exports of this project; ask its managers."
        )
    check_format(format_name)
    check_csv_formulas(csv_formulas)
    schema = load_schema(session, project)
    serving = outside_policy.serving_for(session, actor, project.id, schema)
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="project.export",
        object_type="project",
        object_id=project.id,
        details={"format": format_name, "workforce": team.name, "slice": True},
    )
    return plan_for(
        project,
        schema,
        format_name,
        include_drafts=False,
        csv_formulas=csv_formulas,
        workforce_id=team.id,
        data_view=None if serving is None else (lambda data: serving.data(0, data)),
        answer_view=None if serving is None else serving.answer,
    )


@dataclass
class RoutedTask:
    task_id: int
    quota: int  # annotations the workforce owes on it
    taken: int  # leased or submitted by its people
    submitted_by: list[str] = field(default_factory=list)  # its people's e-mails


MAX_PAGE = 500


def routed_tasks(
    session: Session, actor: Actor, project_id: int, *, after_id: int = 0, limit: int = 100
) -> list[RoutedTask]:
    """The tasks routed to the workforce in one of its projects, in id order (a page after
    ``after_id``): its quota and slots taken on each, and which of its people submitted.
    No task data here (its people see it in their own work), and nothing of other
    workforces' slots or answers on the same tasks."""
    team = own_workforce(session, actor)
    in_project = session.scalar(
        select(ProjectMember.id).where(
            ProjectMember.project_id == project_id, ProjectMember.team_id == team.id
        )
    )
    if in_project is None:
        raise NotFound(f"Project {project_id} does not exist.")
    rows = {
        task_id: RoutedTask(task_id, quota, taken)
        for task_id, quota, taken in session.execute(
            select(TaskRoute.task_id, TaskRoute.quota, TaskRoute.taken)
            .where(
                TaskRoute.project_id == project_id,
                TaskRoute.workforce_id == team.id,
                TaskRoute.task_id > after_id,
                visible_task_id(staging_of(session, project_id), TaskRoute.task_id),
            )
            .order_by(TaskRoute.task_id)
            .limit(max(1, min(limit, MAX_PAGE)))
        )
    }
    if rows:
        for task_id, email in session.execute(
            select(Assignment.task_id, User.email)
            .join(User, User.id == Assignment.user_id)
            .where(
                Assignment.task_id.in_(list(rows)),
                Assignment.workforce_id == team.id,
                Assignment.status == "submitted",
            )
            .order_by(Assignment.task_id, User.email)
        ):
            rows[task_id].submitted_by.append(email)
    return list(rows.values())


def set_reviewer(
    session: Session, actor: Actor, project_id: int, *, user_id: int, reviewer: bool
) -> None:
    """Make one of the workforce's people a reviewer of its own work in one of its projects
    (a direct project membership with the reviewer role), or an annotator again. Vendor
    reviewers review only their own workforce's work (``review/workforce_scope.py``)."""
    team = own_workforce(session, actor)
    _, user = _own_person(session, actor, team, user_id)
    in_project = session.scalar(
        select(ProjectMember.id).where(
            ProjectMember.project_id == project_id, ProjectMember.team_id == team.id
        )
    )
    if in_project is None:
        raise NotFound(f"Project {project_id} does not exist.")
    direct = session.scalar(
        select(ProjectMember).where(
            ProjectMember.project_id == project_id, ProjectMember.user_id == user_id
        )
    )
    if reviewer and direct is None:
        session.add(ProjectMember(project_id=project_id, user_id=user_id, role=Role.reviewer.value))
    elif reviewer and direct is not None:
        direct.role = Role.reviewer.value
    elif direct is not None:
        session.delete(direct)  # back to the workforce's own project role
    session.flush()
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="workforce.reviewer",
        object_type="project",
        object_id=project_id,
        details={"email": user.email, "reviewer": reviewer, "workforce": team.name},
    )


def set_manager(
    session: Session, actor: Actor, team_id: int, *, user_id: int, manager: bool
) -> None:
    """The lab (organization owners and managers) names or un-names a workforce's managers."""
    actor.require_org(Role.manager, "name a workforce's managers")
    team = session.scalar(
        select(Team).where(Team.id == team_id, Team.organization_id == actor.organization_id)
    )
    if team is None:
        raise NotFound(f"Team {team_id} does not exist.")
    if not team.is_workforce:
        raise Conflict(f"'{team.name}' is not a workforce: mark it staff or vendor first.")
    changed = session.execute(
        update(TeamMember)
        .where(TeamMember.team_id == team.id, TeamMember.user_id == user_id)
        .values(is_manager=manager)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        raise NotFound(f"User {user_id} is not in '{team.name}'.")
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="workforce.manager",
        object_type="team",
        object_id=team.id,
        details={"name": team.name, "user_id": user_id, "manager": manager},
    )
