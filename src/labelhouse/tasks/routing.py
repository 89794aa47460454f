"""Routing: which workforce works on which task.

A project with routes hands each routed task only to the people of the workforces it is
routed to, each workforce up to its quota of annotations on that task (``task_route``).
Tasks are routed **by share** (each task goes whole to one workforce, so that workforce A
gets 50 %, B 30 %, C 20 % of the selected tasks, interleaved in id order) or **to each**
listed workforce (every selected task once by A and once by B: the same items labelled
by several vendors, so they can be compared). The quotas of a task add up to the project's
overlap, and ``task.taken`` still never exceeds the overlap: routing narrows who gets a
slot, it never adds one (see :mod:`labelhouse.tasks.queue`).

Only unstarted tasks (no live lease, no submission) are routed or re-routed; work already
done or in hand stays where it is. Gold tasks are never routed: every workforce is served
them by the same gold rule, at the same rate.

Who gets what in a project with routes:
- a member of a workforce: the tasks routed to their workforce (vendors get nothing else);
- lab people who are in no vendor: the tasks routed to their staff workforce, if they are
  in one, then tasks routed to nobody.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

from labelhouse.accounts.models import ProjectMember, Role, Team
from labelhouse.accounts.policy import Actor
from labelhouse.audit import service as audit
from labelhouse.errors import Conflict, InvalidInput, NotFound, Problem
from labelhouse.projects.models import Project
from labelhouse.projects.service import get_project
from labelhouse.tasks.models import Task, TaskImport, TaskRoute
from labelhouse.tasks.visibility import DONE, staging_of, visible, visible_task_id

WORKFORCE_KINDS = ("staff", "vendor")
MODES = ("share", "each")
BATCH = 5000
MAX_IDS = 100_000
MAX_WORKFORCES = 50

_T: Table = Task.__table__  # type: ignore[assignment]
_R: Table = TaskRoute.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Slot:
    """A workforce in a routing: its ``share`` (by share) or its ``quota`` (to each)."""

    workforce_id: int
    share: float = 0.0
    quota: int = 0


@dataclass(frozen=True)
class Selection:
    """Which tasks to (re-)route. Always only unstarted, non-gold tasks of the project; by
    default those routed to nobody yet. The others narrow it: one import, a list of ids, a
    task-data key with a value; ``every_unstarted`` also re-routes tasks already routed."""

    import_id: int | None = None
    task_ids: tuple[int, ...] | None = None
    data_key: str | None = None
    data_value: str | None = None
    every_unstarted: bool = False

    @property
    def narrowed(self) -> bool:
        return self.import_id is not None or self.task_ids is not None or bool(self.data_key)


@dataclass
class RoutingResult:
    tasks: int = 0
    per_workforce: dict[int, int] = field(default_factory=dict)  # workforce id -> tasks

    def as_dict(self, names: dict[int, str]) -> dict[str, Any]:
        return {
            "tasks": self.tasks,
            "workforces": [
                {"id": wf, "name": names.get(wf, ""), "tasks": n}
                for wf, n in sorted(self.per_workforce.items())
            ],
        }


# -- checks ------------------------------------------------------------------------------------


def workforces_of_project(session: Session, project_id: int) -> dict[int, Team]:
    """The workforces (staff or vendor teams) that are members of the project."""
    rows = session.scalars(
        select(Team)
        .join(ProjectMember, ProjectMember.team_id == Team.id)
        .where(ProjectMember.project_id == project_id, Team.kind.in_(WORKFORCE_KINDS))
    )
    return {t.id: t for t in rows}


def _check_slots(
    session: Session, project: Project, mode: str, slots: Sequence[Slot]
) -> dict[int, Team]:
    if mode not in MODES:
        raise InvalidInput(
            f"Unknown routing mode '{mode}': use 'share' or 'each'.",
            [Problem("mode", "share or each")],
        )
    if not slots or len(slots) > MAX_WORKFORCES:
        raise InvalidInput(
            "Name the workforces to route to.",
            [Problem("workforces", f"1 to {MAX_WORKFORCES} workforces")],
        )
    ids = [s.workforce_id for s in slots]
    if len(set(ids)) != len(ids):
        raise InvalidInput(
            "A workforce is named twice.", [Problem("workforces", "each workforce once")]
        )
    in_project = workforces_of_project(session, project.id)
    known = {
        t.id: t
        for t in session.scalars(
            select(Team).where(Team.id.in_(ids), Team.organization_id == project.organization_id)
        )
    }
    problems = []
    for i, slot in enumerate(slots):
        where = f"workforces[{i}]"
        team = known.get(slot.workforce_id)
        if team is None:
            problems.append(Problem(where, f"no team {slot.workforce_id} in this organization"))
        elif team.kind not in WORKFORCE_KINDS:
            problems.append(
                Problem(where, f"'{team.name}' is a team, not a workforce: mark it staff or vendor")
            )
        elif team.ended_at is not None:
            problems.append(Problem(where, f"the contract of '{team.name}' has ended"))
        elif team.id not in in_project:
            problems.append(
                Problem(where, f"'{team.name}' is not a member of this project: add it first")
            )
        elif mode == "share" and not (0 < slot.share <= 1e6):
            problems.append(Problem(where, "share must be a positive number"))
        elif mode == "each" and not (1 <= slot.quota <= project.overlap):
            problems.append(
                Problem(where, f"quota must be 1 to {project.overlap} (the project's overlap)")
            )
    if problems:
        raise InvalidInput(f"Cannot route: {problems[0].field}: {problems[0].problem}.", problems)
    if mode == "each":
        total = sum(s.quota for s in slots)
        if total != project.overlap:
            raise InvalidInput(
                f"The quotas add up to {total}, but the project asks for {project.overlap} "
                "annotations per task: make them add up to the overlap.",
                [Problem("workforces", f"quotas must add up to {project.overlap}")],
            )
    return known


def _check_selection(session: Session, project: Project, selection: Selection) -> None:
    if selection.task_ids is not None and not (0 < len(selection.task_ids) <= MAX_IDS):
        raise InvalidInput(
            "Give 1 to 100,000 task ids.", [Problem("tasks.ids", f"1 to {MAX_IDS} ids")]
        )
    if selection.data_key is not None:
        key = selection.data_key
        if not key or len(key) > 200 or "\x00" in key:
            raise InvalidInput(
                "Name the task-data key to filter on.", [Problem("tasks.key", "1 to 200 chars")]
            )
        if selection.data_value is None or len(selection.data_value) > 2000:
            raise InvalidInput(
                "Give the value the key must have.", [Problem("tasks.equals", "a string")]
            )
    if selection.import_id is not None:
        found = session.scalar(
            select(TaskImport.id).where(
                TaskImport.id == selection.import_id,
                TaskImport.project_id == project.id,
                TaskImport.state == DONE,  # one still being staged is not there yet
            )
        )
        if found is None:
            raise NotFound(f"Import {selection.import_id} does not exist in this project.")


# -- choosing tasks ----------------------------------------------------------------------------


def _unstarted(project_id: int) -> list[ColumnElement[bool]]:
    return [_T.c.project_id == project_id, _T.c.gold.is_(None), _T.c.taken == 0]


def _data_condition(selection: Selection) -> ColumnElement[bool] | None:
    """The task data's top-level ``key`` equals the text ``value`` (SQLite's json_extract,
    PostgreSQL's ->>, through SQLAlchemy's JSON type)."""
    if not selection.data_key:
        return None
    return _T.c.data[selection.data_key].as_string() == selection.data_value  # type: ignore[no-any-return]


def selected_task_ids(
    session: Session, project_id: int, selection: Selection
) -> Iterator[list[int]]:
    """The selected tasks' ids, in id order, a batch at a time (keyset pages: memory stays
    flat at a million tasks, and no cursor stays open while routes are written). Never
    the tasks of an import still being staged."""
    where = _unstarted(project_id)
    where.append(visible(staging_of(session, project_id)))
    if selection.import_id is not None:
        where.append(_T.c.import_id == selection.import_id)
    data = _data_condition(selection)
    if data is not None:
        where.append(data)
    if not selection.narrowed and not selection.every_unstarted:
        where.append(~exists().where(_R.c.task_id == _T.c.id))
    wanted = sorted(set(selection.task_ids)) if selection.task_ids is not None else None
    last = 0
    while True:
        query = select(_T.c.id).where(*where, _T.c.id > last).order_by(_T.c.id).limit(BATCH)
        if wanted is not None:
            chunk = [i for i in wanted if i > last][:BATCH]
            if not chunk:
                return
            query = select(_T.c.id).where(*where, _T.c.id.in_(chunk)).order_by(_T.c.id)
            ids = list(session.scalars(query))
            last = chunk[-1]
            if ids:
                yield ids
            continue
        ids = list(session.scalars(query))
        if not ids:
            return
        last = ids[-1]
        yield ids


def _share_picker(slots: Sequence[Slot]) -> Iterator[int]:
    """Smooth weighted round-robin: at every prefix each workforce has had its share of the
    tasks to within one, and the order is deterministic (re-running routes the same way)."""
    total = sum(s.share for s in slots)
    current = [0.0] * len(slots)
    while True:
        for i, s in enumerate(slots):
            current[i] += s.share
        best = max(range(len(slots)), key=lambda i: (current[i], -i))
        current[best] -= total
        yield slots[best].workforce_id


# -- routing -----------------------------------------------------------------------------------


def route_tasks(
    session: Session,
    actor: Actor,
    project_id: int,
    *,
    mode: str,
    slots: Sequence[Slot],
    selection: Selection = Selection(),
    remember: bool = False,
) -> RoutingResult:
    """Route the selected unstarted tasks (replacing their routes); with ``remember``, also
    every task imported from now on (the rule is kept on the project)."""
    actor = actor.in_project(project_id)
    actor.require(Role.manager, "route work to workforces")
    project = get_project(session, actor, project_id)
    known = _check_slots(session, project, mode, slots)
    _check_selection(session, project, selection)
    result = _route(session, project, mode, slots, selection)
    if remember:
        project.routing_rule = {
            "mode": mode,
            "workforces": [
                {"id": s.workforce_id, "share": s.share, "quota": s.quota} for s in slots
            ],
        }
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="project.route",
        object_type="project",
        object_id=project.id,
        details={
            "mode": mode,
            "workforces": {known[w].name: n for w, n in result.per_workforce.items()},
            "tasks": result.tasks,
            "remember": remember,
        },
    )
    return result


class Router:
    """Routes tasks a batch of ids at a time, in id order: the share picker carries on from
    one batch to the next, so batches written in separate transactions (an import staged on
    SQLite) are routed exactly as one run would route them."""

    def __init__(self, project: Project, mode: str, slots: Sequence[Slot]) -> None:
        self.project_id, self.overlap = project.id, project.overlap
        self.mode, self.slots = mode, list(slots)
        self.picker = _share_picker(self.slots)
        self.result = RoutingResult(per_workforce={s.workforce_id: 0 for s in slots})

    def route(self, session: Session, ids: list[int]) -> None:
        """Replace the routes of these tasks (none, for new ones)."""
        if not ids:
            return
        conn = session.connection()
        conn.execute(delete(_R).where(_R.c.task_id.in_(ids)))
        rows: list[dict[str, Any]] = []
        per_workforce = self.result.per_workforce
        for task_id in ids:
            if self.mode == "share":
                wf = next(self.picker)
                rows.append(_route_row(self.project_id, task_id, wf, self.overlap))
                per_workforce[wf] += 1
            else:
                for s in self.slots:
                    rows.append(_route_row(self.project_id, task_id, s.workforce_id, s.quota))
                    per_workforce[s.workforce_id] += 1
        conn.execute(insert(_R), rows)
        self.result.tasks += len(ids)


def _route(
    session: Session, project: Project, mode: str, slots: Sequence[Slot], selection: Selection
) -> RoutingResult:
    router = Router(project, mode, slots)
    for ids in selected_task_ids(session, project.id, selection):
        router.route(session, ids)
    if router.result.tasks:
        project.routed = True
    return router.result


def _route_row(project_id: int, task_id: int, workforce_id: int, quota: int) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "task_id": task_id,
        "workforce_id": workforce_id,
        "quota": quota,
        "taken": 0,
        "is_open": True,
    }


def rule_router(session: Session, project: Project) -> Router | None:
    """A router for the project's remembered rule (None without one), checked now: Conflict
    if the rule no longer holds (the import's caller is already known to be a manager)."""
    rule = project.routing_rule
    if not rule:
        return None
    slots = [
        Slot(int(w["id"]), float(w.get("share") or 0), int(w.get("quota") or 0))
        for w in rule.get("workforces", [])
    ]
    try:
        _check_slots(session, project, rule.get("mode", ""), slots)
    except InvalidInput as exc:
        raise Conflict(
            f"The project's routing rule no longer holds ({exc}); change it in Settings → "
            "Routing before importing."
        ) from None
    return Router(project, rule["mode"], slots)


def apply_rule_to_import(session: Session, project: Project, import_id: int) -> RoutingResult:
    """Route an import's new tasks by the project's remembered rule (if any), in the
    import's own transaction (PostgreSQL; SQLite's staged import routes batch by batch)."""
    router = rule_router(session, project)
    if router is None:
        return RoutingResult()
    for ids in selected_task_ids(session, project.id, Selection(import_id=import_id)):
        router.route(session, ids)
    if router.result.tasks:
        project.routed = True
    return router.result


def forget_rule(session: Session, actor: Actor, project_id: int) -> None:
    actor = actor.in_project(project_id)
    actor.require(Role.manager, "route work to workforces")
    get_project(session, actor, project_id).routing_rule = None


def unroute_tasks(
    session: Session, actor: Actor, project_id: int, selection: Selection = Selection()
) -> int:
    """Take the selected unstarted tasks out of routing (anyone in no vendor may then get
    them). Returns how many tasks had routes."""
    actor = actor.in_project(project_id)
    actor.require(Role.manager, "route work to workforces")
    project = get_project(session, actor, project_id)
    _check_selection(session, project, selection)
    everything = Selection(
        import_id=selection.import_id,
        task_ids=selection.task_ids,
        data_key=selection.data_key,
        data_value=selection.data_value,
        every_unstarted=True,
    )
    removed = 0
    conn = session.connection()
    for ids in selected_task_ids(session, project.id, everything):
        removed += conn.execute(
            select(func.count(func.distinct(_R.c.task_id))).where(_R.c.task_id.in_(ids))
        ).scalar_one()
        conn.execute(delete(_R).where(_R.c.task_id.in_(ids)))
    _refresh_routed(session, project)
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="project.unroute",
        object_type="project",
        object_id=project.id,
        details={"tasks": removed},
    )
    return removed


def _refresh_routed(session: Session, project: Project) -> None:
    project.routed = bool(session.scalar(select(exists().where(_R.c.project_id == project.id))))


def move_work(session: Session, actor: Actor, project_id: int, *, from_id: int, to_id: int) -> int:
    """Give every slot the ``from`` workforce has not started (no lease, no submission) to
    the ``to`` workforce, in one transaction. Returns how many slots moved. Work already
    done or leased stays with whoever has it."""
    actor = actor.in_project(project_id)
    actor.require(Role.manager, "move work between workforces")
    project = get_project(session, actor, project_id)
    if from_id == to_id:
        raise InvalidInput(
            "Move work to another workforce.", [Problem("to", "differs from 'from'")]
        )
    known = _check_slots(session, project, "share", [Slot(to_id, share=1)])
    source = session.scalar(
        select(Team).where(Team.id == from_id, Team.organization_id == actor.organization_id)
    )
    if source is None:
        raise NotFound(f"Team {from_id} does not exist.")
    conn = session.connection()
    spare = (_R.c.quota - _R.c.taken).label("spare")
    src = _R.alias("src")
    staged = staging_of(session, project.id)  # the routes of a staged import stay as they are
    mine = and_(
        src.c.project_id == project.id,
        src.c.workforce_id == from_id,
        visible_task_id(staged, src.c.task_id),
    )
    moved = conn.execute(
        select(func.coalesce(func.sum(src.c.quota - src.c.taken), 0)).where(
            mine, src.c.quota > src.c.taken
        )
    ).scalar_one()
    if not moved:
        return 0
    # 1. tasks the target already has a route on: it gets the spare slots there
    extra = (
        select(src.c.quota - src.c.taken)
        .where(mine, src.c.task_id == _R.c.task_id, src.c.quota > src.c.taken)
        .scalar_subquery()
    )
    has_spare = exists().where(mine, src.c.task_id == _R.c.task_id, src.c.quota > src.c.taken)
    conn.execute(
        update(_R)
        .where(_R.c.project_id == project.id, _R.c.workforce_id == to_id, has_spare)
        .values(quota=_R.c.quota + extra, is_open=True)
    )
    # 2. the other tasks get a new route for the target
    target = _R.alias("target")
    conn.execute(
        insert(_R).from_select(
            ["project_id", "task_id", "workforce_id", "quota", "taken", "is_open"],
            select(
                src.c.project_id,
                src.c.task_id,
                literal(to_id),
                src.c.quota - src.c.taken,
                literal(0),
                true(),
            ).where(
                mine,
                src.c.quota > src.c.taken,
                ~exists().where(target.c.task_id == src.c.task_id, target.c.workforce_id == to_id),
            ),
        )
    )
    # 3. the source keeps exactly what it has started
    conn.execute(
        update(_R)
        .where(
            _R.c.project_id == project.id,
            _R.c.workforce_id == from_id,
            spare > 0,
            visible_task_id(staged, _R.c.task_id),
        )
        .values(quota=_R.c.taken, is_open=False)
    )
    conn.execute(
        delete(_R).where(
            _R.c.project_id == project.id, _R.c.workforce_id == from_id, _R.c.quota == 0
        )
    )
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="project.move_work",
        object_type="project",
        object_id=project.id,
        details={"from": source.name, "to": known[to_id].name, "slots": int(moved)},
    )
    return int(moved)


# -- what is where -----------------------------------------------------------------------------


@dataclass
class WorkforceRouting:
    id: int
    name: str
    kind: str
    tasks: int
    slots: int
    taken: int

    @property
    def open_slots(self) -> int:
        return self.slots - self.taken


@dataclass
class RoutingSummary:
    workforces: list[WorkforceRouting]
    unrouted_tasks: int
    rule: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        """The summary as the API, the settings page and ``labelhouse route show --json``
        give it (the remembered rule's workforces named)."""
        names = {w.id: w.name for w in self.workforces}
        rule = self.rule
        return {
            "workforces": [
                {
                    "id": w.id,
                    "name": w.name,
                    "kind": w.kind,
                    "tasks": w.tasks,
                    "slots": w.slots,
                    "taken": w.taken,
                    "open_slots": w.open_slots,
                }
                for w in self.workforces
            ],
            "unrouted_tasks": self.unrouted_tasks,
            "rule": None
            if not rule
            else {
                "mode": rule.get("mode"),
                "workforces": [
                    {**w, "name": names.get(w["id"], f"team {w['id']}")}
                    for w in rule.get("workforces", [])
                ],
            },
        }


def routing_summary(session: Session, actor: Actor, project_id: int) -> RoutingSummary:
    actor = actor.in_project(project_id)
    actor.require(Role.manager, "see how work is routed")
    project = get_project(session, actor, project_id)
    members = workforces_of_project(session, project.id)
    staged = staging_of(session, project.id)  # an import still being staged is left out
    counts = {
        wf: (tasks, slots, taken)
        for wf, tasks, slots, taken in session.execute(
            select(
                _R.c.workforce_id,
                func.count(),
                func.coalesce(func.sum(_R.c.quota), 0),
                func.coalesce(func.sum(_R.c.taken), 0),
            )
            .where(_R.c.project_id == project.id, visible_task_id(staged, _R.c.task_id))
            .group_by(_R.c.workforce_id)
        )
    }
    teams = dict(members)
    missing = [wf for wf in counts if wf not in teams]
    if missing:
        teams |= {t.id: t for t in session.scalars(select(Team).where(Team.id.in_(missing)))}
    rows = [
        WorkforceRouting(
            id=wf,
            name=teams[wf].name if wf in teams else f"team {wf}",
            kind=teams[wf].kind if wf in teams else "",
            tasks=int(counts.get(wf, (0, 0, 0))[0]),
            slots=int(counts.get(wf, (0, 0, 0))[1]),
            taken=int(counts.get(wf, (0, 0, 0))[2]),
        )
        for wf in sorted(
            set(teams) | set(counts), key=lambda w: teams[w].name if w in teams else ""
        )
    ]
    unrouted = session.scalar(
        select(func.count())
        .select_from(_T)
        .where(
            _T.c.project_id == project.id,
            _T.c.gold.is_(None),
            ~exists().where(_R.c.task_id == _T.c.id),
            visible(staged),
        )
    )
    return RoutingSummary(rows, int(unrouted or 0), project.routing_rule)
