"""Choosing the one-coin prior strength of Dawid–Skene from the data.

The prior shrinks each annotator's confusion matrix towards their one-coin model; how much
is best depends on how many labels each annotator gave and how rare the classes are. With
no truth to score against, the honest yardstick is prediction: hide one answer of some
items that have several, fit on the rest, and ask how probable each hidden answer was under
the fitted model (the item's posterior from its other answers times the annotator's
confusion row). The strength whose fits predict hidden answers best wins.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from labelhouse.quality.data import Labels

GRID = (0.0, 1.0, 2.0, 4.0)


def _split(labels: Labels, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows to hold out (at most one per item, only from items with ≥ 3 answers so the
    rest still has an overlap) and the mask of rows kept for fitting."""
    rng = np.random.default_rng(seed)
    per_item = labels.labels_per_item()
    order = rng.permutation(len(labels))
    _, first = np.unique(labels.items[order], return_index=True)
    candidates = order[first]
    candidates = candidates[per_item[labels.items[candidates]] >= 3]
    held = candidates[rng.random(candidates.size) < share]
    keep = np.ones(len(labels), dtype=bool)
    keep[held] = False
    return held, keep


def _held_out(
    labels: Labels, strengths: Sequence[float], share: float, seed: int, smoothing: float
) -> dict[float, np.ndarray]:
    """Log-probability of every held-out answer under the fit with each strength."""
    from labelhouse.quality.confusion_em import dawid_skene

    held, keep = _split(labels, share, seed)
    if held.size < 2:
        return {}
    train = Labels(
        labels.items[keep],
        labels.workers[keep],
        labels.labels[keep],
        labels.n_items,
        labels.n_workers,
        labels.n_classes,
    )
    items, workers, answers = labels.items[held], labels.workers[held], labels.labels[held]
    scores = {}
    for strength in strengths:
        fit = dawid_skene(train, one_coin_prior=strength, smoothing=smoothing)
        # P(answer) = Σ_c P(c | other answers) · P(answer | c) for that annotator
        row = fit.confusion[workers, :, answers]
        p = (fit.proba[items] * row).sum(axis=1)
        scores[float(strength)] = np.log(np.maximum(p, 1e-300))
    return scores


def held_out_log_likelihood(
    labels: Labels,
    strengths: Sequence[float] = GRID,
    *,
    share: float = 0.5,
    seed: int = 0,
    smoothing: float = 0.01,
) -> dict[float, float]:
    """Mean log-probability of held-out answers under the fit with each prior strength."""
    per_answer = _held_out(labels, strengths, share, seed, smoothing)
    return {s: float(v.mean()) for s, v in per_answer.items()}


def choose_one_coin_prior(
    labels: Labels,
    strengths: Sequence[float] = GRID,
    *,
    smoothing: float = 0.01,
    share: float = 0.5,
    seed: int = 0,
) -> float:
    """The strength of ``strengths`` whose fits best predict held-out answers — but only
    when it beats the default strength by more than two standard errors of the paired
    per-answer difference; otherwise (and when too few items have three or more answers
    to hold one out) the default of :func:`~labelhouse.quality.dawid_skene`. The margin
    matters: on real crowds a strength that predicts answers a hair better can still
    label worse, so a change of model needs clear evidence."""
    from labelhouse.quality.confusion_em import DEFAULT_ONE_COIN_PRIOR

    grid = sorted({float(s) for s in strengths} | {DEFAULT_ONE_COIN_PRIOR})
    per_answer = _held_out(labels, grid, share, seed, smoothing)
    if not per_answer:
        return DEFAULT_ONE_COIN_PRIOR
    base = per_answer[DEFAULT_ONE_COIN_PRIOR]
    best, best_gain = DEFAULT_ONE_COIN_PRIOR, 0.0
    for strength, values in per_answer.items():
        diff = values - base
        gain = float(diff.mean())
        margin = 2.0 * float(diff.std(ddof=1)) / np.sqrt(diff.size)
        if gain > margin and gain > best_gain:
            best, best_gain = strength, gain
    return best
