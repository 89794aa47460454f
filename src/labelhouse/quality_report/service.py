"""Use cases: the project quality report, the consensus per task, consensus for exports.

Everything is computed from one streaming read of the submitted annotations (plus one read
of task data when a field needs it) — no per-task queries — and reported in plain
dataclasses; :func:`as_json` turns them into JSON-safe dicts (NaN → null).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from labelhouse import quality
from labelhouse.accounts.policy import Actor
from labelhouse.db.base import utcnow
from labelhouse.db.engine import Database
from labelhouse.errors import InvalidInput, Problem
from labelhouse.kinds._responses import ResponsesField
from labelhouse.kinds.registry import LabelSchema
from labelhouse.projects.models import Project
from labelhouse.projects.service import ProjectRow, get_project, load_schema, project_row
from labelhouse.quality_report import columns as consensus_columns
from labelhouse.quality_report import stored
from labelhouse.quality_report.acceptance import AcceptanceReport, project_acceptance
from labelhouse.quality_report.codec import from_json
from labelhouse.quality_report.columns import ConsensusColumns
from labelhouse.quality_report.fields import (
    METHODS,
    FieldAnalysis,
    analyse_field,
    convergence,
    finite,
)
from labelhouse.quality_report.loading import (
    Answers,
    load_answers,
    load_emails,
    load_external_ids,
    load_gold,
    load_review_stats,
    load_task_data,
)
from labelhouse.quality_report.pairs import lowest
from labelhouse.quality_report.preference import PreferenceAnalysis, analyse_preferences
from labelhouse.quality_report.rubrics import CriterionAgreement, rubric_criteria
from labelhouse.quality_report.scorecards import Scorecard, attach_people, build_scorecards
from labelhouse.quality_report.stored import Freshness
from labelhouse.review.gold import GoldScore, gold_accuracy, pause_state

HOTSPOTS = 20
HOTSPOTS_KEPT = 500  # the most the API serves; a stored report keeps that many
# A stale stored analysis of a project with at most this many answers is recomputed in the
# request (a fraction of a second); a larger one is shown with its age while a background
# job recomputes it.
SYNC_ANSWERS = 20_000
NEEDS_TASK_DATA = ("pairwise", "ranking", "spans")


@dataclass
class PairAgreement:
    """Two annotators' agreement over the tasks both answered (``kappa``: categorical only)."""

    a_user_id: int
    a_email: str
    b_user_id: int
    b_email: str
    tasks: int
    agreement: float | None
    kappa: float | None


@dataclass
class FieldSummary:
    name: str
    kind: str
    agreement_kind: str
    tasks: int
    overlapping_tasks: int
    answers: int
    agreement: float | None  # headline: percent agreement, else mean pairwise agreement
    metrics: dict[str, float | None]
    consensus_method: str
    consensus_mean_confidence: float | None
    pairs: list[PairAgreement] = field(default_factory=list)  # least agreeing first
    convergence: dict[str, Any] | None = None  # of the Dawid–Skene fit, see fields.py
    # of the consensus confidence (the type is what a stored report is decoded to)
    calibration: quality.Calibration | None = None


@dataclass
class Hotspot:
    task_id: int
    external_id: str | None
    annotations: int
    agreement: float
    fields: dict[str, float]


@dataclass
class QualityReport:
    project_id: int
    project_name: str
    method: str
    tasks: int
    annotations: int
    annotators: int
    fields: list[FieldSummary]
    scorecards: list[Scorecard]
    preferences: list[PreferenceAnalysis]
    hotspots: list[Hotspot]
    notes: list[str] = field(default_factory=list)
    rubric_criteria: list[CriterionAgreement] = field(default_factory=list)
    analysis: Freshness | None = None  # when it was computed, and whether answers changed
    acceptance: AcceptanceReport | None = None  # of pre-filled answers (acceptance.py)


@dataclass
class TaskConsensusRow:
    task_id: int
    external_id: str | None
    annotations: int
    fields: dict[str, dict[str, Any]]


class ConsensusPage(list[TaskConsensusRow]):
    """A page of rows (a list), with the ``analysis`` they were read from."""

    def __init__(self, rows: list[TaskConsensusRow], analysis: Freshness) -> None:
        super().__init__(rows)
        self.analysis = analysis


def check_method(method: str) -> str:
    if method not in METHODS:
        raise InvalidInput(
            f"Unknown consensus method '{method}'.",
            [Problem("method", f"use one of: {', '.join(METHODS)}")],
        )
    return method


@dataclass
class _Computed:
    answers: Answers
    analyses: list[FieldAnalysis]
    task_data: dict[int, dict[str, Any]]


def _compute(
    session: Session,
    project_id: int,
    schema: LabelSchema,
    method: str,
    *,
    statistics: bool = True,
) -> _Computed:
    answers = load_answers(session, project_id)
    needs_data = any(f.agreement_kind() in NEEDS_TASK_DATA for f in schema.fields)
    task_data = load_task_data(session, project_id) if needs_data and answers.n_tasks else {}
    gold = load_gold(session, project_id) if answers.n_tasks else {}  # also calibrates
    analyses = [
        analyse_field(f, answers, task_data, method, gold, statistics=statistics)
        for f in schema.fields
    ]
    return _Computed(answers, analyses, task_data)


def _mean_confidence(fa: FieldAnalysis) -> float | None:
    values = [c.confidence for c in fa.consensus if c is not None and math.isfinite(c.confidence)]
    return float(np.mean(values)) if values else None


def _pairs(fa: FieldAnalysis, answers: Answers, emails: dict[int, str]) -> list[PairAgreement]:
    st = fa.pairs
    out = []
    for k in lowest(st).tolist():
        a, b = int(answers.user_ids[st.a[k]]), int(answers.user_ids[st.b[k]])
        out.append(
            PairAgreement(
                a,
                emails.get(a, f"user {a}"),
                b,
                emails.get(b, f"user {b}"),
                int(st.tasks[k]),
                finite(float(st.agreement[k])),
                finite(float(st.kappa[k])),
            )
        )
    return out


def _summary(fa: FieldAnalysis, answers: Answers, emails: dict[int, str]) -> FieldSummary:
    headline = fa.metrics.get("percent_agreement")
    if headline is None:
        headline = fa.metrics.get("mean_pairwise_agreement")
    return FieldSummary(
        name=fa.name,
        kind=fa.kind,
        agreement_kind=fa.agreement_kind,
        tasks=fa.n_tasks,
        overlapping_tasks=fa.n_overlap,
        answers=fa.n_answers,
        agreement=headline,
        metrics=fa.metrics,
        consensus_method=fa.consensus_method,
        consensus_mean_confidence=_mean_confidence(fa),
        pairs=_pairs(fa, answers, emails),
        convergence=convergence(fa),
        calibration=fa.calibration,
    )


def _hotspots(session: Session, project_id: int, computed: _Computed, limit: int) -> list[Hotspot]:
    answers, analyses = computed.answers, computed.analyses
    if not answers.n_tasks or not analyses:
        return []
    stacked = np.vstack([fa.task_agreement for fa in analyses])
    counts = np.isfinite(stacked).sum(axis=0)
    mean = np.where(counts > 0, np.nansum(stacked, axis=0) / np.maximum(counts, 1), np.nan)
    candidates = np.flatnonzero(np.isfinite(mean))
    order = candidates[np.lexsort((answers.task_ids[candidates], mean[candidates]))][:limit]
    ids = [int(answers.task_ids[t]) for t in order]
    external = load_external_ids(session, project_id, ids)
    per_task = np.diff(answers.bounds)
    return [
        Hotspot(
            task_id=int(answers.task_ids[t]),
            external_id=external.get(int(answers.task_ids[t])),
            annotations=int(per_task[t]),
            agreement=float(mean[t]),
            fields={
                fa.name: float(fa.task_agreement[t])
                for fa in analyses
                if math.isfinite(fa.task_agreement[t])
            },
        )
        for t in order
    ]


def _is_paused(session: Session, project: ProjectRow, score: GoldScore | None) -> bool:
    """Whether the gold-accuracy rule pauses this annotator now. Only annotators with
    enough gold answers in all can be paused, so the (per-annotator) check runs for few."""
    if project.gold_min_accuracy is None or score is None:  # the rule is off
        return False
    if score.answers < project.gold_min_answers:
        return False
    return pause_state(session, project, score.user_id) is not None


def _base_report(
    session: Session, project: Project, schema: LabelSchema, method: str
) -> tuple[QualityReport, ConsensusColumns]:
    """The report as stored: everything that depends on the answers only (gold accuracy,
    reviews and pauses are added when it is shown), and the consensus columns."""
    computed = _compute(session, project.id, schema, method)
    answers = computed.answers
    emails = load_emails(session, answers.user_ids.tolist())
    kinds = {f.name: f for f in schema.fields}
    preferences = [
        p
        for f in schema.fields
        if isinstance(f, ResponsesField)
        and (p := analyse_preferences(f, answers, computed.task_data)) is not None
    ]
    reviews = load_review_stats(session, project.id)  # reviews change the watermark
    cards = build_scorecards(answers, kinds, computed.analyses, emails, reviews=reviews)
    notes = []
    if answers.n_tasks and not any(fa.n_overlap for fa in computed.analyses):
        notes.append(
            "No task has two answers yet: agreement needs an overlap of 2 or more annotators "
            "per task (project setting 'Annotators per task')."
        )
    report = QualityReport(
        project_id=project.id,
        project_name=project.name,
        method=method,
        tasks=answers.n_tasks,
        annotations=answers.n_rows,
        annotators=answers.n_users,
        fields=[_summary(fa, answers, emails) for fa in computed.analyses],
        scorecards=cards,
        preferences=preferences,
        hotspots=_hotspots(session, project.id, computed, HOTSPOTS_KEPT),
        notes=notes,
        rubric_criteria=rubric_criteria(schema, answers),
        acceptance=project_acceptance(
            session, project.id, project.name, list(schema.fields), answers=answers.n_rows
        ),
    )
    columns = consensus_columns.from_analyses(
        answers.task_ids, np.diff(answers.bounds), computed.analyses
    )
    return report, columns


@dataclass
class _Analysis:
    freshness: Freshness
    report: QualityReport | None = None
    consensus: ConsensusColumns | None = None
    acceptance: AcceptanceReport | None = None


def _analysis(
    session: Session,
    project: Project,
    schema: LabelSchema,
    method: str,
    part: str,
    *,
    fresh: bool,
    db: Database | None,
    sync_limit: int | None,
) -> _Analysis:
    """The stored analysis (``part``: "report", "consensus" or "acceptance", the report's
    section read alone) when it is fresh, or stale but too large to recompute in a
    request; otherwise computed now (and stored when ``db`` is given, in a transaction of
    its own)."""
    computed_at = utcnow()  # before the watermark: a later write makes this result stale
    mark = stored.watermark(session, project.id, project.schema_version, method)
    row = None if fresh else stored.find(session, project.id, method)
    if row is not None:
        state = stored.freshness(row, mark)
        limit = SYNC_ANSWERS if sync_limit is None else sync_limit
        if state.fresh or mark.answers > limit:
            data = stored.payload(session, row.id, part)
            if data is not None:
                if part == "report":
                    report = from_json(QualityReport, orjson.loads(data))
                    return _Analysis(state, report=report)
                if part == "consensus":
                    return _Analysis(state, consensus=consensus_columns.from_bytes(data))
                section = orjson.loads(data).get("acceptance")  # None: an older row
                if section is not None:
                    return _Analysis(state, acceptance=from_json(AcceptanceReport, section))
    started = time.perf_counter()
    report, columns = _base_report(session, project, schema, method)
    ms = round((time.perf_counter() - started) * 1000)
    if db is not None:
        stored.store(
            db,
            project.id,
            method,
            mark,
            report=orjson.dumps(as_json(report)),
            consensus=consensus_columns.to_bytes(columns),
            compute_ms=ms,
            computed_at=computed_at,
        )
    return _Analysis(Freshness(computed_at, 0.0, True, 0, ms), report, columns, report.acceptance)


def refresh_analysis(db: Database, project_id: int, method: str) -> Freshness:
    """Recompute and store the project's analysis unless the stored one is fresh (what the
    background job runs). Returns the freshness of what is stored now."""
    check_method(method)
    with db.read_session(long_running=True) as s:
        project = s.get(Project, project_id)
        if project is None:
            raise InvalidInput(f"Project {project_id} does not exist.", [])
        row = stored.find(s, project.id, method)
        if row is not None:
            state = stored.freshness(
                row, stored.watermark(s, project.id, project.schema_version, method)
            )
            if state.fresh:
                return state
        schema = load_schema(s, project)
        found = _analysis(s, project, schema, method, "consensus", fresh=True, db=db, sync_limit=0)
        return found.freshness


def _personalise(session: Session, actor: Actor, project: Project, report: QualityReport) -> None:
    """What a stored report lacks: gold accuracy, pauses, current emails."""
    gold = {g.user_id: g for g in gold_accuracy(session, actor, project.id)}
    attach_people(report.scorecards, gold=gold, reviews=None)
    ids = {c.user_id for c in report.scorecards}
    ids |= {u for f in report.fields for p in f.pairs for u in (p.a_user_id, p.b_user_id)}
    emails = load_emails(session, sorted(ids))
    for card in report.scorecards:
        card.email = emails.get(card.user_id, card.email)
    for f in report.fields:
        for p in f.pairs:
            p.a_email = emails.get(p.a_user_id, p.a_email)
            p.b_email = emails.get(p.b_user_id, p.b_email)
    if project.gold_min_accuracy is not None:
        row = project_row(session, actor, project.id)
        for card in report.scorecards:
            card.paused = _is_paused(session, row, gold.get(card.user_id))
    report.project_name = project.name
    if report.acceptance is not None:
        report.acceptance.project_name = project.name


def _read_stored(
    session: Session,
    actor: Actor,
    project_id: int,
    method: str,
    part: str,
    *,
    purpose: str,
    fresh: bool,
    db: Database | None,
    sync_limit: int | None,
) -> tuple[Actor, Project, _Analysis]:
    """The access checks and the stored ``part`` every project-wide quality read shares
    (the actor comes back scoped to the project)."""
    actor = actor.in_project(project_id)
    actor.require_lab_reviewer(purpose)
    check_method(method)
    project = get_project(session, actor, project_id)
    schema = load_schema(session, project)
    found = _analysis(
        session, project, schema, method, part, fresh=fresh, db=db, sync_limit=sync_limit
    )
    return actor, project, found


def project_report(
    session: Session,
    actor: Actor,
    project_id: int,
    *,
    method: str = "majority",
    hotspots: int = HOTSPOTS,
    fresh: bool = False,
    db: Database | None = None,
    sync_limit: int | None = None,
) -> QualityReport:
    """The whole quality report of a project (reviewers and up), from the stored analysis
    when there is one (see :func:`_analysis`; ``fresh`` recomputes it now). Its
    ``analysis`` says how old it is and whether answers changed since."""
    actor, project, found = _read_stored(
        session, actor, project_id, method, "report",
        purpose="see quality reports", fresh=fresh, db=db, sync_limit=sync_limit,
    )  # fmt: skip
    report = found.report
    assert report is not None
    report.analysis = found.freshness
    if report.acceptance is not None:
        report.acceptance.analysis = found.freshness
    report.hotspots = report.hotspots[:hotspots]
    _personalise(session, actor, project, report)
    return report


def acceptance_section(
    session: Session,
    actor: Actor,
    project_id: int,
    *,
    method: str = "majority",
    fresh: bool = False,
    db: Database | None = None,
    sync_limit: int | None = None,
) -> AcceptanceReport:
    """The acceptance of pre-filled answers as the stored analysis holds it (it does not
    depend on the method; ``method`` only picks the stored row), with its ``analysis``
    freshness: read without decoding the rest of the report."""
    _, project, found = _read_stored(
        session, actor, project_id, method, "acceptance",
        purpose="see quality reports", fresh=fresh, db=db, sync_limit=sync_limit,
    )  # fmt: skip
    report = found.acceptance
    assert report is not None
    report.analysis = found.freshness
    report.project_name = project.name
    return report


class ConsensusByTask(Mapping[int, dict[str, Any]]):
    """``{task_id: {field: {value, confidence, method}}}``, built for one task when asked:
    an export streams task by task, so it never holds a dict per task of the project."""

    def __init__(self, columns: ConsensusColumns) -> None:
        self._columns = columns
        self._ids = columns.task_ids  # sorted

    def __getitem__(self, task_id: int) -> dict[str, Any]:
        t = self._columns.code_of(task_id)
        if t is None:
            raise KeyError(task_id)
        return self._columns.fields_of(t)

    def __iter__(self) -> Iterator[int]:
        return iter(self._ids.tolist())

    def __len__(self) -> int:
        return int(self._ids.size)


def consensus_by_task(
    session: Session, project_id: int, schema: LabelSchema, *, method: str = "majority"
) -> ConsensusByTask:
    """The consensus of every annotated task, for exports, whose caller has already checked
    access: the stored analysis when it is fresh (a few megabytes of columns at 100,000
    tasks), else computed now without the report's statistics. Never a stale one."""
    check_method(method)
    version = session.scalar(select(Project.schema_version).where(Project.id == project_id))
    mark = stored.watermark(session, project_id, version or 0, method)
    row = stored.find(session, project_id, method)
    if row is not None and row.watermark == mark.text:
        data = stored.payload(session, row.id, "consensus")
        if data is not None:
            return ConsensusByTask(consensus_columns.from_bytes(data))
    computed = _compute(session, project_id, schema, method, statistics=False)
    answers = computed.answers
    return ConsensusByTask(
        consensus_columns.from_analyses(
            answers.task_ids, np.diff(answers.bounds), computed.analyses
        )
    )


def consensus_page(
    session: Session,
    actor: Actor,
    project_id: int,
    *,
    method: str = "majority",
    after_id: int = 0,
    limit: int = 100,
    fresh: bool = False,
    db: Database | None = None,
    sync_limit: int | None = None,
) -> ConsensusPage:
    """Consensus per annotated task with id > ``after_id``, in task id order.

    Dawid–Skene needs the whole project, so the consensus of every task is computed at
    once and stored (:func:`_analysis`); a page reads the stored columns and decodes only
    its own rows. The page's ``analysis`` says when that was and whether it is still fresh.
    """
    _, project, found = _read_stored(
        session, actor, project_id, method, "consensus",
        purpose="see consensus labels", fresh=fresh, db=db, sync_limit=sync_limit,
    )  # fmt: skip
    columns = found.consensus
    assert columns is not None
    ids = columns.task_ids
    start = int(np.searchsorted(ids, after_id, side="right"))
    codes = range(start, min(start + limit, int(ids.size)))
    external = load_external_ids(session, project.id, [int(ids[t]) for t in codes])
    rows = [
        TaskConsensusRow(
            int(ids[t]), external.get(int(ids[t])), int(columns.answers[t]), columns.fields_of(t)
        )
        for t in codes
    ]
    return ConsensusPage(rows, found.freshness)


def as_json(obj: Any) -> Any:
    """Dataclasses, numpy numbers and NaN made JSON-safe (NaN and infinities → None)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: as_json(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): as_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [as_json(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
