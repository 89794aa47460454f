"""Calibrating consensus confidence on gold tasks, and measuring calibration.

A consensus confidence is a promise: of the tasks shown at 0.9, nine in ten should be
right. Model posteriors break it — Dawid–Skene assumes annotators err independently, so a
few agreeing answers multiply into 0.999 although real crowds share mistakes (on one real
crowd: mean confidence 0.997 for 0.898 accuracy). Gold tasks show how often the consensus
is really right, so a monotone map fitted on them (Platt scaling: a logistic curve on the
confidence's log-odds, two parameters, stable on a few dozen gold tasks) turns the model's
confidence into an honest probability for every task. Without enough gold nothing can be
checked, and the result says "uncalibrated" instead of pretending.

The reliability bins and the expected calibration error (ECE: the count-weighted mean gap
between confidence and accuracy over confidence bins) are what the quality page charts.
The ECE after calibration is measured out of fold (fit on four fifths of the gold, scored
on the fifth left out), so it is not flattered by fitting and scoring on the same tasks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from labelhouse.quality.data import FloatArray

MIN_GOLD = 30
N_BINS = 10
FOLDS = 5
_EDGE = 1e-9


@dataclass(frozen=True)
class ReliabilityBin:
    """Tasks whose confidence falls in ``[lower, upper)``: how many, their mean
    confidence and the share that were right."""

    lower: float
    upper: float
    count: int
    confidence: float
    accuracy: float


def _clean(confidence: npt.ArrayLike, correct: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    conf = np.asarray(confidence, dtype=np.float64)
    hit = np.asarray(correct, dtype=np.float64)
    if conf.shape != hit.shape:
        raise ValueError(f"got {conf.size} confidences for {hit.size} outcomes")
    ok = np.isfinite(conf)
    return np.clip(conf[ok], 0.0, 1.0), hit[ok]


def reliability_bins(
    confidence: npt.ArrayLike, correct: npt.ArrayLike, *, n_bins: int = N_BINS
) -> list[ReliabilityBin]:
    """Equal-width confidence bins over [0, 1] (the last one includes 1), empty bins left
    out."""
    conf, hit = _clean(confidence, correct)
    index = np.minimum((conf * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(index, minlength=n_bins)
    conf_sum = np.bincount(index, weights=conf, minlength=n_bins)
    hit_sum = np.bincount(index, weights=hit, minlength=n_bins)
    return [
        ReliabilityBin(
            b / n_bins,
            (b + 1) / n_bins,
            int(count[b]),
            conf_sum[b] / count[b],
            hit_sum[b] / count[b],
        )
        for b in range(n_bins)
        if count[b]
    ]


def expected_calibration_error(
    confidence: npt.ArrayLike, correct: npt.ArrayLike, *, n_bins: int = N_BINS
) -> float:
    """Σ_bins (n_b / n) · |mean confidence_b − accuracy_b|; ``nan`` without outcomes."""
    bins = reliability_bins(confidence, correct, n_bins=n_bins)
    total = sum(b.count for b in bins)
    if not total:
        return float("nan")
    return float(sum(b.count * abs(b.confidence - b.accuracy) for b in bins) / total)


def _logit(p: FloatArray) -> FloatArray:
    p = np.clip(p, _EDGE, 1.0 - _EDGE)
    return np.log(p) - np.log1p(-p)


def _fit_platt(conf: FloatArray, hit: FloatArray) -> tuple[float, float]:
    """Slope and intercept of P(right) = σ(a · logit(conf) + b), a ≥ 0, fitted by maximum
    likelihood on Platt's smoothed targets — (N₊+1)/(N₊+2) and 1/(N₋+2) — which keep the
    fit finite when every gold task was right (or wrong)."""
    x = _logit(conf)
    positives = float(hit.sum())
    negatives = float(hit.size - positives)
    target = np.where(hit > 0.5, (positives + 1) / (positives + 2), 1 / (negatives + 2))

    def loss(params: FloatArray) -> tuple[float, FloatArray]:
        z = params[0] * x + params[1]
        # log(1 + e^z) − t·z, stable for large |z|
        value = float((np.logaddexp(0.0, z) - target * z).sum())
        g = 1.0 / (1.0 + np.exp(-z)) - target
        return value, np.array([float((g * x).sum()), float(g.sum())])

    # slope ≥ 0: a calibration map never ranks a less confident consensus above a more
    # confident one (on gold where confidence says nothing it becomes the flat accuracy)
    bounds = [(0.0, None), (None, None)]
    from scipy.optimize import minimize  # here, not at import (~50 MB per process)

    result = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B", bounds=bounds)
    return float(result.x[0]), float(result.x[1])


def _platt(conf: FloatArray, slope: float, intercept: float) -> FloatArray:
    return 1.0 / (1.0 + np.exp(-(slope * _logit(conf) + intercept)))


@dataclass(frozen=True)
class Calibration:
    """How far the consensus confidence can be trusted, as measured on gold tasks.

    ``status`` is ``"calibrated"`` when ``apply`` maps confidences to fitted
    probabilities, else ``"uncalibrated"`` (``reason`` says why; ``apply`` returns its
    input). ``ece_before`` is the raw confidence's ECE on gold, ``ece_after`` the
    calibrated one's out of fold; ``bins_before``/``bins_after`` the matching reliability
    bins.
    """

    status: Literal["calibrated", "uncalibrated"]
    reason: str
    n_gold: int
    accuracy: float
    mean_confidence: float
    ece_before: float
    ece_after: float | None = None
    slope: float = 1.0
    intercept: float = 0.0
    bins_before: list[ReliabilityBin] = field(default_factory=list)
    bins_after: list[ReliabilityBin] = field(default_factory=list)

    def apply(self, confidence: npt.ArrayLike) -> FloatArray:
        conf = np.asarray(confidence, dtype=np.float64)
        if self.status != "calibrated":
            return conf
        out = _platt(np.nan_to_num(conf, nan=0.5), self.slope, self.intercept)
        return np.where(np.isfinite(conf), out, np.nan)


def calibrate(
    confidence: npt.ArrayLike,
    correct: npt.ArrayLike,
    *,
    min_gold: int = MIN_GOLD,
    folds: int = FOLDS,
    seed: int = 0,
) -> Calibration:
    """Fit Platt scaling of consensus confidence on gold tasks.

    ``confidence`` and ``correct`` are one entry per gold task that has a consensus: its
    confidence and whether the consensus equals the gold answer. Fewer than ``min_gold``
    tasks leave it uncalibrated: two parameters fitted on a handful of tasks would replace
    one unfounded number with another.
    """
    conf, hit = _clean(confidence, correct)
    n = int(conf.size)
    accuracy = float(hit.mean()) if n else float("nan")
    mean_conf = float(conf.mean()) if n else float("nan")
    before = expected_calibration_error(conf, hit)
    bins_before = reliability_bins(conf, hit)
    if n < min_gold:
        return Calibration(
            "uncalibrated",
            f"{n} gold task{'s' if n != 1 else ''} with a consensus; calibration needs "
            f"at least {min_gold}",
            n,
            accuracy,
            mean_conf,
            before,
            bins_before=bins_before,
        )
    slope, intercept = _fit_platt(conf, hit)
    fold = np.random.default_rng(seed).permutation(n) % max(2, folds)
    out_of_fold = np.empty(n)
    for f in np.unique(fold):
        test = fold == f
        a, b = _fit_platt(conf[~test], hit[~test])
        out_of_fold[test] = _platt(conf[test], a, b)
    return Calibration(
        "calibrated",
        f"Platt scaling fitted on {n} gold tasks",
        n,
        accuracy,
        mean_conf,
        before,
        expected_calibration_error(out_of_fold, hit),
        slope,
        intercept,
        bins_before,
        reliability_bins(out_of_fold, hit),
    )
