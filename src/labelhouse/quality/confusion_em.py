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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from labelhouse.quality.data import FloatArray, IntArray, Labels


@dataclass(frozen=True)
class DawidSkeneResult:
    """Posteriors, consensus and the fitted annotator model.

    ``confusion[w, c, l]`` = P(worker ``w`` answers ``l`` | true class ``c``).
    ``worker_accuracy[w]`` = Σ_c π_c · confusion[w, c, c], the chance that ``w`` answers a
    random item correctly under the estimated class priors (``nan`` for workers without
    labels). Items nobody labelled get label ``-1``, confidence ``nan`` and the prior as
    posterior.
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


def dawid_skene(
    labels: Labels,
    *,
    max_iter: int = 200,
    tol: float = 1e-8,
    smoothing: float = 0.01,
    one_coin_prior: float = 0.0,
    gold_items: npt.ArrayLike | None = None,
    gold_classes: npt.ArrayLike | None = None,
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
    * ``one_coin_prior`` (off by default) adds that many pseudo-labels to each confusion
      row, spread as the worker's overall accuracy (diagonal) and uniform errors — i.e. it
      shrinks each confusion matrix towards the worker's one-coin model. Turn it on (2–4)
      when most annotators have few labels and some classes are rare: there plain DS can
      turn a rare class into a "garbage" cluster of spammers' answers, and this prior
      prevents it (several points of accuracy on such synthetic crowds).
    * Stops when the log-posterior per label (log-likelihood plus the pseudo-counts'
      Dirichlet log-prior — the quantity EM with smoothing increases monotonically)
      improves by less than ``tol``, or after ``max_iter`` iterations (``converged`` says
      which). The default ``tol`` is tight on purpose: on slow-mixing crowds (many workers
      with few labels) stopping at crowd-kit's 1e-5 leaves items mid-flip.
    * Optional gold answers clamp those items' posteriors during EM (semi-supervised DS),
      which anchors the confusion matrices of the workers who answered them.
    """
    k, w, n_items = labels.n_classes, labels.n_workers, labels.n_items
    if k == 0:  # no label given at all: nothing to fit, every item without consensus
        return DawidSkeneResult(
            np.full(n_items, -1, dtype=np.int64), np.full(n_items, np.nan),
            np.zeros((n_items, 0)), np.zeros((w, 0, 0)), np.full(w, np.nan), np.zeros(0),
            n_iter=0, converged=True, log_likelihood=0.0,
        )  # fmt: skip
    gold = None
    if gold_items is not None and gold_classes is not None:
        gold = (np.asarray(gold_items, dtype=np.int64), np.asarray(gold_classes, dtype=np.int64))
    counts = labels.item_class_counts().astype(np.float64)
    labelled = counts.sum(axis=1) > 0
    answers = sp.csr_matrix(
        (np.ones(len(labels)), (labels.workers * k + labels.labels, labels.items)),
        shape=(w * k, n_items),
    )
    answers_t = answers.T.tocsr()

    proba = _initial_posteriors(labels, counts)
    _clamp_gold(proba, gold)
    unlabelled = np.flatnonzero(~labelled)  # they must not inform the priors
    n_rows = max(len(labels), 1)
    previous = -np.inf
    data_term = 0.0
    converged = False
    iteration = 0
    confusion = np.full((w, k, k), 1.0 / max(k, 1))
    priors = np.full(k, 1.0 / max(k, 1))
    for iteration in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        # M-step: priors and confusion matrices from the current posteriors.
        priors = _column_sums(proba, unlabelled) + max(smoothing, 1e-10)
        priors /= priors.sum()
        soft = (answers @ proba).reshape(w, k, k)  # [worker, answered l, true c]
        pseudo = _pseudo_counts(soft, smoothing, one_coin_prior)
        confusion = soft.transpose(0, 2, 1) + pseudo  # [worker, true c, answered l]
        confusion /= confusion.sum(axis=2, keepdims=True)
        # E-step: posteriors from priors and the log confusion of every answer.
        log_conf = np.log(confusion)
        log_post = answers_t @ log_conf.transpose(0, 2, 1).reshape(w * k, k) + np.log(priors)
        top = _row_max(log_post)
        joint = np.exp(log_post - top[:, None])
        norm = _row_sums(joint)
        proba = joint / norm[:, None]
        _clamp_gold(proba, gold)
        # EM with pseudo-counts maximises the log-posterior (log-likelihood + Dirichlet
        # log-prior), which — unlike the bare log-likelihood — never decreases: test that.
        # (With the one-coin prior, whose centre moves with the data, it is generalised EM.)
        data_term = float(_total(np.log(norm) + top, unlabelled))
        prior_term = float((pseudo * log_conf).sum()) + smoothing * float(np.log(priors).sum())
        objective = (data_term + prior_term) / n_rows
        if objective - previous < tol:
            converged = True
            break
        previous = objective
    log_lik = data_term

    winner = np.argmax(proba, axis=1).astype(np.int64)
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
        n_iter=iteration,
        converged=converged,
        log_likelihood=log_lik,
    )
