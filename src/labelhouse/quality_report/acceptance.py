"""Acceptance of pre-filled answers: per model version and field, how often annotators kept
the model's answer, changed it or cleared it — and whether they may be anchored on it.

Counts come from one read (:mod:`labelhouse.quality_report.prefill_loading`) and are
aggregated with ``numpy.bincount``; only the field outcome itself (the shared rule of
:mod:`labelhouse.tasks.prefill`) and the kind's ``compare`` of a changed answer are
evaluated per answer.

Agreement is **percent agreement** for categorical kinds (choice, rating, pairwise: the
share of annotator pairs on a task giving the same answer, :func:`quality.item_agreement`)
and the mean pairwise agreement of the kind's ``compare`` otherwise (Jaccard for choices,
span F1, text similarity…), each averaged over tasks with at least two answers — the
report's headline figure per field. Not Krippendorff's α: the kept rate it is set against
is a raw share, and α's chance correction depends on the class prevalence of each subset.

A task counts as *pre-filled* for a field when every answer of it was pre-filled by the
same model version (with the field set), *without pre-fill* when none was; tasks where
annotators saw different things are left out of both.

**Anchoring** (see :class:`AnchoringRule`): the share of pre-filled answers kept is high
while annotators who were not pre-filled agree with each other clearly less often. If
people agree only 70 % of the time among themselves, keeping the model's answer 95 % of the
time says more about the pre-fill than about the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from labelhouse import quality
from labelhouse.accounts.policy import Actor
from labelhouse.kinds.base import FieldKind
from labelhouse.projects.service import get_project, load_schema
from labelhouse.quality.data import FloatArray, IntArray, Labels
from labelhouse.quality_report.fields import CATEGORICAL
from labelhouse.quality_report.prefill_loading import (
    Prefilled,
    count_answers,
    has_predictions,
    load_prefilled,
)
from labelhouse.quality_report.stored import Freshness
from labelhouse.tasks.prefill import CLEARED, KEPT, OUTCOMES, field_outcome

NO_PREFILL = -1
MIXED = -2
CODE = {o: i for i, o in enumerate(OUTCOMES)}  # kept 0, changed 1, cleared 2


@dataclass(frozen=True)
class AnchoringRule:
    """Warn when ``kept_rate >= min_acceptance`` and the agreement on tasks without
    pre-fill is at most ``kept_rate - min_gap`` — only with at least ``min_prefilled``
    pre-filled answers and ``min_unprefilled_tasks`` tasks without pre-fill that have two
    or more answers, so a handful of tasks never raises it."""

    min_acceptance: float = 0.9
    min_gap: float = 0.15
    min_prefilled: int = 30
    min_unprefilled_tasks: int = 10

    def applies(self, row: FieldAcceptance) -> bool:
        return (
            row.prefilled >= self.min_prefilled
            and row.kept_rate is not None
            and row.kept_rate >= self.min_acceptance
            and row.unprefilled_tasks >= self.min_unprefilled_tasks
            and row.agreement_unprefilled is not None
            and row.agreement_unprefilled <= row.kept_rate - self.min_gap
        )


@dataclass
class FieldAcceptance:
    """One (model version, field). Rates are shares of ``prefilled``; agreements are means
    over tasks with at least two answers (``*_tasks`` of them), None without any."""

    model_version: str
    field: str
    kind: str
    prefilled: int
    kept: int
    changed: int
    cleared: int
    kept_rate: float | None
    changed_rate: float | None
    cleared_rate: float | None
    prediction_agreement: float | None  # answers vs the prediction (kind's compare; cleared 0)
    agreement_prefilled: float | None
    prefilled_tasks: int
    agreement_unprefilled: float | None
    unprefilled_tasks: int
    anchoring: bool = False


@dataclass
class AcceptanceReport:
    project_id: int
    project_name: str
    answers: int  # counted answers
    prefilled_answers: int  # of which the annotate page pre-filled
    rule: AnchoringRule
    rows: list[FieldAcceptance] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    analysis: Freshness | None = None  # of the stored analysis it was read from


def _mean(values: FloatArray) -> tuple[float | None, int]:
    finite = values[np.isfinite(values)]
    return (float(finite.mean()) if finite.size else None), int(finite.size)


def task_agreement(kind: FieldKind, data: Prefilled) -> FloatArray:
    """Per task code: agreement among the answers of the field (nan below two answers)."""
    answers = data.answers
    out = np.full(answers.n_tasks, np.nan)
    ak = kind.agreement_kind()
    if ak == "none":
        return out
    rows = [
        r
        for r, v in enumerate(answers.values)
        if kind.name in v and not kind.is_empty(v[kind.name])
    ]
    classes = kind.classes() if ak in CATEGORICAL else None
    if classes:
        index = {c: i for i, c in enumerate(classes)}
        keep = [
            (r, index[lb])
            for r in rows
            if (lb := kind.label_of(answers.values[r][kind.name])) is not None and lb in index
        ]
        idx = np.asarray([r for r, _ in keep], dtype=np.int64)
        labels = Labels(
            answers.task_code[idx],
            answers.user_code[idx],
            np.asarray([c for _, c in keep], dtype=np.int64),
            answers.n_tasks,
            answers.n_users,
            len(classes),
        )
        return quality.item_agreement(labels)
    grouped: dict[int, list[Any]] = {}
    for r in rows:  # rows are sorted by task: each task's answers are together
        grouped.setdefault(int(answers.task_code[r]), []).append(answers.values[r][kind.name])
    for t, vs in grouped.items():
        if len(vs) > 1:
            scores = [
                kind.compare(vs[i], vs[j]) for i in range(len(vs)) for j in range(i + 1, len(vs))
            ]
            finite = [s for s in scores if math.isfinite(s)]
            out[t] = float(np.mean(finite)) if finite else np.nan
    return out


def _compare(kind: FieldKind, a: Any, b: Any) -> float:
    try:
        return float(kind.compare(a, b))
    except (TypeError, ValueError, KeyError, AttributeError):  # a malformed prediction
        return math.nan


def outcomes(kind: FieldKind, data: Prefilled) -> tuple[IntArray, FloatArray]:
    """Per answer row: the outcome code (-1: field not pre-filled) and the agreement of the
    answer with the prediction (1 kept, 0 cleared, the kind's ``compare`` if changed)."""
    n = len(data.answers.values)
    code = np.full(n, -1, dtype=np.int64)
    score = np.full(n, np.nan)
    name = kind.name
    for r in np.flatnonzero(data.model >= 0).tolist():
        predicted, given = data.predicted[r], data.answers.values[r]
        outcome = field_outcome(name, predicted, given, kind)
        if outcome is None:
            continue
        code[r] = CODE[outcome]
        if outcome == KEPT:
            score[r] = 1.0
        elif outcome == CLEARED:
            score[r] = 0.0
        else:
            score[r] = _compare(kind, given[name], predicted[name])  # type: ignore[index]
    return code, score


def _task_groups(state: IntArray, bounds: IntArray) -> IntArray:
    """Per task: the model code every answer shares, NO_PREFILL, or MIXED."""
    if bounds.size < 2:
        return np.zeros(0, dtype=np.int64)
    starts = bounds[:-1]
    lo = np.minimum.reduceat(state, starts)
    hi = np.maximum.reduceat(state, starts)
    return np.where(lo == hi, lo, MIXED)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def field_acceptance(
    kind: FieldKind, data: Prefilled, rule: AnchoringRule | None = None
) -> list[FieldAcceptance]:
    """The rows of one field, one per model version that pre-filled it."""
    rule = rule or AnchoringRule()
    code, score = outcomes(kind, data)
    filled = code >= 0
    if not filled.any():
        return []
    n_models = len(data.models)
    state = np.where(filled, data.model, NO_PREFILL)
    counts = np.bincount(data.model[filled] * 3 + code[filled], minlength=3 * n_models).reshape(
        n_models, 3
    )
    scored = filled & np.isfinite(score)
    score_sum = np.bincount(data.model[scored], weights=score[scored], minlength=n_models)
    score_n = np.bincount(data.model[scored], minlength=n_models)
    per_task = task_agreement(kind, data)
    groups = _task_groups(state, data.answers.bounds)
    unfilled, unfilled_n = _mean(per_task[groups == NO_PREFILL])
    rows = []
    for m, version in enumerate(data.models):
        kept, changed, cleared = (int(x) for x in counts[m])
        total = kept + changed + cleared
        if not total:
            continue
        prefilled_agreement, prefilled_n = _mean(per_task[groups == m])
        row = FieldAcceptance(
            model_version=version,
            field=kind.name,
            kind=kind.kind_name,
            prefilled=total,
            kept=kept,
            changed=changed,
            cleared=cleared,
            kept_rate=_rate(kept, total),
            changed_rate=_rate(changed, total),
            cleared_rate=_rate(cleared, total),
            prediction_agreement=float(score_sum[m] / score_n[m]) if score_n[m] else None,
            agreement_prefilled=prefilled_agreement,
            prefilled_tasks=prefilled_n,
            agreement_unprefilled=unfilled,
            unprefilled_tasks=unfilled_n,
        )
        row.anchoring = rule.applies(row)
        rows.append(row)
    return rows


def warning(row: FieldAcceptance) -> str:
    model = row.model_version or "(unnamed model)"
    return (
        f"Field '{row.field}', model {model}: annotators kept {row.kept_rate:.0%} of "
        f"{row.prefilled} pre-filled answers but agree with each other only "
        f"{row.agreement_unprefilled:.0%} of the time on {row.unprefilled_tasks} tasks "
        "without pre-fill. They may be anchored on the model's answers: check kept answers "
        "against gold tasks, or serve some tasks without pre-fill."
    )


def compute(
    fields: list[FieldKind], data: Prefilled, rule: AnchoringRule | None = None
) -> tuple[list[FieldAcceptance], list[str]]:
    """Rows (by model version, then schema order) and the anchoring warnings."""
    rule = rule or AnchoringRule()
    rows = [row for kind in fields for row in field_acceptance(kind, data, rule)]
    rows.sort(key=lambda r: r.model_version)  # stable: schema order inside a model
    return rows, [warning(r) for r in rows if r.anchoring]


def project_acceptance(
    session: Session,
    project_id: int,
    project_name: str,
    fields: list[FieldKind],
    *,
    rule: AnchoringRule | None = None,
    answers: int | None = None,
) -> AcceptanceReport:
    """The acceptance report without the access check: the stored analysis computes it
    beside the quality report (``answers``: the counted answers when already known)."""
    rule = rule or AnchoringRule()
    report = AcceptanceReport(project_id, project_name, 0, 0, rule)
    if not has_predictions(session, project_id):  # most projects: skip reading every answer
        report.answers = count_answers(session, project_id) if answers is None else answers
        return report
    data = load_prefilled(session, project_id)
    report.rows, report.warnings = compute(fields, data, rule)
    report.answers, report.prefilled_answers = len(data.answers.values), data.n_prefilled
    return report


def acceptance_report(
    session: Session, actor: Actor, project_id: int, *, rule: AnchoringRule | None = None
) -> AcceptanceReport:
    """The acceptance report of a project computed now (who may see the quality report may
    see it); pages and the API read the stored one (``service.acceptance_section``)."""
    actor = actor.in_project(project_id)
    actor.require_lab_reviewer("see quality reports")
    project = get_project(session, actor, project_id)
    schema = load_schema(session, project)
    return project_acceptance(session, project.id, project.name, list(schema.fields), rule=rule)
