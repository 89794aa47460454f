"""Use cases: the project quality report, the consensus per task, consensus for exports.

Everything is computed from one streaming read of the submitted annotations (plus one read
of task data when a field needs it) — no per-task queries — and reported in plain
dataclasses; :func:`as_json` turns them into JSON-safe dicts (NaN → null).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from labelhouse.accounts.policy import Actor
from labelhouse.errors import InvalidInput, Problem
from labelhouse.kinds._responses import ResponsesField
from labelhouse.kinds.registry import LabelSchema
from labelhouse.projects.service import ProjectRow, get_project, load_schema, project_row
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
    load_task_data,
)
from labelhouse.quality_report.pairs import lowest
from labelhouse.quality_report.preference import PreferenceAnalysis, analyse_preferences
from labelhouse.quality_report.scorecards import Scorecard, build_scorecards
from labelhouse.review.gold import GoldScore, gold_accuracy, pause_state
from labelhouse.review.service import review_stats

HOTSPOTS = 20
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
    calibration: Any = None  # quality.Calibration of the consensus confidence


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


@dataclass
class TaskConsensusRow:
    task_id: int
    external_id: str | None
    annotations: int
    fields: dict[str, dict[str, Any]]


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


def project_report(
    session: Session,
    actor: Actor,
    project_id: int,
    *,
    method: str = "majority",
    hotspots: int = HOTSPOTS,
) -> QualityReport:
    """The whole quality report of a project (reviewers and up)."""
    actor = actor.in_project(project_id)
    actor.require_lab_reviewer("see quality reports")
    check_method(method)
    project = get_project(session, actor, project_id)
    schema = load_schema(session, project)
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
    gold = {g.user_id: g for g in gold_accuracy(session, actor, project.id)}
    cards = build_scorecards(
        answers,
        kinds,
        computed.analyses,
        emails,
        gold=gold,
        reviews={r.user_id: r for r in review_stats(session, actor, project.id)},
    )
    if project.gold_min_accuracy is not None:
        row = project_row(session, actor, project.id)
        for card in cards:
            card.paused = _is_paused(session, row, gold.get(card.user_id))
    notes = []
    if answers.n_tasks and not any(fa.n_overlap for fa in computed.analyses):
        notes.append(
            "No task has two answers yet: agreement needs an overlap of 2 or more annotators "
            "per task (project setting 'Annotators per task')."
        )
    return QualityReport(
        project_id=project.id,
        project_name=project.name,
        method=method,
        tasks=answers.n_tasks,
        annotations=len(answers.values),
        annotators=answers.n_users,
        fields=[_summary(fa, answers, emails) for fa in computed.analyses],
        scorecards=cards,
        preferences=preferences,
        hotspots=_hotspots(session, project.id, computed, hotspots),
        notes=notes,
    )


def _fields(computed: _Computed, t: int) -> dict[str, Any]:
    """``{field: {value, confidence, method}}`` of the task with code ``t``."""
    fields = {}
    for fa in computed.analyses:
        c = fa.consensus[t]
        if c is not None:
            fields[fa.name] = {
                "value": c.value,
                "confidence": c.confidence if math.isfinite(c.confidence) else None,
                "method": c.method,
            }
    return fields


def _rows(computed: _Computed, codes: np.ndarray) -> list[tuple[int, dict[str, Any]]]:
    per_task = np.diff(computed.answers.bounds)
    return [(int(per_task[t]), _fields(computed, int(t))) for t in codes]


class ConsensusByTask(Mapping[int, dict[str, Any]]):
    """``{task_id: {field: {value, confidence, method}}}``, built for one task when asked:
    an export streams task by task, so it never holds a dict per task of the project."""

    def __init__(self, computed: _Computed) -> None:
        self._computed = computed
        self._ids = computed.answers.task_ids  # sorted

    def __getitem__(self, task_id: int) -> dict[str, Any]:
        t = int(np.searchsorted(self._ids, task_id))
        if t >= self._ids.size or self._ids[t] != task_id:
            raise KeyError(task_id)
        return _fields(self._computed, t)

    def __iter__(self) -> Iterator[int]:
        return iter(self._ids.tolist())

    def __len__(self) -> int:
        return int(self._ids.size)


def consensus_by_task(
    session: Session, project_id: int, schema: LabelSchema, *, method: str = "majority"
) -> ConsensusByTask:
    """The consensus of every annotated task, without the report's statistics — for
    exports, whose caller has already checked access."""
    return ConsensusByTask(
        _compute(session, project_id, schema, check_method(method), statistics=False)
    )


def consensus_page(
    session: Session,
    actor: Actor,
    project_id: int,
    *,
    method: str = "majority",
    after_id: int = 0,
    limit: int = 100,
) -> list[TaskConsensusRow]:
    """Consensus per annotated task with id > ``after_id``, in task id order.

    Dawid–Skene needs the whole project, so every page computes it in full (seconds for a
    million labels); the page only limits what is serialised.
    """
    actor = actor.in_project(project_id)
    actor.require_lab_reviewer("see consensus labels")
    check_method(method)
    project = get_project(session, actor, project_id)
    schema = load_schema(session, project)
    computed = _compute(session, project.id, schema, method)
    ids = computed.answers.task_ids
    start = int(np.searchsorted(ids, after_id, side="right"))
    codes = np.arange(start, min(start + limit, ids.size))
    external = load_external_ids(session, project.id, [int(ids[t]) for t in codes])
    return [
        TaskConsensusRow(int(ids[t]), external.get(int(ids[t])), n, fields)
        for t, (n, fields) in zip(codes, _rows(computed, codes), strict=True)
    ]


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
