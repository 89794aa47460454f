"""Bradley–Terry scores for pairwise preference data, with confidence intervals.

Pairwise judgments ("response A is better than B") become one strength per compared item
(response, model, prompt variant): P(i beats j) = σ(s_i − s_j). Scores are fitted by
Newton's method on the penalised log-likelihood — the Hessian is a weighted graph Laplacian
of the comparison graph, so each step is one small linear solve and 5–10 steps reach
machine precision, where the classical MM/Zermelo iteration needs hundreds on spread-out
scores. Comparisons are first collapsed to unique pairs, so cost grows with the number of
distinct pairs, not of judgments.

A weak Gaussian prior N(0, 1/alpha) on every score keeps the fit finite when an item won
(or lost) every comparison and fixes the gauge: the reported scores have mean 0, i.e. they
are log-odds relative to the average item.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import scipy.sparse.linalg

from labelhouse.quality.data import FloatArray, IntArray

_DENSE_LIMIT = 2000  # items up to which the information matrix is inverted exactly for CIs


@dataclass(frozen=True)
class BradleyTerryResult:
    """Centered log-strengths with standard errors and a confidence interval.

    ``ci_method`` is ``"fisher"`` (exact inverse of the observed Fisher information, projected
    onto the mean-zero gauge) for up to 2000 items, else ``"fisher-diagonal"``: the
    variance is approximated by 1 / diagonal of the information, which is a lower bound, so
    those intervals are somewhat too narrow.
    """

    scores: FloatArray
    std_err: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    wins: FloatArray
    n_comparisons: FloatArray
    n_iter: int
    converged: bool
    ci_method: str

    def win_probability(self, i: int, j: int) -> float:
        """Estimated probability that item ``i`` is preferred to item ``j``."""
        return float(1.0 / (1.0 + np.exp(self.scores[j] - self.scores[i])))


def _collapse(
    winners: IntArray, losers: IntArray, tie_a: IntArray, tie_b: IntArray, n: int
) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """Unique unordered pairs (lo < hi) with comparison counts and the wins of ``lo``."""
    a = np.concatenate([winners, tie_a])
    b = np.concatenate([losers, tie_b])
    score_a = np.concatenate([np.ones(winners.size), np.full(tie_a.size, 0.5)])
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    wins_lo = np.where(a == lo, score_a, 1.0 - score_a)
    keep = lo != hi
    lo, hi, wins_lo = lo[keep], hi[keep], wins_lo[keep]
    key = lo * n + hi
    if n * n <= 50_000_000:
        count = np.bincount(key, minlength=n * n)
        won = np.bincount(key, weights=wins_lo, minlength=n * n)
        pairs = np.nonzero(count)[0]
        return pairs // n, pairs % n, count[pairs].astype(np.float64), won[pairs]
    pairs, inverse = np.unique(key, return_inverse=True)
    count = np.bincount(inverse).astype(np.float64)
    won = np.bincount(inverse, weights=wins_lo)
    return pairs // n, pairs % n, count, won


class _Hessian:
    """The negative Hessian ``L(w) + alpha·I`` on a fixed sparsity pattern.

    ``L(w)`` is the Laplacian of the comparison graph weighted by ``count·p·(1 − p)``. Its
    pattern never changes between Newton steps, so the CSR structure is built once and each
    step only rewrites the values — building a sparse matrix from scratch (a sort of every
    pair) would cost more than the solve.
    """

    def __init__(self, lo: IntArray, hi: IntArray, n: int, alpha: float) -> None:
        self.lo, self.hi, self.n, self.alpha = lo, hi, n, alpha
        rows = np.concatenate([lo, hi, np.arange(n)])
        cols = np.concatenate([hi, lo, np.arange(n)])
        slots = np.arange(rows.size, dtype=np.float64) + 1.0  # +1: keep slot 0 from vanishing
        self.matrix = sp.csr_matrix((slots, (rows, cols)), shape=(n, n))
        self.order = self.matrix.data.astype(np.int64) - 1

    def update(self, weight: FloatArray) -> sp.csr_matrix:
        n = self.n
        diag = (
            np.bincount(self.lo, weights=weight, minlength=n)
            + np.bincount(self.hi, weights=weight, minlength=n)
            + self.alpha
        )
        self.matrix.data = np.concatenate([-weight, -weight, diag])[self.order]
        return self.matrix

    def solve(self, rhs: FloatArray) -> FloatArray:
        """Conjugate gradients with a Jacobi preconditioner.

        The right-hand side is orthogonal to the all-ones null direction (the gradient sums
        to −alpha·Σs = 0), so CG stays in the well-posed subspace even with ``alpha = 0``;
        sparse mat-vecs keep it single-threaded and predictable on a busy machine, unlike a
        dense factorisation.
        """
        diag = self.matrix.diagonal()
        precond = sp.diags(1.0 / np.where(diag > 0, diag, 1.0))
        step, _ = scipy.sparse.linalg.cg(
            self.matrix, rhs, M=precond, rtol=1e-10, atol=0.0, maxiter=max(10 * self.n, 100)
        )
        return np.asarray(step)

    def centred_variance(self) -> tuple[FloatArray, str]:
        """Diagonal of the covariance of the mean-centred scores (inverse information)."""
        n = self.n
        if n <= _DENSE_LIMIT:
            # H + 11ᵀ/n equals H off the all-ones direction and has eigenvalue alpha + 1 on
            # it; inverting it and removing that direction gives the covariance of the
            # mean-centred scores (the gauge they are reported in), stably even for alpha=0.
            try:
                diagonal = _inverse_diagonal(self.matrix.toarray().T + 1.0 / n)
            except np.linalg.LinAlgError:  # alpha=0 on a disconnected comparison graph
                gauged = self.matrix.toarray() + 1.0 / n
                diagonal = np.diag(np.linalg.pinv(gauged, hermitian=True))
            return diagonal - 1.0 / (n * (1.0 + self.alpha)), "fisher"
        return 1.0 / self.matrix.diagonal(), "fisher-diagonal"


def _inverse_diagonal(matrix: FloatArray) -> FloatArray:
    """``diag(A⁻¹)`` of a symmetric positive definite ``A`` without forming ``A⁻¹``.

    With the Cholesky factor ``A = LLᵀ``, ``A⁻¹ = L⁻ᵀL⁻¹`` and so ``(A⁻¹)_jj`` is the
    squared norm of column ``j`` of ``L⁻¹``: a factorisation and a triangular inverse,
    n³/3 flops each, instead of the general inverse's LU plus inversion (2n³) — the
    intervals only ever need the variances. Overwrites ``matrix`` (pass it in Fortran
    order, e.g. the transpose of a symmetric C array, to skip a copy).
    """
    from scipy.linalg import lapack  # here, not at import: scipy.linalg costs ~30 MB per process

    factor, info = lapack.dpotrf(matrix, lower=1, clean=1, overwrite_a=1)
    if info == 0:
        factor, info = lapack.dtrtri(factor, lower=1, overwrite_c=1)
    if info != 0:
        raise np.linalg.LinAlgError("the information matrix is not positive definite")
    return np.einsum("ij,ij->j", factor, factor)


def bradley_terry(
    winners: npt.ArrayLike,
    losers: npt.ArrayLike,
    *,
    n_items: int | None = None,
    ties: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
    alpha: float = 0.01,
    max_iter: int = 100,
    tol: float = 1e-9,
    level: float = 0.95,
) -> BradleyTerryResult:
    """Fit Bradley–Terry log-strengths to ``winners[r]`` beating ``losers[r]``.

    ``ties`` are pairs judged equal, each counted as half a win for both sides. Intervals
    are Wald intervals ``s ± z·se`` at ``level`` from the observed Fisher information
    (the Hessian at the optimum) — cheap and accurate once items have tens of comparisons;
    for a handful of comparisons prefer a bootstrap over judgments.
    """
    win = np.asarray(winners, dtype=np.int64).ravel()
    lose = np.asarray(losers, dtype=np.int64).ravel()
    tie_a, tie_b = (
        (np.asarray(ties[0], dtype=np.int64).ravel(), np.asarray(ties[1], dtype=np.int64).ravel())
        if ties is not None
        else (np.empty(0, np.int64), np.empty(0, np.int64))
    )
    everything = np.concatenate([win, lose, tie_a, tie_b])
    n = (
        int(n_items)
        if n_items is not None
        else (int(everything.max()) + 1 if everything.size else 0)
    )
    if n == 0:  # no item compared: empty scores, like the agreement statistics on no labels
        nothing = np.zeros(0)
        return BradleyTerryResult(*(nothing,) * 6, n_iter=0, converged=True, ci_method="fisher")
    lo, hi, count, won_lo = _collapse(win, lose, tie_a, tie_b, n)
    wins = np.bincount(lo, weights=won_lo, minlength=n) + np.bincount(
        hi, weights=count - won_lo, minlength=n
    )
    n_comp = np.bincount(lo, weights=count, minlength=n) + np.bincount(
        hi, weights=count, minlength=n
    )

    def evaluate(s: FloatArray) -> tuple[float, FloatArray]:
        """Penalised log-likelihood and P(lo beats hi) per pair, sharing one exp."""
        d = s[lo] - s[hi]
        with np.errstate(over="ignore"):
            e = np.exp(-d)
            log_lik = -((count - won_lo) * d + count * np.log1p(e)).sum()
        value = float(log_lik - 0.5 * alpha * (s @ s))
        return value, 1.0 / (1.0 + e)

    hessian = _Hessian(lo, hi, n, alpha)
    # Start from each item's smoothed log win/loss ratio: already the right order and
    # roughly the right scale, which saves Newton steps over starting at 0.
    scores = np.log((wins + 1.0) / (n_comp - wins + 1.0))
    scores -= scores.mean()
    current, p = evaluate(scores)
    converged = False
    iteration = 0
    for iteration in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        expected = np.bincount(lo, weights=count * p, minlength=n) + np.bincount(
            hi, weights=count * (1.0 - p), minlength=n
        )
        grad = wins - expected - alpha * scores
        hessian.update(count * p * (1.0 - p))
        step = hessian.solve(grad - grad.mean())
        step -= step.mean()  # stay in the mean-zero gauge (optimal for alpha > 0, free for 0)
        rate = 1.0
        while True:  # damped Newton: the objective is concave, halve the step on overshoot
            candidate = scores + rate * step
            value, p_candidate = evaluate(candidate)
            if value >= current - 1e-12 * abs(current) or rate < 1e-4:
                break
            rate /= 2.0
        scores, current, p = candidate, value, p_candidate
        if np.max(np.abs(rate * step), initial=0.0) < tol:
            converged = True
            break

    hessian.update(count * p * (1.0 - p))
    variance, method = hessian.centred_variance()
    std_err = np.sqrt(np.clip(variance, 0.0, None))
    from scipy import stats  # here, not at import: scipy.stats costs ~70 MB per process

    z = float(stats.norm.ppf(0.5 + level / 2.0))
    return BradleyTerryResult(
        scores=scores,
        std_err=std_err,
        ci_low=scores - z * std_err,
        ci_high=scores + z * std_err,
        wins=wins,
        n_comparisons=n_comp,
        n_iter=iteration,
        converged=converged,
        ci_method=method,
    )


def annotator_reliability(
    scores: npt.ArrayLike,
    winners: npt.ArrayLike,
    losers: npt.ArrayLike,
    annotators: npt.ArrayLike,
    *,
    n_annotators: int | None = None,
) -> tuple[FloatArray, IntArray]:
    """Per annotator: share of their judgments that agree with the Bradley–Terry order.

    Returns ``(agreement, n_judgments)``. A careful annotator scores well above 0.5 (how far
    depends on how close the compared items are); a random clicker sits at 0.5; below 0.5
    suggests swapped sides or adversarial answers. Pairs with equal scores count as half.
    """
    s = np.asarray(scores, dtype=np.float64)
    win = np.asarray(winners, dtype=np.int64)
    lose = np.asarray(losers, dtype=np.int64)
    who = np.asarray(annotators, dtype=np.int64)
    size = (
        int(n_annotators) if n_annotators is not None else (int(who.max()) + 1 if who.size else 0)
    )
    diff = s[win] - s[lose]
    agree = np.where(diff > 0, 1.0, np.where(diff == 0, 0.5, 0.0))
    n = np.bincount(who, minlength=size)
    share = np.full(size, np.nan)
    np.divide(np.bincount(who, weights=agree, minlength=size), n, out=share, where=n > 0)
    return share, n.astype(np.int64)
