"""Reading what :mod:`labelhouse.quality_report.workforces` compares: which workforces,
the counts and times of their submissions (SQL aggregation), and per project the
workforce of every answer row, folded into per-workforce sums (numpy, see
:mod:`labelhouse.quality.group_compare`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Float, and_, cast, extract, func, or_, select
from sqlalchemy.orm import Session

from labelhouse.accounts.models import WORKFORCE_KINDS, ProjectMember, Team
from labelhouse.annotations.models import Annotation
from labelhouse.kinds.registry import LabelSchema
from labelhouse.projects.models import Project
from labelhouse.projects.service import load_schema
from labelhouse.quality.data import FloatArray, IntArray
from labelhouse.quality.group_compare import (
    clear_majority,
    consensus_hits,
    cross_agreement,
    group_sums,
    shared_items,
)
from labelhouse.quality.scores import median_time
from labelhouse.quality_report.fields import CATEGORICAL, analyse_field
from labelhouse.quality_report.loading import SUBMITTED, Answers, load_answers, load_gold
from labelhouse.tasks.gold import gold_matches
from labelhouse.tasks.models import Assignment

KIND_ORDER = {"vendor": 0, "staff": 1}
Codes = dict[int | None, int]  # workforce id (None: no workforce) -> row code


def seconds_between(session: Session, later: Any, earlier: Any) -> Any:
    """``later − earlier`` in seconds, as SQL (the spelling differs by database). SQLite
    keeps times to the millisecond; rounding there drops julianday's float noise."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(extract("epoch", later - earlier), Float)
    return func.round((func.julianday(later) - func.julianday(earlier)) * 86400.0, 3)


def workforces_in(session: Session, organization_id: int, ids: list[int]) -> list[Team | int]:
    """Workforces that served work in these projects or are members of them; the id alone
    for a workforce whose team was deleted since (its history stays)."""
    served = {
        wf
        for wf in session.scalars(
            select(Assignment.workforce_id)
            .where(Assignment.project_id.in_(ids), Assignment.status == SUBMITTED)
            .distinct()
        )
        if wf is not None
    }
    members = select(ProjectMember.team_id).where(
        ProjectMember.project_id.in_(ids), ProjectMember.team_id.is_not(None)
    )
    found = session.scalars(
        select(Team).where(
            Team.organization_id == organization_id,
            or_(
                Team.id.in_(sorted(served)),
                and_(Team.id.in_(members), Team.kind.in_(WORKFORCE_KINDS)),
            ),
        )
    ).all()
    known = {t.id for t in found}
    return [
        *sorted(found, key=lambda t: (KIND_ORDER.get(t.kind, 2), t.name)),
        *sorted(wf for wf in served if wf not in known),
    ]


def _submitted(query: Any, ids: list[int]) -> Any:
    """``query`` over the submitted assignments in these projects, joined to their
    (submitted) annotations."""
    on = and_(Annotation.task_id == Assignment.task_id, Annotation.user_id == Assignment.user_id)
    return query.join(Annotation, on).where(
        Assignment.project_id.in_(ids),
        Assignment.status == SUBMITTED,
        Annotation.status == SUBMITTED,
    )


NONE = -1  # "no workforce" in id arrays (ids start at 1)


def _workforce_or_none() -> Any:
    return func.coalesce(Assignment.workforce_id, NONE)


def _columns(rows: Sequence[Any], dtypes: tuple[Any, ...]) -> list[np.ndarray]:
    """Result rows as one numpy array per column (None as 0 / nan)."""
    return [
        np.fromiter(
            (r[i] if r[i] is not None else 0 if dtype is np.int64 else np.nan for r in rows),
            dtype=dtype,
            count=len(rows),
        )
        for i, dtype in enumerate(dtypes)
    ]


def _codes(workforce_ids: IntArray, code_of: Codes) -> IntArray:
    """Row codes for an array of workforce ids (``NONE``: no workforce), by one lookup per
    distinct id; ``-1`` for an id not in ``code_of``."""
    distinct, inverse = np.unique(workforce_ids, return_inverse=True)
    table = np.asarray(
        [code_of.get(None if w == NONE else int(w), -1) for w in distinct.tolist()],
        dtype=np.int64,
    )
    return table[inverse.ravel()] if distinct.size else np.zeros(0, dtype=np.int64)


@dataclass
class Work:
    """Per workforce id: (submissions, people, seconds worked); review decisions by status;
    and per row code the median seconds per submission."""

    counts: dict[int | None, tuple[int, int, float]]
    reviews: dict[int | None, dict[str, int]]
    median_seconds: FloatArray


def load_work(session: Session, ids: list[int], code_of: Codes) -> Work:
    """Counts, hours and review decisions by SQL aggregation; the median from one column
    of durations."""
    seconds = seconds_between(session, Assignment.finished_at, Assignment.leased_at)
    counts = {
        wf: (int(done), int(people), float(total or 0.0))
        for wf, done, people, total in session.execute(
            _submitted(
                select(
                    Assignment.workforce_id,
                    func.count(),
                    func.count(func.distinct(Assignment.user_id)),
                    func.sum(seconds),
                ).select_from(Assignment),
                ids,
            ).group_by(Assignment.workforce_id)
        )
    }
    timed = session.connection().execute(
        _submitted(select(_workforce_or_none(), seconds).select_from(Assignment), ids)
    )
    workforce, spent = _columns(timed.all(), (np.int64, np.float64))
    median = median_time(_codes(workforce, code_of), np.nan_to_num(spent), n_workers=len(code_of))
    reviews: dict[int | None, dict[str, int]] = {}
    for wf, status, count in session.execute(
        _submitted(
            select(Assignment.workforce_id, Annotation.review_status, func.count())
            .select_from(Assignment)
            .where(Annotation.review_status.is_not(None)),
            ids,
        ).group_by(Assignment.workforce_id, Annotation.review_status)
    ):
        reviews.setdefault(wf, {})[status] = int(count)
    return Work(counts, reviews, median)


def answer_groups(session: Session, project_id: int, answers: Answers, code_of: Codes) -> IntArray:
    """The workforce code of every row of ``answers`` (``-1`` if unknown, e.g. submitted
    between the two reads), aligned by (task, user) keys — one query, no per-row lookups."""
    result = session.connection().execute(
        select(Annotation.task_id, Annotation.user_id, _workforce_or_none())
        .outerjoin(
            Assignment,
            and_(
                Assignment.task_id == Annotation.task_id, Assignment.user_id == Annotation.user_id
            ),
        )
        .where(Annotation.project_id == project_id, Annotation.status == SUBMITTED)
    )
    tasks, users, workforce = _columns(result.all(), (np.int64, np.int64, np.int64))
    out = np.full(len(answers.values), -1, dtype=np.int64)
    if not tasks.size or not answers.n_tasks:
        return out
    codes = _codes(workforce, code_of)
    t = np.minimum(np.searchsorted(answers.task_ids, tasks), answers.n_tasks - 1)
    u = np.minimum(np.searchsorted(answers.user_ids, users), answers.n_users - 1)
    found = (answers.task_ids[t] == tasks) & (answers.user_ids[u] == users)
    keys = t[found] * answers.n_users + u[found]
    order = np.argsort(keys)
    keys, codes = keys[order], codes[found][order]
    wanted = answers.task_code * answers.n_users + answers.user_code
    at = np.minimum(np.searchsorted(keys, wanted), max(keys.size - 1, 0))
    if keys.size:
        hit = keys[at] == wanted
        out[hit] = codes[at[hit]]
    return out


@dataclass
class Tally:
    """Sums per workforce row code, pooled over projects and fields (``equal``, ``pairs``,
    ``shared``: between two codes)."""

    n: int
    gold_answers: np.ndarray = field(init=False)
    gold_checked: np.ndarray = field(init=False)
    gold_correct: np.ndarray = field(init=False)
    hits: np.ndarray = field(init=False)
    scored: np.ndarray = field(init=False)
    ds_sum: np.ndarray = field(init=False)
    ds_n: np.ndarray = field(init=False)
    equal: np.ndarray = field(init=False)
    pairs: np.ndarray = field(init=False)
    shared: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        n = self.n
        self.gold_answers, self.gold_checked, self.gold_correct = (np.zeros(n) for _ in "abc")
        self.hits, self.scored, self.ds_sum, self.ds_n = (np.zeros(n) for _ in "abcd")
        self.equal, self.pairs, self.shared = (np.zeros((n, n)) for _ in "abc")


def _gold(
    session: Session,
    project_id: int,
    schema: LabelSchema,
    answers: Answers,
    groups: IntArray,
    tally: Tally,
) -> None:
    """Gold checks per workforce, scored as :mod:`labelhouse.review.gold` scores them."""
    gold = load_gold(session, project_id)
    if not gold:
        return
    on_gold = np.isin(answers.task_ids, np.fromiter(gold, dtype=np.int64))[answers.task_code]
    for r in np.flatnonzero(on_gold & (groups >= 0)).tolist():
        g = groups[r]
        value = answers.values[r]
        tally.gold_answers[g] += 1
        for name, expected in gold[int(answers.task_ids[answers.task_code[r]])].items():
            kind = schema.field(name)
            if kind is None:
                continue  # a field removed from the schema since
            tally.gold_checked[g] += 1
            tally.gold_correct[g] += gold_matches(kind, expected, value.get(name))


def add_project(session: Session, project: Project, code_of: Codes, tally: Tally) -> list[str]:
    """Add one project's gold, consensus, Dawid–Skene and cross-workforce figures to the
    tally; return the categorical fields compared."""
    answers = load_answers(session, project.id)
    if not answers.n_tasks:
        return []
    schema = load_schema(session, project)
    groups = answer_groups(session, project.id, answers, code_of)
    tally.shared += shared_items(answers.task_code, groups, answers.n_tasks, tally.n)
    _gold(session, project.id, schema, answers, groups, tally)
    keys = answers.task_code * answers.n_users + answers.user_code  # increasing
    compared = []
    for kind in schema.fields:
        if kind.agreement_kind() not in CATEGORICAL or not kind.classes():
            continue
        fa = analyse_field(kind, answers, {}, "dawid_skene", statistics=False)
        labels = fa.labels
        if labels is None or not len(labels):
            continue
        compared.append(kind.name)
        g = groups[np.searchsorted(keys, labels.items * answers.n_users + labels.workers)]
        hits, scored = consensus_hits(labels, clear_majority(labels), g, tally.n)
        tally.hits += hits
        tally.scored += scored
        if fa.ds is not None:
            accuracy = fa.ds.worker_accuracy[labels.workers]
            tally.ds_sum += group_sums(g, accuracy, tally.n)
            tally.ds_n += group_sums(g, np.where(np.isfinite(accuracy), 1.0, np.nan), tally.n)
        cross = cross_agreement(labels, g, tally.n)
        tally.equal += cross.equal
        tally.pairs += cross.pairs
    return compared
