"""Sanity checks for preference data: position bias, intransitivity, length bias.

Pairwise judgments and rankings each have their own position and length tests (a ranking
of k responses holds more than one bit, and its pairs are not independent judgments).

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

from labelhouse.quality.data import FloatArray, IntArray


@dataclass(frozen=True)
class BiasTest:
    """Outcome of a bias check: ``effect`` is the check's own effect measure (see each
    function) and ``expected`` its value without bias, where that is a fixed number."""

    effect: float
    n: int
    p_value: float
    biased: bool
    verdict: str
    expected: float = float("nan")


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
    from scipy import stats  # here, not at import: scipy.stats costs ~70 MB per process

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
    return BiasTest(share, n, p_value, biased, verdict, 0.5)


def position_bias_by_annotator(
    first_chosen: npt.ArrayLike,
    annotators: npt.ArrayLike,
    *,
    n_annotators: int | None = None,
    alpha: float = 0.05,
) -> list[BiasTest]:
    """:func:`position_bias` per annotator (one exact test each; no multiplicity correction)."""
    chosen = np.asarray(first_chosen, dtype=bool).ravel()
    return [
        position_bias(chosen[rows], alpha=alpha)
        for rows in _rows_by_annotator(annotators, n_annotators)
    ]


def _rows_by_annotator(annotators: npt.ArrayLike, n_annotators: int | None) -> list[npt.NDArray]:
    """The row indices of each annotator code ``0 … n_annotators - 1`` (default: the largest
    code + 1), in row order."""
    who = np.asarray(annotators, dtype=np.int64).ravel()
    size = (
        int(n_annotators) if n_annotators is not None else (int(who.max()) + 1 if who.size else 0)
    )
    order = np.argsort(who, kind="stable")
    bounds = np.searchsorted(who[order], np.arange(size + 1))
    return [order[bounds[a] : bounds[a + 1]] for a in range(size)]


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
    other — and the p-value is its likelihood-ratio test against the intercept-only model
    (not the Wald test, which reports p ≈ 1 exactly when the data are most one-sided:
    under separation the slope and its standard error both run off to infinity).
    Lengths in characters or tokens, > 0.
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
    for _ in range(50):
        p = 0.5 * (1.0 + np.tanh(0.5 * (design @ beta)))  # logistic, without overflow
        grad = design.T @ (y - p)
        info = (design * (p * (1 - p))[:, None]).T @ design + 1e-9 * np.eye(2)
        step = np.linalg.solve(info, grad)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    slope = float(beta[1])
    eta = design @ beta
    fitted = -float(np.where(y > 0.5, np.logaddexp(0.0, -eta), np.logaddexp(0.0, eta)).sum())
    share = float(np.clip(y.mean(), 1e-12, 1 - 1e-12))
    null = float((y * np.log(share) + (1.0 - y) * np.log1p(-share)).sum())
    from scipy import stats  # here, not at import: scipy.stats costs ~70 MB per process

    p_value = float(stats.chi2.sf(max(2.0 * (fitted - null), 0.0), df=1))
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
    return BiasTest(slope, n, p_value, biased, verdict, 0.0)


# --------------------------------------------------------------------------- rankings
def rank_position_bias(
    first_top: npt.ArrayLike, chance: npt.ArrayLike, *, alpha: float = 0.05
) -> BiasTest:
    """Is the response listed first ranked best more often than chance?

    One entry per ranking: ``first_top`` whether the response shown first got the top rank,
    ``chance`` the probability of that without position bias — ``1/k`` for ``k`` responses
    (``m/k`` when ``m`` responses share the top rank; rankings where all tie carry no
    information and should be left out). With randomised display order the count of
    first-shown winners is then Poisson-binomial; the test is the exact binomial test when
    every ranking has the same chance, else the normal approximation with a continuity
    correction (z-test of observed − expected over √Σ p(1 − p)). ``effect`` is the observed
    share, ``expected`` the mean chance.
    """
    top = np.asarray(first_top, dtype=bool).ravel()
    p = np.asarray(chance, dtype=np.float64).ravel()
    if top.shape != p.shape:
        raise ValueError(f"one chance per ranking: {top.size} outcomes, {p.size} chances")
    n = int(top.size)
    if n == 0:
        return BiasTest(float("nan"), 0, float("nan"), False, "no rankings")
    hits = int(top.sum())
    share, expected = hits / n, float(p.mean())
    from scipy import stats  # here, not at import: scipy.stats costs ~70 MB per process

    if np.ptp(p) < 1e-12:
        p_value = float(stats.binomtest(hits, n, float(p[0])).pvalue)
    else:
        sd = float(np.sqrt((p * (1.0 - p)).sum()))
        gap = max(abs(hits - float(p.sum())) - 0.5, 0.0)
        p_value = float(2.0 * stats.norm.sf(gap / sd)) if sd > 0 else float("nan")
    biased = bool(p_value < alpha)
    if biased:
        side = "more" if share > expected else "less"
        verdict = (
            f"position bias: the response listed first is ranked best {share:.1%} of the "
            f"time, {side} than the {expected:.1%} expected by chance (p={p_value:.2g})"
        )
    else:
        verdict = (
            f"no evidence of position bias (first listed ranked best {share:.1%}, chance "
            f"{expected:.1%}, p={p_value:.2g})"
        )
    return BiasTest(share, n, p_value, biased, verdict, expected)


def rank_position_bias_by_annotator(
    first_top: npt.ArrayLike,
    chance: npt.ArrayLike,
    annotators: npt.ArrayLike,
    *,
    n_annotators: int | None = None,
    alpha: float = 0.05,
) -> list[BiasTest]:
    """:func:`rank_position_bias` per annotator (no multiplicity correction)."""
    top = np.asarray(first_top, dtype=bool).ravel()
    p = np.asarray(chance, dtype=np.float64).ravel()
    return [
        rank_position_bias(top[rows], p[rows], alpha=alpha)
        for rows in _rows_by_annotator(annotators, n_annotators)
    ]


def _tie_sums(values: FloatArray, valid: npt.NDArray[np.bool_]) -> tuple[FloatArray, ...]:
    """Per row: Σ t(t−1)(2t+5), Σ t(t−1)(t−2) and Σ t(t−1) over its groups of tied values.

    Summing ``f(c)`` over elements, with ``c`` the size of the element's own tie group,
    gives Σ_groups t·f(t); with ``f(c) = (c−1)(2c+5)`` etc. that is the wanted sum.
    """
    same = (values[:, :, None] == values[:, None, :]) & valid[:, :, None] & valid[:, None, :]
    c = same.sum(axis=2).astype(np.float64)  # 0 for padding
    c1 = np.where(valid, c - 1.0, 0.0)
    return (
        (c1 * (2.0 * c + 5.0)).sum(axis=1),
        (c1 * (c - 2.0)).sum(axis=1),
        c1.sum(axis=1),
    )


def rank_length_bias(
    ranks: npt.ArrayLike, lengths: npt.ArrayLike, *, alpha: float = 0.05
) -> BiasTest:
    """Do longer responses get better ranks, whatever their quality?

    ``ranks`` and ``lengths`` are rankings × responses (1 = best; pad shorter rankings with
    ``nan``). Per ranking, Kendall's S between "ranked better" and "longer" — the
    concordant minus discordant response pairs — is summed over rankings: under "no length
    effect" each ranking is a random order of its responses, so S has mean 0 and Kendall's
    tie-corrected variance, and the sum of independent rankings gives a z-test (a
    stratified Kendall test; for one ranking it is ``scipy.stats.kendalltau``'s asymptotic
    test). ``effect`` is the mean Kendall τ-b over rankings: +1 when the longest response
    always ranks best, 0 without a relation. Rankings all of one length carry no
    information. As with :func:`length_bias`, quality and length may be genuinely related;
    compare with the same statistic on gold or expert rankings.
    """
    r = np.asarray(ranks, dtype=np.float64)
    length = np.asarray(lengths, dtype=np.float64)
    if r.ndim != 2 or r.shape != length.shape:
        raise ValueError(
            f"ranks and lengths must be matching rankings × responses arrays, got "
            f"{r.shape} and {length.shape}"
        )
    valid = np.isfinite(r) & np.isfinite(length)
    n = valid.sum(axis=1).astype(np.float64)
    pair = valid[:, :, None] & valid[:, None, :]
    upper = np.triu(np.ones((r.shape[1], r.shape[1]), dtype=bool), k=1)
    better = np.sign(r[:, None, :] - r[:, :, None])  # +1: response a ranked above b
    longer = np.sign(length[:, :, None] - length[:, None, :])  # +1: a longer than b
    s = np.where(pair & upper, better * longer, 0.0).sum(axis=(1, 2))
    t1, t2, t3 = _tie_sums(r, valid)
    u1, u2, u3 = _tie_sums(length, valid)
    m = n * (n - 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = (
            (m * (2.0 * n + 5.0) - t1 - u1) / 18.0
            + np.where(n > 2, t2 * u2 / (9.0 * m * (n - 2.0)), 0.0)
            + np.where(m > 0, t3 * u3 / (2.0 * m), 0.0)
        )
        pairs = m / 2.0
        denominator = np.sqrt((pairs - t3 / 2.0) * (pairs - u3 / 2.0))
        tau = np.where(denominator > 0, s / denominator, np.nan)
    informative = np.isfinite(tau)
    count = int(informative.sum())
    total_var = float(np.where(n >= 2, var, 0.0).sum())
    if count == 0 or total_var <= 0:
        return BiasTest(
            float("nan"), count, float("nan"), False, "not enough variation in length to test"
        )
    effect = float(tau[informative].mean())
    z = float(s.sum()) / np.sqrt(total_var)
    from scipy import stats  # here, not at import: scipy.stats costs ~70 MB per process

    p_value = float(2.0 * stats.norm.sf(abs(z)))
    biased = bool(p_value < alpha)
    if biased:
        side = "longer" if effect > 0 else "shorter"
        verdict = (
            f"length bias: {side} responses are ranked higher (mean Kendall τ between rank "
            f"and length {effect:+.2f}, p={p_value:.2g})"
        )
    else:
        verdict = f"no evidence of length bias (mean Kendall τ {effect:+.2f}, p={p_value:.2g})"
    return BiasTest(effect, count, p_value, biased, verdict, 0.0)
