"""Annotator scorecard numbers and flags, computed for all annotators at once.

A scorecard answers "whose labels can I trust, and who needs a look?" from several
independent signals — gold accuracy (ground truth, but sparse), agreement with consensus
(dense, but circular for a large share of the votes), Dawid–Skene's estimated accuracy
(dense and not circular, but model-based) and timing — plus flags for the classic failure
modes: answering faster than one can read, answering nearly always the same class, and
failing gold questions. Thresholds are parameters; defaults are deliberately lenient so a
flag is worth a manager's attention.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from labelhouse.quality.aggregation import gold_accuracy
from labelhouse.quality.data import BoolArray, FloatArray, IntArray, Labels


def agreement_with_consensus(
    labels: Labels, consensus: npt.ArrayLike
) -> tuple[FloatArray, IntArray]:
    """Per worker: share of their labels equal to the item's consensus label.

    Returns ``(agreement, n_scored)``; items whose consensus is ``-1`` are skipped. The
    worker's own vote is part of a majority consensus, which inflates this for items with
    few annotators — compare workers with each other, not to an absolute bar.
    """
    cons = np.asarray(consensus, dtype=np.int64)
    row_cons = cons[labels.items]
    scored = row_cons >= 0
    n = np.bincount(labels.workers[scored], minlength=labels.n_workers)
    hits = np.bincount(
        labels.workers[scored],
        weights=labels.labels[scored] == row_cons[scored],
        minlength=labels.n_workers,
    )
    share = np.full(labels.n_workers, np.nan)
    np.divide(hits, n, out=share, where=n > 0)
    return share, n.astype(np.int64)


def median_time(
    workers: npt.ArrayLike, seconds: npt.ArrayLike, *, n_workers: int | None = None
) -> FloatArray:
    """Median seconds per task for every worker (``nan`` without timings), by one sort."""
    who = np.asarray(workers, dtype=np.int64).ravel()
    sec = np.asarray(seconds, dtype=np.float64).ravel()
    size = int(n_workers) if n_workers is not None else (int(who.max()) + 1 if who.size else 0)
    order = np.lexsort((sec, who))
    sorted_sec = sec[order]
    bounds = np.searchsorted(who[order], np.arange(size + 1))
    count = np.diff(bounds)
    out = np.full(size, np.nan)
    has = count > 0
    low = bounds[:-1][has] + (count[has] - 1) // 2
    high = bounds[:-1][has] + count[has] // 2
    out[has] = (sorted_sec[low] + sorted_sec[high]) / 2.0
    return out


def label_entropy(labels: Labels) -> FloatArray:
    """Entropy of each worker's answer distribution, normalised to [0, 1] by log K.

    Near 0: the worker gives (almost) always the same answer.
    """
    counts = labels.worker_class_counts().astype(np.float64)
    n = counts.sum(axis=1, keepdims=True)
    p = np.zeros_like(counts)
    np.divide(counts, n, out=p, where=n > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(p), 0.0)
    entropy = terms.sum(axis=1) / np.log(max(labels.n_classes, 2))
    entropy[n[:, 0] == 0] = np.nan
    return entropy


@dataclass(frozen=True)
class Thresholds:
    """When to flag an annotator.

    * too fast: median seconds per task below ``min_seconds``, or below ``fast_fraction`` of
      the project's median (what is plausible depends on the task, hence both);
    * near-constant: normalised answer entropy below ``max_entropy`` over at least
      ``min_labels`` labels (a balanced honest worker on 4 classes is near 1; an adversary
      who always answers one class is 0);
    * low gold accuracy: below ``min_gold_accuracy`` over at least ``min_gold`` gold answers.
    """

    min_seconds: float = 2.0
    fast_fraction: float = 0.25
    max_entropy: float = 0.15
    min_labels: int = 20
    min_gold_accuracy: float = 0.7
    min_gold: int = 10


@dataclass(frozen=True)
class Scorecards:
    """Per-worker arrays (index = worker code); ``nan`` where a signal is unavailable."""

    n_labels: IntArray
    gold_accuracy: FloatArray
    n_gold: IntArray
    consensus_agreement: FloatArray
    estimated_accuracy: FloatArray
    median_seconds: FloatArray
    entropy: FloatArray
    too_fast: BoolArray
    near_constant: BoolArray
    low_gold_accuracy: BoolArray

    @property
    def flagged(self) -> BoolArray:
        return self.too_fast | self.near_constant | self.low_gold_accuracy


def scorecards(
    labels: Labels,
    *,
    consensus: npt.ArrayLike | None = None,
    estimated_accuracy: npt.ArrayLike | None = None,
    gold_items: npt.ArrayLike | None = None,
    gold_classes: npt.ArrayLike | None = None,
    seconds: npt.ArrayLike | None = None,
    thresholds: Thresholds | None = None,
) -> Scorecards:
    """Assemble every worker's scorecard from whichever signals are available.

    ``consensus`` is one class code per item (e.g. Dawid–Skene labels), ``estimated_accuracy``
    one number per worker (e.g. ``DawidSkeneResult.worker_accuracy``), ``seconds`` one
    duration per label row (aligned with ``labels``). Missing signals give ``nan`` columns
    and never raise a flag.
    """
    t = thresholds or Thresholds()
    w = labels.n_workers
    nan = np.full(w, np.nan)
    n_labels = labels.labels_per_worker().astype(np.int64)

    if gold_items is not None and gold_classes is not None:
        gold_acc, n_gold = gold_accuracy(labels, gold_items, gold_classes)
    else:
        gold_acc, n_gold = nan.copy(), np.zeros(w, dtype=np.int64)
    agreement = (
        agreement_with_consensus(labels, consensus)[0] if consensus is not None else nan.copy()
    )
    estimated = (
        np.asarray(estimated_accuracy, dtype=np.float64)
        if estimated_accuracy is not None
        else nan.copy()
    )

    if seconds is not None:
        sec = np.asarray(seconds, dtype=np.float64)
        med = median_time(labels.workers, sec, n_workers=w)
        project_median = float(np.median(sec)) if sec.size else float("nan")
        limit = max(t.min_seconds, t.fast_fraction * project_median)
        too_fast = np.nan_to_num(med, nan=np.inf) < limit
    else:
        med, too_fast = nan.copy(), np.zeros(w, dtype=bool)

    entropy = label_entropy(labels)
    near_constant = (n_labels >= t.min_labels) & (np.nan_to_num(entropy, nan=1.0) < t.max_entropy)
    low_gold = (n_gold >= t.min_gold) & (np.nan_to_num(gold_acc, nan=1.0) < t.min_gold_accuracy)
    return Scorecards(
        n_labels=n_labels,
        gold_accuracy=gold_acc,
        n_gold=n_gold,
        consensus_agreement=agreement,
        estimated_accuracy=estimated,
        median_seconds=med,
        entropy=entropy,
        too_fast=too_fast,
        near_constant=near_constant,
        low_gold_accuracy=low_gold,
    )
