"""Per-annotator scorecards across every field of a project.

* agreement with consensus — pooled over fields and over tasks with at least two answers
  (a lone answer trivially agrees with itself); categorical fields count exact matches
  (``quality.agreement_with_consensus``), other kinds the kind's ``compare`` score;
* Dawid–Skene estimated accuracy — mean over categorical and multi-choice fields — and its
  confusion matrix per field (multi-choice: absent/present, averaged over the options);
* median seconds per task (``lead_time_ms`` of the submitted annotation);
* gold accuracy — correct over checked gold fields, all fields pooled
  (``review.gold.gold_accuracy``) — and review acceptance — accepted over reviewed
  annotations (``review.service.review_stats``); ``None`` without gold answers / reviews;
* flags: too fast and near-constant (``quality.Thresholds``, the same rules as
  ``quality.scorecards``), low agreement with consensus, and low gold accuracy (below
  ``Thresholds.min_gold_accuracy`` over at least ``MIN_GOLD`` gold answers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labelhouse import quality
from labelhouse.kinds.base import FieldKind
from labelhouse.quality_report.fields import FieldAnalysis
from labelhouse.quality_report.loading import Answers
from labelhouse.quality_report.multichoice import pooled_confusion
from labelhouse.review.gold import GoldScore
from labelhouse.review.service import ReviewStats

LOW_AGREEMENT = 0.6  # flag below this share of agreement with consensus …
MIN_SCORED = 5  # … over at least this many answers on shared tasks
MIN_GOLD = 5  # low gold accuracy needs at least this many gold answers


@dataclass
class Scorecard:
    user_id: int
    email: str
    tasks: int
    median_seconds: float | None
    consensus_agreement: float | None
    scored: int
    ds_accuracy: float | None
    gold_accuracy: float | None = None
    gold_answers: int = 0
    review_acceptance: float | None = None
    reviewed: int = 0
    confusion: dict[str, dict[str, Any]] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    gold_fields: dict[str, float | None] = field(default_factory=dict)  # accuracy per field
    paused: bool = False  # by the project's gold-accuracy rule, until a manager lifts it


def _clean(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def build_scorecards(
    answers: Answers,
    kinds: dict[str, FieldKind],
    analyses: list[FieldAnalysis],
    emails: dict[int, str],
    thresholds: quality.Thresholds | None = None,
    *,
    gold: dict[int, GoldScore] | None = None,
    reviews: dict[int, ReviewStats] | None = None,
) -> list[Scorecard]:
    t = thresholds or quality.Thresholds()
    w = answers.n_users
    hits = np.zeros(w)
    scored = np.zeros(w)
    ds_sum = np.zeros(w)
    ds_n = np.zeros(w)
    near_constant = np.zeros(w, dtype=bool)
    confusion: list[dict[str, dict[str, Any]]] = [{} for _ in range(w)]

    def add_fit(field: str, accuracy: Any, classes: list[str], matrix: Any) -> None:
        """One field's Dawid–Skene fit: its worker accuracies join the mean, and each
        annotator's confusion matrix (``matrix(u)``) goes on their card."""
        has = np.isfinite(accuracy)
        ds_sum[has] += accuracy[has]
        ds_n[has] += 1
        for u in np.flatnonzero(has):
            confusion[u][field] = {"classes": classes, "matrix": matrix(int(u))}

    for fa in analyses:
        if fa.labels is not None:
            labels = fa.labels
            winners = np.full(answers.n_tasks, -1, dtype=np.int64)
            classes = labels.class_ids or []
            index = {c: i for i, c in enumerate(classes)}
            kind = kinds[fa.name]
            codes: dict[tuple[type, Any], int] = {}  # a few consensus values, many tasks
            for task in np.flatnonzero(fa.answered > 1).tolist():
                c = fa.consensus[task]
                if c is None:
                    continue
                try:
                    key = (type(c.value), c.value)
                    code = codes.get(key)
                    if code is None:
                        code = codes[key] = index.get(kind.label_of(c.value), -1)
                except TypeError:  # an unhashable value (e.g. a pairwise choice's dict)
                    code = index.get(kind.label_of(c.value), -1)
                winners[task] = code
            share, n = quality.agreement_with_consensus(labels, winners)
            hits += np.nan_to_num(share) * n
            scored += n
            if (ds := fa.ds) is not None:
                add_fit(
                    fa.name,
                    ds.worker_accuracy,
                    [str(c) for c in classes],
                    lambda u, ds=ds: np.round(ds.confusion[u], 4).tolist(),
                )
            near_constant |= quality.scorecards(labels, thresholds=t).near_constant
        else:
            kind = kinds[fa.name]
            if fa.agreement_kind in ("text", "none"):  # similarity, not correctness
                continue
            if (fit := fa.multilabel) is not None:
                add_fit(
                    fa.name,
                    fit.worker_accuracy,
                    ["absent", "present"],
                    lambda u, fit=fit: pooled_confusion(fit, u),
                )
            for r, value in enumerate(answers.values):
                task = int(answers.task_code[r])
                c = fa.consensus[task]
                if c is None or fa.answered[task] < 2 or fa.name not in value:
                    continue
                u = int(answers.user_code[r])
                hits[u] += kind.compare(value[fa.name], c.value)
                scored[u] += 1
    median = quality.median_time(answers.user_code, answers.seconds, n_workers=w)
    project_median = float(np.median(answers.seconds)) if answers.seconds.size else math.nan
    fast_limit = max(t.min_seconds, t.fast_fraction * project_median)
    tasks = np.bincount(answers.user_code, minlength=w)
    cards = []
    for u in range(w):
        uid = int(answers.user_ids[u])
        agreement = hits[u] / scored[u] if scored[u] else math.nan
        flags = []
        if math.isfinite(median[u]) and median[u] < fast_limit:
            flags.append("too fast")
        if near_constant[u]:
            flags.append("near-constant answers")
        if scored[u] >= MIN_SCORED and agreement < LOW_AGREEMENT:
            flags.append("low agreement")
        cards.append(
            Scorecard(
                user_id=uid,
                email=emails.get(uid, f"user {uid}"),
                tasks=int(tasks[u]),
                median_seconds=_clean(median[u]),
                consensus_agreement=_clean(agreement),
                scored=int(scored[u]),
                ds_accuracy=_clean(ds_sum[u] / ds_n[u]) if ds_n[u] else None,
                confusion=confusion[u],
                flags=flags,
            )
        )
    attach_people(cards, gold=gold, reviews=reviews, thresholds=t)
    return cards


def attach_people(
    cards: list[Scorecard],
    *,
    gold: dict[int, GoldScore] | None,
    reviews: dict[int, ReviewStats] | None,
    thresholds: quality.Thresholds | None = None,
) -> None:
    """Add gold accuracy (and the low-gold flag) and review acceptance to the cards. Gold
    accuracy changes without any answer changing (a gold value is edited), so a stored
    report gets it when it is shown; reviews change the stored report's watermark."""
    t = thresholds or quality.Thresholds()
    for card in cards:
        g = (gold or {}).get(card.user_id)
        gold_acc = g.accuracy if g is not None else None
        card.gold_accuracy = gold_acc
        card.gold_answers = g.answers if g is not None else 0
        card.gold_fields = (
            {name: f.accuracy for name, f in g.fields.items()} if g is not None else {}
        )
        card.flags = [f for f in card.flags if f != "low gold accuracy"]
        if (
            g is not None
            and g.answers >= MIN_GOLD
            and gold_acc is not None
            and gold_acc < t.min_gold_accuracy
        ):
            card.flags.append("low gold accuracy")
        if reviews is not None:  # None: leave what the cards have
            r = reviews.get(card.user_id)
            card.review_acceptance = r.acceptance_rate if r is not None else None
            card.reviewed = r.reviewed if r is not None else 0
