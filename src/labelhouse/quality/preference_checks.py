"""Sanity checks for preference data: position bias, intransitivity, length bias.

Preference labels feed reward models, and their typical failures are invisible to
agreement statistics: annotators who favour whatever is shown first, who contradict
themselves across comparisons (A > B, B > C, C > A), or who reward longer answers
regardless of quality. Each check returns the effect size, a p-value and a plain verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy import stats

from labelhouse.quality.data import FloatArray, IntArray


@dataclass(frozen=True)
class BiasTest:
    """Outcome of a bias check: ``effect`` is the check's own effect measure (see each function)."""

    effect: float
    n: int
    p_value: float
    biased: bool
    verdict: str


def position_bias(first_chosen: npt.ArrayLike, *, alpha: float = 0.05) -> BiasTest:
    """Is the first-shown (left) response chosen more or less often than chance?

    ``first_chosen`` holds one boolean per judgment (ties excluded beforehand). Exact
    two-sided binomial test of the share against 1/2 (``scipy.stats.binomtest``); ``effect``
    is the share of first-shown wins. With randomised display order the share should be 1/2
    whatever the responses' quality.
    """
    chosen = np.asarray(first_chosen, dtype=bool).ravel()
    n = int(chosen.size)
    if n == 0:
        return BiasTest(float("nan"), 0, float("nan"), False, "no judgments")
    k = int(chosen.sum())
    p_value = float(stats.binomtest(k, n, 0.5).pvalue)
    share = k / n
    biased = p_value < alpha
    if biased:
        side = "first/left" if share > 0.5 else "second/right"
        verdict = (
            f"position bias: the {side} response is chosen {max(share, 1 - share):.1%} "
            f"of the time (p={p_value:.2g})"
        )
    else:
        verdict = f"no evidence of position bias (first chosen {share:.1%}, p={p_value:.2g})"
    return BiasTest(share, n, p_value, biased, verdict)


def position_bias_by_annotator(
    first_chosen: npt.ArrayLike,
    annotators: npt.ArrayLike,
    *,
    n_annotators: int | None = None,
    alpha: float = 0.05,
) -> list[BiasTest]:
    """:func:`position_bias` per annotator (one exact test each; no multiplicity correction)."""
    chosen = np.asarray(first_chosen, dtype=bool).ravel()
    who = np.asarray(annotators, dtype=np.int64).ravel()
    size = (
        int(n_annotators) if n_annotators is not None else (int(who.max()) + 1 if who.size else 0)
    )
    order = np.argsort(who, kind="stable")
    bounds = np.searchsorted(who[order], np.arange(size + 1))
    return [
        position_bias(chosen[order[bounds[a] : bounds[a + 1]]], alpha=alpha) for a in range(size)
    ]


@dataclass(frozen=True)
class Transitivity:
    """Per annotator: cyclic triads, triads judged (pairs of a triangle all compared), and
    contradicted pairs (the same pair judged both ways)."""

    cyclic_triads: IntArray
    triads: IntArray
    contradicted_pairs: IntArray

    @property
    def violation_rate(self) -> FloatArray:
        rate = np.full(self.triads.size, np.nan)
        np.divide(self.cyclic_triads, self.triads, out=rate, where=self.triads > 0)
        return rate


def transitivity_violations(
    winners: npt.ArrayLike,
    losers: npt.ArrayLike,
    annotators: npt.ArrayLike,
    *,
    n_annotators: int | None = None,
) -> Transitivity:
    """Count each annotator's cyclic triads (A > B > C > A) in their pairwise judgments.

    Each annotator's judgments form a directed graph (one edge per pair, by their majority
    over repeated judgments; pairs judged both ways equally are contradicted and dropped).
    Directed 3-cycles are ``Σ (D·D) ∘ Dᵀ / 3`` and judged triangles ``Σ (U·U) ∘ U / 6`` with
    ``D``/``U`` the directed/undirected adjacency — sparse products, no triple loop. For a
    complete tournament this equals Kendall & Babington Smith's count. Rankings can be
    checked by expanding each ranking into its pairs (a single ranking is never cyclic).
    """
    win = np.asarray(winners, dtype=np.int64).ravel()
    lose = np.asarray(losers, dtype=np.int64).ravel()
    who = np.asarray(annotators, dtype=np.int64).ravel()
    size = (
        int(n_annotators) if n_annotators is not None else (int(who.max()) + 1 if who.size else 0)
    )
    cyclic = np.zeros(size, dtype=np.int64)
    triads = np.zeros(size, dtype=np.int64)
    contradicted = np.zeros(size, dtype=np.int64)
    order = np.argsort(who, kind="stable")
    bounds = np.searchsorted(who[order], np.arange(size + 1))
    for a in range(size):
        rows = order[bounds[a] : bounds[a + 1]]
        if rows.size < 2:
            continue
        nodes, local = np.unique(np.concatenate([win[rows], lose[rows]]), return_inverse=True)
        m = nodes.size
        votes = sp.csr_matrix(
            (np.ones(rows.size), (local[: rows.size], local[rows.size :])), shape=(m, m)
        )
        net = (votes - votes.T).tocsr()
        directed = sp.csr_matrix((net > 0).astype(np.float64))
        undirected = directed + directed.T
        judged = (votes + votes.T).tocsr()
        judged.eliminate_zeros()
        contradicted[a] = (judged.nnz - undirected.nnz) // 2
        cyclic[a] = round((directed @ directed).multiply(directed.T).sum() / 3)
        triads[a] = round((undirected @ undirected).multiply(undirected).sum() / 6)
    return Transitivity(cyclic_triads=cyclic, triads=triads, contradicted_pairs=contradicted)


def length_bias(
    first_chosen: npt.ArrayLike,
    first_length: npt.ArrayLike,
    second_length: npt.ArrayLike,
    *,
    alpha: float = 0.05,
) -> BiasTest:
    """Do annotators prefer the longer response, whatever its quality?

    Logistic regression of "first chosen" on ``x = log2(len_first / len_second)`` with an
    intercept (which absorbs position bias), fitted by Newton's method; ``effect`` is the
    slope — the change in log-odds of choosing a response when it is twice as long as the
    other — and the p-value is its Wald test. Lengths in characters or tokens, > 0.
    Quality and length can be genuinely correlated, so a significant slope is a prompt to
    look, not proof of bias; compare with the slope on gold/expert judgments.
    """
    y = np.asarray(first_chosen, dtype=np.float64).ravel()
    la = np.asarray(first_length, dtype=np.float64).ravel()
    lb = np.asarray(second_length, dtype=np.float64).ravel()
    x = np.log2(np.maximum(la, 1.0) / np.maximum(lb, 1.0))
    n = int(y.size)
    if n < 3 or np.ptp(x) == 0:
        return BiasTest(
            float("nan"), n, float("nan"), False, "not enough variation in length to test"
        )
    design = np.column_stack([np.ones(n), x])
    beta = np.zeros(2)
    info = np.eye(2)
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(design @ beta)))
        grad = design.T @ (y - p)
        info = (design * (p * (1 - p))[:, None]).T @ design + 1e-9 * np.eye(2)
        step = np.linalg.solve(info, grad)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    se = float(np.sqrt(np.linalg.inv(info)[1, 1]))
    slope = float(beta[1])
    p_value = float(2.0 * stats.norm.sf(abs(slope) / se)) if se > 0 else float("nan")
    biased = bool(p_value < alpha)
    differ = x != 0
    longer_share = (
        float(np.mean((x[differ] > 0) == (y[differ] > 0.5))) if differ.any() else float("nan")
    )
    if biased:
        side = "longer" if slope > 0 else "shorter"
        verdict = (
            f"length bias: the {side} response is preferred (log-odds {slope:+.2f} per doubling, "
            f"p={p_value:.2g}; longer chosen {longer_share:.1%})"
        )
    else:
        verdict = (
            f"no evidence of length bias (log-odds {slope:+.2f} per doubling, p={p_value:.2g})"
        )
    return BiasTest(slope, n, p_value, biased, verdict)
