"""Comparing groups of annotators (e.g. workforces: the lab's staff and outside vendors).

Pure numpy/scipy over the long-form label rows of :class:`~labelhouse.quality.data.Labels`
plus one group code per row. A row's group belongs to the *answer*, not to the worker: a
person who moved from one vendor to another counts for each with the work done there.
Everything returns sums and counts rather than ratios, so callers can pool fields and
projects before dividing. Group code ``-1`` marks a row of no known group; it is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from labelhouse.quality.aggregation import majority_vote
from labelhouse.quality.data import FloatArray, IntArray, Labels

Z95 = 1.959963984540054  # the standard normal's 97.5th percentile


def wilson_interval(
    correct: npt.ArrayLike, n: npt.ArrayLike, *, z: float = Z95
) -> tuple[FloatArray, FloatArray]:
    """Wilson score interval of a binomial proportion, element-wise (``nan`` where n = 0).

    Unlike the normal ("Wald") interval it stays inside [0, 1] and keeps close to its
    nominal coverage for small n and proportions near 0 or 1 — the usual case for an
    accurate vendor checked on a few dozen gold answers. It assumes independent trials;
    answers of the same person are somewhat alike, so for a group of very uneven people
    the interval is a little optimistic.
    """
    k = np.asarray(correct, dtype=np.float64)
    total = np.asarray(n, dtype=np.float64)
    low = np.full(np.broadcast(k, total).shape, np.nan)
    high = low.copy()
    has = total > 0
    k, total = np.broadcast_to(k, low.shape)[has], np.broadcast_to(total, low.shape)[has]
    p = k / total
    z2 = z * z
    denominator = 1.0 + z2 / total
    centre = (p + z2 / (2.0 * total)) / denominator
    half = z * np.sqrt(p * (1.0 - p) / total + z2 / (4.0 * total * total)) / denominator
    # At k = 0 and k = n the ends are exactly 0 and 1 (float rounding would miss them).
    low[has] = np.where(k == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    high[has] = np.where(k == total, 1.0, np.clip(centre + half, 0.0, 1.0))
    return low, high


def group_sums(groups: npt.ArrayLike, values: npt.ArrayLike | None, n_groups: int) -> FloatArray:
    """Sum of ``values`` (or the number of rows, when None) per group code; ``-1`` and
    non-finite values are left out."""
    g = np.asarray(groups, dtype=np.int64)
    keep = g >= 0
    weights = None
    if values is not None:
        v = np.asarray(values, dtype=np.float64)
        keep &= np.isfinite(v)
        weights = v[keep]
    return np.bincount(g[keep], weights=weights, minlength=n_groups).astype(np.float64)


def clear_majority(labels: Labels, *, min_votes: int = 2) -> IntArray:
    """Per item, the class with strictly more votes than any other (the majority vote), or
    ``-1`` for a tie or an item with fewer than ``min_votes`` labels. A tie broken by class
    order would make agreement with it depend on how the classes happen to be listed."""
    vote = majority_vote(labels)
    counts = labels.item_class_counts()
    n = counts.sum(axis=1)
    top = counts.max(axis=1) if labels.n_classes else np.zeros(labels.n_items, dtype=np.int64)
    tied = (counts == top[:, None]).sum(axis=1) > 1
    winners = vote.labels.copy()
    winners[(n < min_votes) | tied] = -1
    return winners


def consensus_hits(
    labels: Labels, winners: npt.ArrayLike, groups: npt.ArrayLike, n_groups: int
) -> tuple[FloatArray, FloatArray]:
    """Per group: (answers equal to their item's consensus, answers scored) over the items
    with a consensus (``winners[item] >= 0``)."""
    row_winner = np.asarray(winners, dtype=np.int64)[labels.items]
    g = np.where(row_winner >= 0, np.asarray(groups, dtype=np.int64), -1)
    hits = group_sums(g, labels.labels == row_winner, n_groups)
    return hits, group_sums(g, None, n_groups)


def _incidence(rows: IntArray, cols: IntArray, shape: tuple[int, int]) -> sp.csr_matrix:
    return sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=shape)  # duplicates add up


@dataclass(frozen=True)
class CrossAgreement:
    """Between every two groups ``a`` ≠ ``b``, over the items both labelled: ``pairs[a, b]``
    pairs of answers (one from each group) were compared and ``equal[a, b]`` of them gave
    the same class. Diagonals are 0 (within-group agreement is not computed here)."""

    equal: FloatArray
    pairs: FloatArray


def cross_agreement(labels: Labels, groups: npt.ArrayLike, n_groups: int) -> CrossAgreement:
    """Agreement between groups on shared items, by two sparse products (no loop over
    items): with ``C[g, (item, class)]`` the answer counts of group ``g``, the equal pairs
    of ``a`` and ``b`` are ``(C Cᵀ)[a, b]``; with ``N[g, item]`` its answers per item, the
    compared pairs are ``(N Nᵀ)[a, b]``. A group with several answers on an item (quota 2)
    contributes every one of its answers to the pairs."""
    g = np.asarray(groups, dtype=np.int64)
    keep = g >= 0
    g, items, classes = g[keep], labels.items[keep], labels.labels[keep]
    k = max(labels.n_classes, 1)
    by_class = _incidence(g, items * k + classes, (n_groups, max(labels.n_items * k, 1)))
    by_item = _incidence(g, items, (n_groups, max(labels.n_items, 1)))
    equal = np.asarray((by_class @ by_class.T).todense(), dtype=np.float64)
    pairs = np.asarray((by_item @ by_item.T).todense(), dtype=np.float64)
    np.fill_diagonal(equal, 0.0)
    np.fill_diagonal(pairs, 0.0)
    return CrossAgreement(equal, pairs)


def shared_items(
    items: npt.ArrayLike, groups: npt.ArrayLike, n_items: int, n_groups: int
) -> FloatArray:
    """``shared[a, b]``: how many items both group ``a`` and group ``b`` answered (rows are
    (item, group) pairs; ``-1`` groups are left out). The diagonal counts each group's
    items."""
    g = np.asarray(groups, dtype=np.int64)
    keep = g >= 0
    cols = np.asarray(items, dtype=np.int64)[keep]
    answered = _incidence(g[keep], cols, (n_groups, max(n_items, 1)))
    answered.sum_duplicates()
    answered.data[:] = 1.0  # answered at all, not how often
    return np.asarray((answered @ answered.T).todense(), dtype=np.float64)
