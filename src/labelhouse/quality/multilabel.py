"""Consensus for multi-choice (multi-label) fields: each option is a present/absent question.

A multi-choice answer ("which of these apply?") is a set, and a set is rarely repeated
exactly by several annotators, so neither a vote over whole sets nor Dawid–Skene over sets
(2^O classes) works. The standard decomposition ("binary relevance") asks, for every item
and option, one yes/no question — *is this option present?* — and aggregates those.

The decomposition is done once, as index arithmetic, into an ordinary :class:`Labels` of
``n_items · n_options`` binary questions: question ``i·O + o`` is option ``o`` of item ``i``.
The existing vectorised models then run over all options at once:

* :func:`multilabel_dawid_skene` — Dawid–Skene with one 2 × 2 confusion matrix per
  annotator *and option* (an annotator may reliably spot "toxic" but over-report
  "sarcasm"), or one per annotator pooled over options (``per_option=False``, for few labels
  per annotator);
* :func:`multilabel_gold_weighted` — a vote weighted by each annotator's accuracy on the
  yes/no decisions of gold items;
* :func:`multilabel_majority` — per-option majority (an option is kept when at least half
  the annotators chose it, as the ``choices`` kind's ``merge`` does).

The consensus set is the options whose posterior is above 1/2. ``confidence`` is the mean
over options of the posterior of the decision taken (the per-option majority's definition,
so methods compare on the page); ``joint_confidence`` is the probability that the whole set
is right if the options are independent given the annotators' confusion — the stricter
figure for routing items to review.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from labelhouse.quality.aggregation import gold_weighted_vote
from labelhouse.quality.data import BoolArray, FloatArray, IntArray, Labels


@dataclass(frozen=True)
class MultiLabelConsensus:
    """Consensus sets of a multi-choice field, as arrays over (item, option).

    Items nobody labelled have an all-false ``selected`` row and ``nan`` confidences.
    ``worker_accuracy[w]`` is the worker's estimated share of correct yes/no decisions
    (Dawid–Skene or smoothed gold accuracy; ``nan`` for majority or without labels);
    ``confusion[w, o, c, l]`` = P(worker ``w`` answers ``l`` on option ``o`` | truth ``c``),
    0 = absent, 1 = present (Dawid–Skene only, pooled models repeat it for every option).
    """

    selected: BoolArray
    proba: FloatArray
    confidence: FloatArray
    joint_confidence: FloatArray
    worker_accuracy: FloatArray
    confusion: FloatArray | None = None
    n_iter: int = 0
    converged: bool = True


def _check(items: IntArray, workers: IntArray, chosen: BoolArray) -> None:
    if chosen.ndim != 2 or chosen.shape[0] != items.size or items.size != workers.size:
        raise ValueError(
            "selected must be a (rows × options) matrix with one row per (item, worker) "
            f"answer; got {chosen.shape} for {items.size} items and {workers.size} workers"
        )


def binary_questions(
    items: npt.ArrayLike,
    workers: npt.ArrayLike,
    selected: npt.ArrayLike,
    *,
    n_items: int,
    n_workers: int,
    per_option: bool = False,
) -> Labels:
    """The answers as one binary label per (answer row, option).

    Question ``i·O + o`` is "option ``o`` of item ``i`` is present" (class 1) or absent
    (class 0). With ``per_option`` the pseudo-worker is ``w·O + o``, so models fit one
    confusion matrix per annotator and option; else the annotator itself.
    """
    it = np.asarray(items, dtype=np.int64).ravel()
    wk = np.asarray(workers, dtype=np.int64).ravel()
    chosen = np.asarray(selected, dtype=bool)
    if chosen.ndim == 1:
        chosen = chosen.reshape(it.size, -1) if it.size else chosen.reshape(0, 0)
    _check(it, wk, chosen)
    n_options = chosen.shape[1]
    option = np.arange(n_options, dtype=np.int64)
    questions = (it[:, None] * n_options + option).ravel()
    if per_option:
        who = (wk[:, None] * n_options + option).ravel()
        n_who = n_workers * n_options
    else:
        who = np.repeat(wk, n_options)
        n_who = n_workers
    return Labels(questions, who, chosen.ravel().astype(np.int64), n_items * n_options, n_who, 2)


def _gold_questions(
    gold_items: npt.ArrayLike | None, gold_selected: npt.ArrayLike | None, n_options: int
) -> tuple[IntArray, IntArray] | tuple[None, None]:
    if gold_items is None or gold_selected is None:
        return None, None
    g_items = np.asarray(gold_items, dtype=np.int64).ravel()
    g_sel = np.asarray(gold_selected, dtype=bool).reshape(g_items.size, n_options)
    questions = (g_items[:, None] * n_options + np.arange(n_options)).ravel()
    return questions, g_sel.ravel().astype(np.int64)


def _result(
    present: FloatArray,
    labelled: BoolArray,
    worker_accuracy: FloatArray,
    confusion: FloatArray | None = None,
    n_iter: int = 0,
    converged: bool = True,
    decision: BoolArray | None = None,
) -> MultiLabelConsensus:
    selected = (present > 0.5 if decision is None else decision) & labelled[:, None]
    decided = np.where(selected, present, 1.0 - present)
    n_options = present.shape[1]
    if n_options:
        confidence = decided.mean(axis=1)
        joint = np.exp(np.log(np.clip(decided, 1e-300, 1.0)).sum(axis=1))
    else:  # a field without options: the empty set, surely
        confidence = np.ones(present.shape[0])
        joint = np.ones(present.shape[0])
    confidence[~labelled] = np.nan
    joint[~labelled] = np.nan
    return MultiLabelConsensus(
        selected=selected,
        proba=present,
        confidence=confidence,
        joint_confidence=joint,
        worker_accuracy=worker_accuracy,
        confusion=confusion,
        n_iter=n_iter,
        converged=converged,
    )


def _labelled(items: IntArray, n_items: int) -> BoolArray:
    return np.bincount(items, minlength=n_items) > 0


def multilabel_majority(
    items: npt.ArrayLike,
    workers: npt.ArrayLike,
    selected: npt.ArrayLike,
    *,
    n_items: int,
    n_workers: int,
) -> MultiLabelConsensus:
    """Per-option majority: keep an option chosen by at least half of the item's answers
    (ties keep it, as ``ChoicesField.merge`` does); ``proba`` is the vote share."""
    it = np.asarray(items, dtype=np.int64).ravel()
    chosen = np.asarray(selected, dtype=bool)
    _check(it, np.asarray(workers, dtype=np.int64).ravel(), chosen)
    n_options = chosen.shape[1]
    rows, options = np.nonzero(chosen)
    votes = np.bincount(it[rows] * n_options + options, minlength=n_items * n_options)
    n = np.bincount(it, minlength=n_items).astype(np.float64)
    share = np.zeros((n_items, n_options))
    np.divide(votes.reshape(n_items, n_options), n[:, None], out=share, where=n[:, None] > 0)
    return _result(share, n > 0, np.full(n_workers, np.nan), decision=share >= 0.5)


PER_OPTION_MIN_ANSWERS = 200


def _sigmoid(x: FloatArray) -> FloatArray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic


def multilabel_dawid_skene(
    items: npt.ArrayLike,
    workers: npt.ArrayLike,
    selected: npt.ArrayLike,
    *,
    n_items: int,
    n_workers: int,
    per_option: bool | None = None,
    gold_items: npt.ArrayLike | None = None,
    gold_selected: npt.ArrayLike | None = None,
    smoothing: float = 0.01,
    max_iter: int = 200,
    tol: float = 1e-8,
) -> MultiLabelConsensus:
    """Dawid–Skene over every (item, option) yes/no question at once, by EM.

    Each option has its own prior (how often it applies) — with options applying 5% or 40%
    of the time, one shared prior costs several points of exact-set accuracy — and each
    annotator a sensitivity P(selects | applies) and specificity P(leaves out | does not
    apply): one pair pooled over options, or one per option with ``per_option`` (more
    parameters: worth it with many labels per annotator and options of different
    difficulty; with few labels per annotator the pooled model is several points more
    accurate). By default (``None``) rates are per option once the median annotator has
    given ``PER_OPTION_MIN_ANSWERS`` answers.

    Vectorised over all options: with ``X`` the rows × options selections, both EM steps are
    one sparse product each — per worker sums ``Wᵀ[T·X, T]`` (M-step) and per item sums of
    the answers' log-likelihood ratios (E-step). ``smoothing`` is a Beta pseudo-count on
    every rate (as in :func:`~labelhouse.quality.confusion_em.dawid_skene`, which this equals
    option by option when ``per_option`` is set); EM stops when the penalised
    log-likelihood per answer improves by less than ``tol``. Gold rows
    (``gold_selected[g, o]`` for item ``gold_items[g]``) clamp those questions.
    """
    it = np.asarray(items, dtype=np.int64).ravel()
    wk = np.asarray(workers, dtype=np.int64).ravel()
    x = np.asarray(selected, dtype=bool)
    _check(it, wk, x)
    n_rows, n_options = x.shape
    if n_options == 0:  # nothing to decide
        return _result(np.zeros((n_items, 0)), _labelled(it, n_items), np.full(n_workers, np.nan))
    alpha = max(smoothing, 1e-10)
    if per_option is None:
        active = np.bincount(wk, minlength=n_workers)
        active = active[active > 0]
        per_option = bool(active.size and np.median(active) >= PER_OPTION_MIN_ANSWERS)
    # Item × worker answer counts carry every term that does not depend on what was
    # selected; the selections (usually a minority of the cells) carry the rest, so no
    # step builds a rows × options array.
    pairs = sp.csr_matrix((np.ones(n_rows), (it, wk)), shape=(n_items, n_workers))
    pairs_t = pairs.T.tocsr()
    sel_row, sel_opt = np.nonzero(x)
    sel_item = it[sel_row] * n_options + sel_opt
    sel_worker = wk[sel_row] * n_options + sel_opt
    cells = n_items * n_options

    def over_selections(
        table: FloatArray, index: IntArray, values: IntArray, size: int
    ) -> FloatArray:
        return np.bincount(index, weights=table.ravel()[values], minlength=size)

    per_item = np.bincount(it, minlength=n_items).astype(np.float64)
    labelled = per_item > 0
    n_labelled = int(labelled.sum())
    answers_w = np.bincount(wk, minlength=n_workers).astype(np.float64)[:, None]
    chosen_w = np.bincount(sel_worker, minlength=n_workers * n_options).reshape(
        n_workers, n_options
    )
    gold = None
    if gold_items is not None and gold_selected is not None:
        g_items = np.asarray(gold_items, dtype=np.int64).ravel()
        gold = (g_items, np.asarray(gold_selected, dtype=np.float64).reshape(-1, n_options))

    def clamp(post: FloatArray) -> None:
        if gold is not None:
            post[gold[0]] = gold[1]

    votes = np.bincount(sel_item, minlength=cells).reshape(n_items, n_options)
    post = np.zeros((n_items, n_options))  # P(option applies), from the soft majority
    np.divide(votes, per_item[:, None], out=post, where=labelled[:, None])
    clamp(post)
    previous = -np.inf
    converged = False
    iteration = 0
    sens = spec = np.zeros((n_workers, n_options))
    prior = np.full(n_options, 0.5)
    for iteration in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        # M-step: option priors, and each worker's rates from the soft truth of their rows.
        prior = (post[labelled].sum(axis=0) + alpha) / (n_labelled + 2 * alpha)
        positive = pairs_t @ post  # Σ T over the worker's answers
        hit = over_selections(post, sel_worker, sel_item, n_workers * n_options).reshape(
            n_workers, n_options
        )  # Σ T·X
        negative = answers_w - positive  # Σ (1 − T)
        rejected = (answers_w - chosen_w) - (positive - hit)  # Σ (1 − T)(1 − X)
        if not per_option:
            hit, positive = hit.sum(1, keepdims=True), positive.sum(1, keepdims=True)
            negative, rejected = negative.sum(1, keepdims=True), rejected.sum(1, keepdims=True)
        sens = (hit + alpha) / (positive + 2 * alpha)
        spec = (rejected + alpha) / (negative + 2 * alpha)
        if not per_option:
            sens = np.repeat(sens, n_options, axis=1)
            spec = np.repeat(spec, n_options, axis=1)
        # E-step: per item, log P(answers | applies) and log P(answers | does not).
        log_s, log_1s = np.log(sens), np.log1p(-sens)
        log_t, log_1t = np.log(spec), np.log1p(-spec)
        if_yes = pairs @ log_1s + np.log(prior)
        if_yes += over_selections(log_s - log_1s, sel_item, sel_worker, cells).reshape(
            n_items, n_options
        )
        if_no = pairs @ log_t + np.log1p(-prior)
        if_no += over_selections(log_1t - log_t, sel_item, sel_worker, cells).reshape(
            n_items, n_options
        )
        post = _sigmoid(if_yes - if_no)
        clamp(post)
        data_term = float(np.logaddexp(if_yes, if_no)[labelled].sum())
        rates = log_s + log_1s + log_t + log_1t
        prior_term = alpha * (
            float(rates.sum() if per_option else rates[:, 0].sum())
            + float(np.log(prior * (1 - prior)).sum())
        )
        objective = (data_term + prior_term) / max(n_rows, 1)
        if objective - previous < tol:
            converged = True
            break
        previous = objective

    accuracy = (prior * sens + (1.0 - prior) * spec).mean(axis=1)  # mean over options
    accuracy[answers_w[:, 0] == 0] = np.nan
    confusion = np.stack(
        [np.stack([spec, 1.0 - spec], axis=-1), np.stack([1.0 - sens, sens], axis=-1)], axis=2
    )  # [worker, option, true, answered]
    return _result(post, labelled, accuracy, confusion, iteration, converged)


def multilabel_gold_weighted(
    items: npt.ArrayLike,
    workers: npt.ArrayLike,
    selected: npt.ArrayLike,
    *,
    n_items: int,
    n_workers: int,
    gold_items: npt.ArrayLike,
    gold_selected: npt.ArrayLike,
    prior_strength: float = 4.0,
    max_weight: float = 5.0,
) -> MultiLabelConsensus:
    """Per-option vote weighted by each annotator's accuracy on gold yes/no decisions.

    One weight per annotator, pooled over options (gold is sparse; a per-option estimate
    would rest on a handful of answers): :func:`~labelhouse.quality.gold_weighted_vote` on
    the binary questions, whose posterior ``P(present)`` decides each option.
    """
    chosen = np.asarray(selected, dtype=bool)
    labels = binary_questions(
        items, workers, chosen, n_items=n_items, n_workers=n_workers, per_option=False
    )
    n_options = chosen.shape[1] if chosen.ndim == 2 else 0
    g_q, g_c = _gold_questions(gold_items, gold_selected, n_options)
    assert g_q is not None and g_c is not None
    gw = gold_weighted_vote(labels, g_q, g_c, prior_strength=prior_strength, max_weight=max_weight)
    present = gw.proba[:, 1].reshape(n_items, n_options) if n_options else np.zeros((n_items, 0))
    labelled = _labelled(np.asarray(items, dtype=np.int64).ravel(), n_items)
    accuracy = gw.worker_accuracy.copy()
    accuracy[labels.labels_per_worker() == 0] = np.nan
    # gw.labels breaks exact ties (every voter weighted 0) by the raw vote counts.
    decision = (gw.labels == 1).reshape(n_items, n_options)
    return _result(present, labelled, accuracy, decision=decision)
