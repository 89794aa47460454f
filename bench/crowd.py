"""Synthetic crowds with known truth, for the quality benchmarks and tests.

A crowd is a set of items with hidden true classes and workers with a confusion matrix of
one of four types — the mix a real labeling project sees:

* ``good``: right 75–95% of the time, mistakes spread unevenly over the other classes;
* ``noisy``: better than chance but not by much;
* ``spammer``: answers uniformly at random, whatever the item;
* ``adversarial``: always answers the same class (a one-button clicker);
* ``flipper``: answers systematically wrong — mostly one fixed other class per true class
  (a derangement of the classes), the rest at random.

Each item is labelled by a fixed or varying number of distinct workers (``overlap``), drawn
with uneven worker activity (a few workers do much of the work, as on real platforms).
Also generates pairwise comparisons for Bradley–Terry with optional position bias.
Everything is vectorised and seeded, so 1M labels take well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelhouse.quality.data import IntArray, Labels

DEFAULT_MIX = {"good": 0.6, "noisy": 0.2, "spammer": 0.15, "adversarial": 0.05}
# A hard crowd: fewer than half the workers are good, the rest spam, click one button or
# answer systematically wrong (the issue-17 crowd where plain EM needed 73–200 iterations).
HARD_MIX = {"good": 0.3, "noisy": 0.3, "spammer": 0.2, "adversarial": 0.1, "flipper": 0.1}


def make_hard_crowd(n_labels: int, n_classes: int = 4, *, seed: int = 17) -> Crowd:
    """About ``n_labels`` labels from 300 workers of :data:`HARD_MIX` with skewed activity,
    2–4 labels per item and imbalanced classes: the crowd on which plain EM crawls."""
    return make_crowd(
        n_labels // 3,
        n_classes,
        300,
        (2, 4),
        mix=HARD_MIX,
        imbalance=0.3,
        activity_skew=1.0,
        seed=seed,
    )


@dataclass(frozen=True)
class Crowd:
    labels: Labels
    truth: IntArray
    worker_types: list[str]
    confusion: np.ndarray  # [worker, true, answered]


def _confusions(rng: np.random.Generator, types: list[str], k: int) -> np.ndarray:
    out = np.empty((len(types), k, k))
    for w, kind in enumerate(types):
        if kind == "spammer":
            out[w] = 1.0 / k
            continue
        if kind == "adversarial":
            out[w] = 0.0
            out[w, :, rng.integers(k)] = 1.0
            continue
        if kind == "flipper" and k > 1:
            wrong = (np.arange(k) + rng.integers(1, k)) % k
            out[w] = 0.2 / k
            out[w, np.arange(k), wrong] += 0.8
            continue
        low, high = (0.75, 0.95) if kind == "good" else (1.0 / k + 0.1, 1.0 / k + 0.3)
        acc = rng.uniform(low, high, size=k)
        errors = rng.dirichlet(np.ones(k - 1), size=k) if k > 1 else np.zeros((k, 0))
        for c in range(k):
            out[w, c, np.arange(k) != c] = (1 - acc[c]) * errors[c]
            out[w, c, c] = acc[c]
    return out


def _assign(
    rng: np.random.Generator, per_item: IntArray, n_workers: int, activity: np.ndarray
) -> tuple[IntArray, IntArray]:
    """Distinct workers per item, drawn by activity; duplicates within an item are redrawn."""
    width = int(per_item.max())
    if width > n_workers:
        raise ValueError(f"overlap {width} exceeds the number of workers {n_workers}")
    cdf = np.cumsum(activity)
    cdf /= cdf[-1]
    grid = np.searchsorted(cdf, rng.random((per_item.size, width)), side="right")
    grid = np.minimum(grid, n_workers - 1)
    valid = np.arange(width)[None, :] < per_item[:, None]
    for _ in range(200):
        ordered = np.sort(np.where(valid, grid, -1 - np.arange(width)[None, :]), axis=1)
        dup_rows = np.nonzero((np.diff(ordered, axis=1) == 0).any(axis=1))[0]
        if dup_rows.size == 0:
            break
        grid[dup_rows] = np.minimum(
            np.searchsorted(cdf, rng.random((dup_rows.size, width)), side="right"), n_workers - 1
        )
    items = np.repeat(np.arange(per_item.size), width).reshape(per_item.size, width)
    return items[valid].astype(np.int64), grid[valid].astype(np.int64)


def _worker_types(rng: np.random.Generator, mix: dict[str, float], n_workers: int) -> list[str]:
    """``n_workers`` type names in the proportions of ``mix`` (rounding goes to the first
    type), shuffled."""
    kinds = list(mix)
    probs = np.array([mix[t] for t in kinds], dtype=float)
    counts = np.floor(probs / probs.sum() * n_workers).astype(int)
    counts[0] += n_workers - counts.sum()
    types = [t for t, c in zip(kinds, counts, strict=True) for _ in range(c)]
    rng.shuffle(types)
    return types


def _labels_per_item(
    rng: np.random.Generator, overlap: int | tuple[int, int], n_items: int
) -> np.ndarray:
    """Labels per item: fixed, or uniform over an inclusive ``(min, max)`` range."""
    if isinstance(overlap, tuple):
        return rng.integers(overlap[0], overlap[1] + 1, size=n_items)
    return np.full(n_items, overlap)


def make_crowd(
    n_items: int,
    n_classes: int = 4,
    n_workers: int = 100,
    overlap: int | tuple[int, int] = 5,
    *,
    mix: dict[str, float] | None = None,
    imbalance: float = 0.0,
    activity_skew: float = 0.5,
    seed: int = 0,
) -> Crowd:
    """Generate a crowd; ``overlap`` is labels per item (or an inclusive ``(min, max)`` range).

    ``imbalance`` ≥ 0 makes class priors geometric: class c has weight ``exp(−imbalance·c)``.
    ``activity_skew`` is the σ of the log-normal worker activity (0 = uniform workload).
    """
    rng = np.random.default_rng(seed)
    weights = mix or DEFAULT_MIX
    types = _worker_types(rng, weights, n_workers)
    confusion = _confusions(rng, types, n_classes)

    priors = np.exp(-imbalance * np.arange(n_classes))
    priors /= priors.sum()
    truth = rng.choice(n_classes, size=n_items, p=priors).astype(np.int64)
    per_item = _labels_per_item(rng, overlap, n_items)
    activity = (
        rng.lognormal(0.0, activity_skew, size=n_workers)
        if activity_skew > 0
        else np.ones(n_workers)
    )
    items, workers = _assign(rng, per_item, n_workers, activity)
    cum = np.cumsum(confusion, axis=2)[workers, truth[items]]
    answers = (rng.random(items.size)[:, None] < cum).argmax(axis=1).astype(np.int64)
    labels = Labels(items, workers, answers, n_items, n_workers, n_classes)
    return Crowd(labels=labels, truth=truth, worker_types=types, confusion=confusion)


@dataclass(frozen=True)
class Comparisons:
    """Pairwise judgments: ``first``/``second`` in display order, ``first_won`` the choice."""

    first: IntArray
    second: IntArray
    first_won: np.ndarray
    annotators: IntArray
    true_scores: np.ndarray
    annotator_types: list[str]

    @property
    def winners(self) -> IntArray:
        return np.where(self.first_won, self.first, self.second)

    @property
    def losers(self) -> IntArray:
        return np.where(self.first_won, self.second, self.first)


def make_comparisons(
    n_items: int,
    n_comparisons: int,
    *,
    n_annotators: int = 50,
    random_share: float = 0.1,
    position_bias: float = 0.0,
    spread: float = 1.5,
    seed: int = 0,
) -> Comparisons:
    """Bradley–Terry comparisons of items with scores ~ N(0, spread²).

    A ``random_share`` of annotators click at random (reliability ≈ 0.5); ``position_bias``
    is added to the log-odds that the first-shown item wins, for every annotator.
    """
    rng = np.random.default_rng(seed)
    scores = rng.normal(0.0, spread, size=n_items)
    first = rng.integers(n_items, size=n_comparisons)
    second = (first + rng.integers(1, n_items, size=n_comparisons)) % n_items
    annotators = rng.integers(n_annotators, size=n_comparisons)
    is_random = rng.random(n_annotators) < random_share
    types = ["random" if r else "careful" for r in is_random]
    logit = scores[first] - scores[second] + position_bias
    p_first = 1.0 / (1.0 + np.exp(-logit))
    p_first = np.where(is_random[annotators], 0.5, p_first)
    first_won = rng.random(n_comparisons) < p_first
    return Comparisons(
        first.astype(np.int64),
        second.astype(np.int64),
        first_won,
        annotators.astype(np.int64),
        scores,
        types,
    )


@dataclass(frozen=True)
class MultiLabelCrowd:
    """Multi-choice answers: row ``r`` is worker ``workers[r]``'s set ``selected[r]`` for
    item ``items[r]``; ``truth[i, o]`` says whether option ``o`` applies to item ``i``."""

    items: IntArray
    workers: IntArray
    selected: np.ndarray  # [row, option] bool
    truth: np.ndarray  # [item, option] bool
    worker_types: list[str]
    n_items: int
    n_workers: int


MULTILABEL_MIX = {"good": 0.5, "cautious": 0.2, "spammer": 0.2, "over-selector": 0.1}


def make_multilabel_crowd(
    n_items: int,
    n_options: int = 6,
    n_workers: int = 50,
    overlap: int | tuple[int, int] = 5,
    *,
    mix: dict[str, float] | None = None,
    seed: int = 0,
) -> MultiLabelCrowd:
    """Multi-label answers from workers with per-option sensitivity and specificity.

    Options apply with uneven rates (5–40%). Worker types: ``good`` (sensitivity 0.7–0.95,
    specificity 0.9–0.99 per option), ``cautious`` (rarely selects: sensitivity 0.3–0.5,
    specificity ≈ 1 — right when they do), ``spammer`` (selects each option with a fixed
    probability whatever the item) and ``over-selector`` (selects most options).
    """
    rng = np.random.default_rng(seed)
    weights = mix or MULTILABEL_MIX
    types = _worker_types(rng, weights, n_workers)
    sens = np.empty((n_workers, n_options))
    spec = np.empty((n_workers, n_options))
    for w, kind in enumerate(types):
        if kind == "good":
            sens[w], spec[w] = rng.uniform(0.7, 0.95, n_options), rng.uniform(0.9, 0.99, n_options)
        elif kind == "cautious":
            sens[w], spec[w] = rng.uniform(0.3, 0.5, n_options), rng.uniform(0.98, 1.0, n_options)
        elif kind == "spammer":
            rate = rng.uniform(0.2, 0.5)
            sens[w], spec[w] = rate, 1.0 - rate
        else:  # over-selector
            sens[w], spec[w] = rng.uniform(0.9, 1.0, n_options), rng.uniform(0.1, 0.4, n_options)
    rates = rng.uniform(0.05, 0.4, size=n_options)
    truth = rng.random((n_items, n_options)) < rates
    per_item = _labels_per_item(rng, overlap, n_items)
    items, workers = _assign(rng, per_item, n_workers, rng.lognormal(0.0, 0.5, size=n_workers))
    p_select = np.where(truth[items], sens[workers], 1.0 - spec[workers])
    selected = rng.random(p_select.shape) < p_select
    return MultiLabelCrowd(items, workers, selected, truth, types, n_items, n_workers)
