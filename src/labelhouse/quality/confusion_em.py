"""Dawid–Skene consensus: EM over one confusion matrix per annotator.

Majority vote trusts every annotator equally; Dawid & Skene (1979) instead learn, for each
annotator, how likely they answer ``l`` when the truth is ``c``, and weigh their votes
accordingly — so a careful minority can outvote careless spammers, an adversary who always
answers one class is discounted, and class priors absorb imbalance.

Both EM steps are sparse-matrix products over the label rows (no Python loop over labels):
with ``A`` the (worker·class) × item incidence matrix of the answers,

* M-step: ``counts = A @ T`` gives every worker's soft confusion counts from the item
  posteriors ``T``;
* E-step: ``log T ∝ log π + Aᵀ @ log E`` sums, per item, the log-probability of each of its
  answers under every candidate true class.

Plain EM crawls on hard crowds (many spammers, one-button clickers and adversaries: 70–200
iterations), so the fit is accelerated with SQUAREM (Varadhan & Roland 2008) on the small
parameter vector (log confusion matrices and log priors): two EM steps give a direction and
a curvature, one extrapolated jump replaces many small steps, and a jump that lowers the
objective is thrown away for the plain EM step (the monotonicity safeguard). The one-coin
prior's strength can be chosen from the data (:mod:`labelhouse.quality.coin_prior`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from labelhouse.quality.data import FloatArray, IntArray, Labels

DEFAULT_ONE_COIN_PRIOR = 0.0


@dataclass(frozen=True)
class DawidSkeneResult:
    """Posteriors, consensus and the fitted annotator model.

    ``confusion[w, c, l]`` = P(worker ``w`` answers ``l`` | true class ``c``).
    ``worker_accuracy[w]`` = Σ_c π_c · confusion[w, c, c], the chance that ``w`` answers a
    random item correctly under the estimated class priors (``nan`` for workers without
    labels). Items nobody labelled get label ``-1``, confidence ``nan`` and the prior as
    posterior.

    Convergence: ``n_iter`` counts passes over the labels (E-steps, the unit of cost, the
    same as plain EM's iterations), ``converged`` whether the objective's last EM step
    gained less than ``tol`` per label, ``final_change`` that last gain.
    ``identifiable`` is false when no item has two answers: then nothing tells a worker's
    errors from the truth, no EM runs and the consensus is the answers themselves.
    ``kept_single`` counts items with one answer whose answer was kept although the model
    preferred another class (see ``keep_single_answers``); ``one_coin_prior`` is the
    strength used (chosen from the data when asked for ``"auto"``).
    """

    labels: IntArray
    confidence: FloatArray
    proba: FloatArray
    confusion: FloatArray
    worker_accuracy: FloatArray
    priors: FloatArray
    n_iter: int
    converged: bool
    log_likelihood: float
    final_change: float = float("nan")
    identifiable: bool = True
    kept_single: int = 0
    one_coin_prior: float = 0.0


def _initial_posteriors(labels: Labels, counts: FloatArray) -> FloatArray:
    """Soft majority vote (vote shares); unlabelled items start uniform."""
    n = counts.sum(axis=1, keepdims=True)
    proba = np.full_like(counts, 1.0 / max(labels.n_classes, 1))
    np.divide(counts, n, out=proba, where=n > 0)
    return proba


# Reductions over the short class axis of an items × classes matrix are done column by
# column: numpy's axis=1 reductions are slow on narrow rows, and BLAS mat-vecs are
# multi-threaded, which costs far more than it saves on a machine busy with other work.


def _row_sums(x: FloatArray) -> FloatArray:
    total = x[:, 0].copy()
    for c in range(1, x.shape[1]):
        total += x[:, c]
    return total


def _column_sums(x: FloatArray, skip: IntArray) -> FloatArray:
    sums = x.sum(axis=0)
    return sums - x[skip].sum(axis=0) if skip.size else sums


def _total(x: FloatArray, skip: IntArray) -> float:
    return float(x.sum() - x[skip].sum()) if skip.size else float(x.sum())


def _row_max(x: FloatArray) -> FloatArray:
    if x.shape[1] == 0:
        return np.zeros(x.shape[0])
    top = x[:, 0].copy()
    for c in range(1, x.shape[1]):
        np.maximum(top, x[:, c], out=top)
    return top


def _clamp_gold(proba: FloatArray, gold: tuple[IntArray, IntArray] | None) -> None:
    if gold is None:
        return
    items, classes = gold
    proba[items] = 0.0
    proba[items, classes] = 1.0


def _pseudo_counts(soft: FloatArray, smoothing: float, one_coin_prior: float) -> FloatArray:
    """Dirichlet pseudo-counts per confusion cell ``[worker, true c, answered l]``."""
    w, k, _ = soft.shape
    # A floor keeps log(0) out of the E-step even with smoothing=0 (crowd-kit clips at 1e-10).
    pseudo = np.full((w, k, k), max(smoothing, 1e-10))
    if one_coin_prior > 0 and k > 1:
        correct = np.einsum("wcc->w", soft)
        accuracy = (correct + 1.0) / (soft.sum(axis=(1, 2)) + 2.0)
        wrong = (1.0 - accuracy) / (k - 1)
        pseudo += one_coin_prior * wrong[:, None, None]
        pseudo += one_coin_prior * (accuracy - wrong)[:, None, None] * np.eye(k)[None]
    return pseudo


def _log_normalise(x: FloatArray) -> FloatArray:
    """Log-probabilities from unnormalised logs along the last axis (kept above e⁻⁶⁰)."""
    top = x.max(axis=-1, keepdims=True)
    out = x - top
    out -= np.log(np.exp(out).sum(axis=-1, keepdims=True))
    return np.maximum(out, -60.0)


@dataclass
class _Params:
    """One point of the EM: log confusion ``[w, true c, answered l]``, log priors, and the
    pseudo-counts of the M-step that made it (they enter the objective)."""

    log_conf: FloatArray
    log_priors: FloatArray
    pseudo: FloatArray

    def vector(self) -> FloatArray:
        return np.concatenate([self.log_conf.ravel(), self.log_priors])


class _Fit:
    """The answers as sparse matrices, built once, and the two EM steps over them."""

    def __init__(
        self,
        labels: Labels,
        counts: FloatArray,
        gold: tuple[IntArray, IntArray] | None,
        smoothing: float,
        one_coin_prior: float,
    ) -> None:
        k, w, n_items = labels.n_classes, labels.n_workers, labels.n_items
        self.k, self.w = k, w
        self.answers = sp.csr_matrix(
            (np.ones(len(labels)), (labels.workers * k + labels.labels, labels.items)),
            shape=(w * k, n_items),
        )
        self.answers_t = self.answers.T.tocsr()
        self.gold = gold
        self.smoothing = smoothing
        self.one_coin_prior = one_coin_prior
        self.unlabelled = np.flatnonzero(counts.sum(axis=1) == 0)  # they must not inform priors
        self.n_rows = max(len(labels), 1)
        self.e_steps = 0

    def m_step(self, proba: FloatArray) -> _Params:
        k, w = self.k, self.w
        priors = _column_sums(proba, self.unlabelled) + max(self.smoothing, 1e-10)
        priors /= priors.sum()
        soft = (self.answers @ proba).reshape(w, k, k)  # [worker, answered l, true c]
        pseudo = _pseudo_counts(soft, self.smoothing, self.one_coin_prior)
        confusion = soft.transpose(0, 2, 1) + pseudo  # [worker, true c, answered l]
        confusion /= confusion.sum(axis=2, keepdims=True)
        return _Params(np.log(confusion), np.log(priors), pseudo)

    def e_step(self, theta: _Params) -> tuple[FloatArray, float, float]:
        """Posteriors, the objective per label and the data log-likelihood at ``theta``.

        EM with pseudo-counts maximises the log-posterior (log-likelihood + Dirichlet
        log-prior), which — unlike the bare log-likelihood — never decreases under a plain
        EM step. (With the one-coin prior, whose centre moves with the data, it is
        generalised EM.)"""
        self.e_steps += 1
        k, w = self.k, self.w
        table = theta.log_conf.transpose(0, 2, 1).reshape(w * k, k)
        log_post = self.answers_t @ table + theta.log_priors
        top = _row_max(log_post)
        joint = np.exp(log_post - top[:, None])
        norm = _row_sums(joint)
        proba = joint / norm[:, None]
        _clamp_gold(proba, self.gold)
        data_term = _total(np.log(norm) + top, self.unlabelled)
        prior_term = float((theta.pseudo * theta.log_conf).sum()) + self.smoothing * float(
            theta.log_priors.sum()
        )
        return proba, (data_term + prior_term) / self.n_rows, data_term

    def from_vector(self, x: FloatArray, pseudo: FloatArray) -> _Params:
        k, w = self.k, self.w
        log_conf = _log_normalise(x[: w * k * k].reshape(w, k, k))
        log_priors = _log_normalise(x[w * k * k :])
        return _Params(log_conf, log_priors, pseudo)


@dataclass
class _State:
    theta: _Params
    proba: FloatArray
    objective: float
    data_term: float


WARM_UP = 8


def _squarem(
    fit: _Fit,
    proba: FloatArray,
    max_iter: int,
    tol: float,
    accelerate: bool,
    warm_up: int = WARM_UP,
) -> tuple[_State, bool, float]:
    """EM (SQUAREM-accelerated unless ``accelerate`` is false) from the posteriors ``proba``.

    Returns the final state, whether it converged and the last plain EM step's gain per
    label. Each cycle: two EM steps θ₀ → θ₁ → θ₂ (the second one's gain is the convergence
    test, the same criterion as plain EM), then the jump θ′ = θ₀ − 2αr + α²v with
    r = θ₁ − θ₀, v = θ₂ − 2θ₁ + θ₀ and α = −‖r‖/‖v‖ (scheme SqS3), kept only when its
    objective is at least θ₂'s; the maximal step length grows after accepted full jumps
    and shrinks after rejected ones.
    """

    def em(state: _State) -> _State:
        theta = fit.m_step(state.proba)
        new_proba, objective, data_term = fit.e_step(theta)
        return _State(theta, new_proba, objective, data_term)

    theta = fit.m_step(proba)
    first, objective, data_term = fit.e_step(theta)
    state = _State(theta, first, objective, data_term)
    change = float("inf")
    step_max = 4.0
    while fit.e_steps < max_iter:
        one = em(state)
        change = one.objective - state.objective
        if abs(change) < tol:
            return one, True, change
        if not accelerate or fit.e_steps < warm_up or fit.e_steps + 2 > max_iter:
            state = one
            continue
        two = em(one)
        change = two.objective - one.objective
        if abs(change) < tol:
            return two, True, change
        x0, x1, x2 = state.theta.vector(), one.theta.vector(), two.theta.vector()
        r, v = x1 - x0, x2 - 2 * x1 + x0
        r_norm, v_norm = float(np.linalg.norm(r)), float(np.linalg.norm(v))
        if v_norm == 0.0 or not np.isfinite(r_norm / v_norm):
            state = two
            continue
        alpha = max(-step_max, min(-1.0, -r_norm / v_norm))
        jump = fit.from_vector(x0 - 2 * alpha * r + alpha * alpha * v, two.theta.pseudo)
        jumped_proba, objective, data_term = fit.e_step(jump)
        if np.isfinite(objective) and objective >= two.objective:
            state = _State(jump, jumped_proba, objective, data_term)
            if alpha == -step_max:
                step_max *= 4.0
        else:
            state = two
            step_max = max(1.0, step_max / 4.0)
    return state, False, change


def _lone_answers(labels: Labels, per_item: IntArray) -> tuple[IntArray, IntArray]:
    """Items with exactly one answer, and that answer."""
    single = per_item[labels.items] == 1
    return labels.items[single], labels.labels[single]


def _as_answers(labels: Labels, counts: FloatArray, per_item: IntArray) -> DawidSkeneResult:
    """The result when DS is not identifiable: every item keeps its answers' majority."""
    k, n_items = labels.n_classes, labels.n_items
    labelled = per_item > 0
    proba = _initial_posteriors(labels, counts)
    priors = counts.sum(axis=0) + 1e-10
    priors = priors / priors.sum() if k else priors
    winner = np.argmax(proba, axis=1).astype(np.int64) if k else np.zeros(n_items, np.int64)
    confidence = proba[np.arange(n_items), winner] if k else np.full(n_items, np.nan)
    winner[~labelled] = -1
    confidence[~labelled] = np.nan
    proba[~labelled] = priors
    return DawidSkeneResult(
        labels=winner,
        confidence=confidence,
        proba=proba,
        confusion=np.full((labels.n_workers, k, k), np.nan),
        worker_accuracy=np.full(labels.n_workers, np.nan),
        priors=priors,
        n_iter=0,
        converged=True,
        log_likelihood=float("nan"),
        final_change=0.0,
        identifiable=False,
    )


def dawid_skene(
    labels: Labels,
    *,
    max_iter: int = 200,
    tol: float = 1e-8,
    smoothing: float = 0.01,
    one_coin_prior: float | Literal["auto"] = DEFAULT_ONE_COIN_PRIOR,
    gold_items: npt.ArrayLike | None = None,
    gold_classes: npt.ArrayLike | None = None,
    keep_single_answers: bool = True,
    accelerate: bool = True,
) -> DawidSkeneResult:
    """Fit Dawid–Skene by EM and return posteriors, confusion matrices and priors.

    * Initialised from the soft majority vote (vote shares), the standard start that keeps
      EM in the basin where "most annotators are better than chance".
    * ``smoothing`` is a Laplace (Dirichlet) pseudo-count added to every confusion cell and
      class prior before normalising: it keeps probabilities off 0 — one unusual answer
      from a worker with few labels would otherwise veto a class for good — and lets a class
      nobody chose keep a tiny prior. The default is small on purpose: on real crowds whose
      annotators are asymmetric (e.g. product matching, where many rarely answer "match"
      but are right when they do) larger pseudo-counts flatten exactly the rare, precise
      answers that carry the signal (0.5 or 1.0 cost ~0.2 points there).
    * ``one_coin_prior`` adds that many pseudo-labels to each confusion row, spread as the
      worker's overall accuracy (diagonal) and uniform errors — it shrinks each confusion
      matrix towards the worker's one-coin model. Without it plain DS can turn a rare class
      into a "garbage" cluster of spammers' answers when annotators have few labels (2 was
      best on synthetic crowds). It stays off by default because on a real crowd with
      asymmetric annotators (product matching) every strength > 0 cost accuracy (2: −0.3
      points), see docs/benchmarks-history.md. ``"auto"`` picks the strength from a small grid by
      the held-out likelihood of answers
      (:func:`labelhouse.quality.coin_prior.choose_one_coin_prior`), at a few fits' cost.
    * Stops when the log-posterior per label (log-likelihood plus the pseudo-counts'
      Dirichlet log-prior) changes by less than ``tol`` in one EM step, or after
      ``max_iter`` passes over the labels (``converged`` says which). The default ``tol``
      is tight on purpose: on slow-mixing crowds stopping at crowd-kit's 1e-5 leaves items
      mid-flip. ``accelerate=False`` runs plain EM (for comparison).
    * Optional gold answers clamp those items' posteriors during EM (semi-supervised DS),
      which anchors the confusion matrices of the workers who answered them.
    * ``keep_single_answers``: an item with one answer keeps it — the model has no second
      opinion on that item, only its guess about the worker, and overturning a lone answer
      on that basis lost to keeping it on overlap-1 crowds. Its ``proba``/``confidence``
      still say how much the model believes the kept answer. Without any item answered
      twice DS is not identifiable: no EM runs, the answers are the consensus and
      ``identifiable`` is false.
    """
    n_items = labels.n_items
    gold = None
    if gold_items is not None and gold_classes is not None:
        gold = (np.asarray(gold_items, dtype=np.int64), np.asarray(gold_classes, dtype=np.int64))
    counts = labels.item_class_counts().astype(np.float64)
    per_item = labels.labels_per_item()
    labelled = per_item > 0
    if not (per_item > 1).any() and gold is None:
        return _as_answers(labels, counts, per_item)
    if one_coin_prior == "auto":
        from labelhouse.quality.coin_prior import choose_one_coin_prior

        strength = choose_one_coin_prior(labels, smoothing=smoothing)
    else:
        strength = float(one_coin_prior)

    fit = _Fit(labels, counts, gold, smoothing, strength)
    proba = _initial_posteriors(labels, counts)
    _clamp_gold(proba, gold)
    state, converged, change = _squarem(fit, proba, max(max_iter, 1), tol, accelerate)
    proba = state.proba
    confusion = np.exp(state.theta.log_conf)
    priors = np.exp(state.theta.log_priors)

    winner = np.argmax(proba, axis=1).astype(np.int64)
    kept = 0
    if keep_single_answers:
        items, answered = _lone_answers(labels, per_item)
        if gold is not None:  # gold items keep the gold class
            free = ~np.isin(items, gold[0])
            items, answered = items[free], answered[free]
        kept = int((winner[items] != answered).sum())
        winner[items] = answered
    confidence = proba[np.arange(n_items), winner]
    winner[~labelled] = -1
    confidence[~labelled] = np.nan
    proba[~labelled] = priors
    has_labels = labels.labels_per_worker() > 0
    accuracy = np.einsum("c,wcc->w", priors, confusion)
    accuracy[~has_labels] = np.nan
    return DawidSkeneResult(
        labels=winner,
        confidence=confidence,
        proba=proba,
        confusion=confusion,
        worker_accuracy=accuracy,
        priors=priors,
        n_iter=fit.e_steps,
        converged=converged,
        log_likelihood=state.data_term,
        final_change=float(change),
        identifiable=True,
        kept_single=kept,
        one_coin_prior=strength,
    )
