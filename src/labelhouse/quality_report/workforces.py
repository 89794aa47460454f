"""Comparing workforces — the lab's staff teams and outside vendors — on one project or many.

A submitted annotation belongs to the workforce its author was in when the task was served
(``assignment.workforce_id``, recorded with every lease); people in no workforce form one
more row, "Lab (no workforce)". Per row:

* **tasks done**: submitted annotations (gold answers and answers a reviewer later rejected
  included: they were work done, and paid for); **people**: who submitted them;
* **hours**: the summed lease-to-finish durations of those submissions; **throughput**:
  annotations per hour worked (tasks done ÷ hours) — a per-person rate; multiply by the
  head count for the workforce's capacity; **median time**: of ``finished_at − leased_at``;
* **gold accuracy**: correct over checked gold fields, pooled over fields, exactly as
  :mod:`labelhouse.review.gold` scores annotators (:func:`~labelhouse.tasks.gold.gold_matches`,
  fields a gold value leaves out are not checked), with a 95% Wilson interval;
* **agreement with consensus**: the share of its answers equal to the task's majority
  answer, the majority taken over every workforce's answers (tasks with at least two
  answers and a clear winner; the answer's own vote counts, as on the quality page);
* **agreement with each other workforce**: over the tasks both answered, the share of
  pairs of answers (one from each) that are equal;
* **Dawid–Skene accuracy**: the existing model fitted per categorical field over all of a
  project's answers; a workforce gets the mean of its annotators' estimated accuracy,
  weighted by how many of its answers each gave;
* **review acceptance**: accepted (which includes corrections equal to the answer) over
  reviewed annotations;
* **cost**: tasks done × price per task plus hours × price per hour, in the workforce's
  currency (None without a price), and **cost per correct label** (see :class:`WorkforceRow`).

Agreement, consensus and Dawid–Skene cover categorical fields (choice, rating, A/B);
rejected answers are left out of them, as everywhere in quality reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from labelhouse.accounts.models import Role, Team
from labelhouse.accounts.policy import Actor
from labelhouse.errors import InvalidInput, Problem
from labelhouse.projects.models import Project
from labelhouse.projects.service import get_project, list_projects
from labelhouse.quality.group_compare import wilson_interval
from labelhouse.quality_report.fields import finite
from labelhouse.quality_report.workforce_loading import Tally, add_project, load_work, workforces_in

LAB, LAB_NAME = "lab", "Lab (no workforce)"
MAX_PROJECTS = 1000
ACCEPTED = "accepted"


@dataclass
class PairAgreement:
    """This workforce against another one, over the tasks both answered."""

    workforce_id: int | None
    name: str
    tasks: int
    agreement: float | None


@dataclass
class WorkforceRow:
    """One workforce (``workforce_id`` None: lab people in no workforce).

    ``cost_per_correct`` = cost ÷ (tasks done × gold accuracy): the price of one correct
    label, estimating the workforce's correct labels as everything it submitted times its
    gold accuracy. Gold tasks are served to every workforce by the same rule, outside
    routing, so they sample its work fairly; they are paid work too, so they are in tasks
    done and in the cost. ``cost_per_correct_low``/``_high`` use the ends of the gold
    interval instead (``high`` is None when the interval reaches 0). None without a price
    or without gold answers."""

    workforce_id: int | None
    name: str
    kind: str  # staff | vendor | lab (| group: a former workforce)
    currency: str
    price_per_task: float | None
    price_per_hour: float | None
    people: int
    tasks_done: int
    hours: float
    throughput_per_hour: float | None
    median_seconds: float | None
    gold_answers: int
    gold_checked: int
    gold_correct: int
    gold_accuracy: float | None
    gold_ci_low: float | None
    gold_ci_high: float | None
    consensus_agreement: float | None
    consensus_scored: int
    ds_accuracy: float | None
    ds_answers: int
    reviewed: int
    accepted: int
    review_acceptance: float | None
    cost: float | None
    cost_per_correct: float | None
    cost_per_correct_low: float | None
    cost_per_correct_high: float | None
    agreement_with: list[PairAgreement] = field(default_factory=list)


@dataclass
class ComparedProject:
    id: int
    name: str
    fields: list[str]  # the categorical fields compared


@dataclass
class Comparison:
    projects: list[ComparedProject]
    rows: list[WorkforceRow]
    confidence: float = 0.95
    throughput_unit: str = "annotations per hour worked (summed lease-to-finish time)"
    notes: list[str] = field(default_factory=list)


# -- who may compare, and what ------------------------------------------------------------------


def compare_workforces(session: Session, actor: Actor, project_ids: list[int] | None) -> Comparison:
    """The comparison over the given projects: one project — its project managers (and
    organization owners and managers); several, or None for every project of the
    organization (archived ones included) — organization owners and managers only."""
    projects = _projects(session, actor, project_ids)
    return _compare(session, actor.organization_id, projects)


def compare_across_projects(
    session: Session, actor: Actor, project_ids: list[int] | None
) -> Comparison:
    """The organization-wide view: organization owners and managers, even for one project
    (a project manager uses the project's own comparison)."""
    actor.require_org(Role.manager, "compare workforces across projects")
    return compare_workforces(session, actor, project_ids)


def _projects(session: Session, actor: Actor, project_ids: list[int] | None) -> list[Project]:
    ids = sorted(set(project_ids or ()))
    if len(ids) == 1:
        actor.in_project(ids[0]).require(Role.manager, "compare workforces")
        return [get_project(session, actor, ids[0])]
    actor.require_org(Role.manager, "compare workforces across projects")
    if len(ids) > MAX_PROJECTS:
        raise InvalidInput(
            f"Compare at most {MAX_PROJECTS} projects at once, or name none for all.",
            [Problem("project_id", f"at most {MAX_PROJECTS} ids")],
        )
    if not ids:
        return list_projects(session, actor, include_archived=True)
    return [get_project(session, actor, pid) for pid in ids]


# -- the comparison -----------------------------------------------------------------------------


def _ratio(a: float, b: float) -> float | None:
    return finite(a / b) if b else None


def _compare(session: Session, organization_id: int, projects: list[Project]) -> Comparison:
    ids = [p.id for p in projects]
    teams = workforces_in(session, organization_id, ids) if ids else []
    keys: list[int | None] = [t if isinstance(t, int) else t.id for t in teams] + [None]
    code_of = {wf: i for i, wf in enumerate(keys)}
    n = len(keys)
    work = load_work(session, ids, code_of)
    tally = Tally(n)
    compared = [
        ComparedProject(p.id, p.name, add_project(session, p, code_of, tally)) for p in projects
    ]
    low, high = wilson_interval(tally.gold_correct, tally.gold_checked)
    names = [_name(t) for t in teams] + [LAB_NAME]
    rows = []
    for i, wf in enumerate(keys):
        found = teams[i] if i < len(teams) else None
        team = found if isinstance(found, Team) else None
        done, people, total_seconds = work.counts.get(wf, (0, 0, 0.0))
        if wf is None and not done:
            continue  # nobody outside a workforce worked here
        reviewed = work.reviews.get(wf, {})
        n_reviewed = sum(reviewed.values())
        row = WorkforceRow(
            workforce_id=wf,
            name=names[i],
            kind=LAB if wf is None else team.kind if team is not None else "",
            currency=team.currency if team is not None else "",
            price_per_task=team.price_per_task if team is not None else None,
            price_per_hour=team.price_per_hour if team is not None else None,
            people=people,
            tasks_done=done,
            hours=total_seconds / 3600.0,
            throughput_per_hour=_ratio(done * 3600.0, total_seconds),
            median_seconds=finite(float(work.median_seconds[i])),
            gold_answers=int(tally.gold_answers[i]),
            gold_checked=int(tally.gold_checked[i]),
            gold_correct=int(tally.gold_correct[i]),
            gold_accuracy=_ratio(tally.gold_correct[i], tally.gold_checked[i]),
            gold_ci_low=finite(float(low[i])),
            gold_ci_high=finite(float(high[i])),
            consensus_agreement=_ratio(tally.hits[i], tally.scored[i]),
            consensus_scored=int(tally.scored[i]),
            ds_accuracy=_ratio(tally.ds_sum[i], tally.ds_n[i]),
            ds_answers=int(tally.ds_n[i]),
            reviewed=n_reviewed,
            accepted=reviewed.get(ACCEPTED, 0),
            review_acceptance=_ratio(reviewed.get(ACCEPTED, 0), n_reviewed),
            cost=None,
            cost_per_correct=None,
            cost_per_correct_low=None,
            cost_per_correct_high=None,
        )
        _costs(row)
        row.agreement_with = [
            PairAgreement(
                other,
                names[j],
                int(tally.shared[i, j]),
                _ratio(tally.equal[i, j], tally.pairs[i, j]),
            )
            for j, other in enumerate(keys)
            if j != i and tally.shared[i, j] > 0
        ]
        rows.append(row)
    return Comparison(compared, rows, notes=_notes(compared, rows))


def _name(team: Team | int) -> str:
    return f"Workforce {team} (deleted)" if isinstance(team, int) else team.name


def _costs(row: WorkforceRow) -> None:
    """Cost and cost per correct label (see :class:`WorkforceRow`)."""
    if row.price_per_task is None and row.price_per_hour is None:
        return
    cost = row.tasks_done * (row.price_per_task or 0.0) + row.hours * (row.price_per_hour or 0.0)
    row.cost = cost
    if row.gold_accuracy is None or not row.tasks_done:
        return
    row.cost_per_correct = _ratio(cost, row.tasks_done * row.gold_accuracy)
    if row.gold_ci_high is not None:
        row.cost_per_correct_low = _ratio(cost, row.tasks_done * row.gold_ci_high)
    if row.gold_ci_low is not None:
        row.cost_per_correct_high = _ratio(cost, row.tasks_done * row.gold_ci_low)


def _notes(projects: list[ComparedProject], rows: list[WorkforceRow]) -> list[str]:
    notes = []
    if not any(r.tasks_done for r in rows):
        notes.append("No workforce has submitted an annotation here yet.")
    elif not any(p.fields for p in projects):
        notes.append(
            "Agreement and Dawid–Skene need a categorical field (choice, rating or A/B); "
            "this schema has none."
        )
    if any(r.tasks_done for r in rows) and not any(r.gold_checked for r in rows):
        notes.append(
            "No gold answers yet: gold accuracy and cost per correct label need gold tasks "
            "(mark some on the task page; every workforce is served them alike)."
        )
    currencies = {r.currency for r in rows if r.cost is not None}
    if len(currencies) > 1:
        notes.append(
            "Prices are in different currencies ("
            + ", ".join(sorted(c or "no currency" for c in currencies))
            + "): compare costs only after converting them."
        )
    return notes
