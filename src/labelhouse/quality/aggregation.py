"""Consensus labels for categorical fields: majority vote and gold-weighted vote.

Every consensus carries a confidence so the platform can route doubtful items to review.
Dawid–Skene lives in :mod:`labelhouse.quality.confusion_em` (re-exported here) because it is
an iterative model with its own result type; span and box consensus live in
:mod:`labelhouse.quality.consensus`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from labelhouse.quality.confusion_em import DawidSkeneResult, dawid_skene
from labelhouse.quality.data import FloatArray, IntArray, Labels

__all__ = [
    "Consensus",
    "DawidSkeneResult",
    "dawid_skene",
    "gold_accuracy",
    "gold_weighted_vote",
    "majority_vote",
]


@dataclass(frozen=True)
class Consensus:
    """One consensus class per item with its confidence.

    ``labels[i]`` is ``-1`` and ``confidence[i]`` is ``nan`` for items nobody labelled.
    ``proba`` is the per-class support (vote shares or posterior) each row summing to 1.
    """

    labels: IntArray
    confidence: FloatArray
    proba: FloatArray


def _pick(scores: FloatArray, tie_order: IntArray | None) -> IntArray:
    """Arg-max per row with deterministic ties: first class in ``tie_order`` (default: lowest)."""
    if tie_order is None:
        return np.argmax(scores, axis=1).astype(np.int64)
    return tie_order[np.argmax(scores[:, tie_order], axis=1)].astype(np.int64)


def majority_vote(
    labels: Labels, *, tie_break: Literal["lowest", "frequent"] = "lowest"
) -> Consensus:
    """Most frequent label per item; confidence = its share of the item's votes.

    Ties go to the lowest class code (``"lowest"``) or to the class that is most frequent
    over the whole project (``"frequent"``, a better guess under class imbalance). Either
    way the result is reproducible run to run. crowd-kit's MajorityVote differs on ties: it
    picks the tied label that comes first in its input (answers 3, 1, 2 → 3; ours → 1).
    """
    if labels.n_classes == 0:  # no label given at all: no consensus, like the agreement stats
        none = np.full(labels.n_items, -1, dtype=np.int64)
        return Consensus(none, np.full(labels.n_items, np.nan), np.zeros((labels.n_items, 0)))
    counts = labels.item_class_counts().astype(np.float64)
    n = counts.sum(axis=1)
    proba = np.zeros_like(counts)
    np.divide(counts, n[:, None], out=proba, where=n[:, None] > 0)
    order = None
    if tie_break == "frequent":
        order = np.argsort(-counts.sum(axis=0), kind="stable").astype(np.int64)
    winner = _pick(counts, order)
    confidence = proba[np.arange(labels.n_items), winner]
    empty = n == 0
    winner[empty] = -1
    confidence[empty] = np.nan
    return Consensus(labels=winner, confidence=confidence, proba=proba)


def gold_accuracy(
    labels: Labels, gold_items: npt.ArrayLike, gold_classes: npt.ArrayLike
) -> tuple[FloatArray, IntArray]:
    """Per worker: share of correct answers on gold items, and the number of gold answers.

    Returns ``(accuracy, n_gold)``; accuracy is ``nan`` for workers without gold answers.
    """
    truth = np.full(labels.n_items, -1, dtype=np.int64)
    truth[np.asarray(gold_items, dtype=np.int64)] = np.asarray(gold_classes, dtype=np.int64)
    row_truth = truth[labels.items]
    on_gold = row_truth >= 0
    n_gold = np.bincount(labels.workers[on_gold], minlength=labels.n_workers)
    correct = np.bincount(
        labels.workers[on_gold],
        weights=(labels.labels[on_gold] == row_truth[on_gold]),
        minlength=labels.n_workers,
    )
    acc = np.full(labels.n_workers, np.nan)
    np.divide(correct, n_gold, out=acc, where=n_gold > 0)
    return acc, n_gold.astype(np.int64)


@dataclass(frozen=True)
class GoldWeightedConsensus(Consensus):
    """A :class:`Consensus` plus the vote weight and smoothed gold accuracy of every worker."""

    weights: FloatArray
    worker_accuracy: FloatArray


def gold_weighted_vote(
    labels: Labels,
    gold_items: npt.ArrayLike,
    gold_classes: npt.ArrayLike,
    *,
    prior_strength: float = 4.0,
    max_weight: float = 5.0,
) -> GoldWeightedConsensus:
    """Weighted vote with weights from each worker's accuracy on gold tasks.

    Under the one-coin model (a worker is right with probability ``a`` and otherwise picks
    one of the other K − 1 classes uniformly) the Bayes-optimal vote weight is the log-odds
    ``log((K − 1) a / (1 − a))`` and the posterior is the softmax of the weighted votes,
    which is what ``confidence`` reports. Gold accuracy is shrunk towards the pool's mean
    gold accuracy with ``prior_strength`` pseudo-answers, so a worker with two lucky gold
    answers does not outvote everyone and a worker without gold gets the average weight.
    Weights are clipped to ``[0, max_weight]``: below-chance workers are ignored rather than
    inverted (inverting is only well defined for binary labels). Without any gold answer
    every worker gets the same weight and the result is the majority vote.
    """
    if labels.n_classes == 0:  # no label given at all: no consensus, no weights to learn
        none, w = majority_vote(labels), labels.n_workers
        return GoldWeightedConsensus(
            none.labels, none.confidence, none.proba, np.zeros(w), np.full(w, np.nan)
        )
    k = max(labels.n_classes, 2)
    acc, n_gold = gold_accuracy(labels, gold_items, gold_classes)
    correct = np.nan_to_num(acc) * n_gold
    pooled = float(correct.sum() / n_gold.sum()) if n_gold.sum() else 1.0 / k + 0.5 * (1 - 1.0 / k)
    smoothed = (correct + prior_strength * pooled) / (n_gold + prior_strength)
    smoothed = np.clip(smoothed, 1e-6, 1 - 1e-6)
    weights = np.clip(np.log((k - 1) * smoothed / (1.0 - smoothed)), 0.0, max_weight)
    flat = np.bincount(
        labels.items * labels.n_classes + labels.labels,
        weights=weights[labels.workers],
        minlength=labels.n_items * labels.n_classes,
    )
    scores = flat.reshape(labels.n_items, labels.n_classes)
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    proba = shifted / shifted.sum(axis=1, keepdims=True)
    # Raw vote counts break ties (e.g. when every voter of an item has weight 0).
    counts = labels.item_class_counts()
    winner = _pick(scores + 1e-9 * counts, None)
    confidence = proba[np.arange(labels.n_items), winner]
    empty = counts.sum(axis=1) == 0
    winner[empty] = -1
    confidence[empty] = np.nan
    return GoldWeightedConsensus(
        labels=winner, confidence=confidence, proba=proba, weights=weights, worker_accuracy=smoothed
    )
