"""Agreement and consensus of one label field over a whole project.

Categorical kinds (those whose hook ``classes()`` lists classes: single choice, rating,
pairwise A/B/tie) become one :class:`~labelhouse.quality.Labels` matrix and get the
vectorised statistics — percent agreement, Fleiss' κ, Krippendorff's α, the annotator-pair
κ matrix, majority vote and Dawid–Skene. Other kinds are compared and merged task by task
through the kind's ``compare``/``merge`` hooks (span and box F1 by overlap matching,
Kendall's τ for rankings, Jaccard for multi-choice, a similarity for free text).

Consensus methods for categorical fields: ``majority`` (ratings: the kind's median merge),
``dawid_skene``, and ``gold_weighted`` — a vote weighted by each annotator's log-odds
accuracy on the field's gold tasks (:func:`labelhouse.quality.gold_weighted_vote`;
annotators without gold answers get its default, the pool's average weight). Multi-choice
fields get the same three over per-option present/absent questions
(:mod:`labelhouse.quality_report.multichoice`); spans, boxes and rankings merge task by task,
with gold-accuracy vote weights under ``gold_weighted``.

A categorical field's consensus confidence is calibrated on its gold tasks when there are
enough of them (:func:`labelhouse.quality.calibrate`), and its Dawid–Skene fit reports how
it converged (:func:`convergence`): both are shown on the quality page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labelhouse import quality
from labelhouse.kinds.base import FieldKind
from labelhouse.kinds.boxes import as_boxes
from labelhouse.kinds.spans import as_spans
from labelhouse.quality.data import FloatArray, IntArray, Labels
from labelhouse.quality_report.loading import Answers
from labelhouse.quality_report.multichoice import set_consensus
from labelhouse.quality_report.pairs import PairStats, PairTally, from_kappa

METHODS = ("majority", "dawid_skene", "gold_weighted")
# The methods a structured field reports by name when asked (others keep their own merge).
_FITTED_METHODS = {"set": ("dawid_skene", "gold_weighted"), "text": ()}
CATEGORICAL = ("nominal", "ordinal", "pairwise")


def finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


@dataclass
class TaskConsensus:
    value: Any
    confidence: float
    method: str


@dataclass
class FieldAnalysis:
    """Everything the report needs about one field; arrays are indexed by task code."""

    name: str
    kind: str
    agreement_kind: str
    n_tasks: int  # tasks with at least one answer for this field
    n_overlap: int  # tasks with at least two
    n_answers: int
    metrics: dict[str, float | None]
    task_agreement: FloatArray
    consensus: list[TaskConsensus | None]
    consensus_method: str
    labels: Labels | None = None  # categorical only
    ds: quality.DawidSkeneResult | None = None
    pair_kappa: quality.PairKappa | None = None
    answered: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    multilabel: quality.MultiLabelConsensus | None = None  # set kinds: Dawid–Skene fit
    calibration: quality.Calibration | None = None  # of the consensus confidence, on gold
    pairs: PairStats = field(default_factory=PairStats.empty)


def convergence(fa: FieldAnalysis) -> dict[str, Any] | None:
    """How the field's Dawid–Skene fit ended, for the quality page (``None``: no fit)."""
    ds = fa.ds
    if ds is None:
        return None
    return {
        "converged": ds.converged,
        "iterations": ds.n_iter,
        "final_change": finite(ds.final_change),
        "identifiable": ds.identifiable,
        "kept_single": ds.kept_single,
    }


def _field_rows(kind: FieldKind, answers: Answers) -> tuple[list[int], list[Any]]:
    """Rows that answer the field (not empty), and their values."""
    column = answers.field(kind.name)
    filled = np.asarray([not kind.is_empty(v) for v in column.values] + [False], dtype=bool)
    rows = np.flatnonzero(filled[column.codes])  # code -1 reads the trailing False
    values = column.values
    return rows.tolist(), [values[c] for c in column.codes[rows].tolist()]


def _class_rows(kind: FieldKind, answers: Answers, index: dict[Any, int]) -> tuple[Any, Any]:
    """Rows whose value is one of the classes, and their class codes: each distinct value
    is mapped once (``label_of``), then every row by array indexing."""
    column = answers.field(kind.name)
    by_value = []
    for v in column.values:
        label = None if kind.is_empty(v) else kind.label_of(v)
        by_value.append(index.get(label, -1) if label is not None else -1)
    mapping = np.asarray([*by_value, -1], dtype=np.int64)
    codes = mapping[column.codes]
    rows = np.flatnonzero(codes >= 0)
    return rows, codes[rows]


def _pair_summary(pk: quality.PairKappa) -> dict[str, float | None]:
    upper = np.triu_indices(pk.kappa.shape[0], k=1)
    kappas = pk.kappa[upper]
    kappas = kappas[np.isfinite(kappas)]
    if not kappas.size:
        return {"pair_kappa_mean": None, "pair_kappa_min": None, "pair_kappa_max": None}
    return {
        "pair_kappa_mean": float(kappas.mean()),
        "pair_kappa_min": float(kappas.min()),
        "pair_kappa_max": float(kappas.max()),
    }


def _gold_codes(
    kind: FieldKind, answers: Answers, gold: dict[int, dict[str, Any]], index: dict[Any, int]
) -> tuple[IntArray, IntArray]:
    """Task codes of the gold tasks that set this field, and the expected class codes."""
    items, classes = [], []
    for t, task_id in enumerate(answers.task_ids.tolist()):
        expected = gold.get(task_id, {})
        if kind.name not in expected:
            continue
        label = kind.label_of(expected[kind.name])
        if label is not None and label in index:
            items.append(t)
            classes.append(index[label])
    return np.asarray(items, dtype=np.int64), np.asarray(classes, dtype=np.int64)


def _calibrated(
    kind: FieldKind,
    answers: Answers,
    gold: dict[int, dict[str, Any]],
    index: dict[Any, int],
    winners: IntArray,
    confidence: FloatArray,
) -> tuple[FloatArray, quality.Calibration]:
    """The consensus confidence calibrated on the field's gold tasks (Platt scaling), or
    unchanged and marked uncalibrated when there are too few of them."""
    items, classes = _gold_codes(kind, answers, gold, index)
    has = winners[items] >= 0
    calibration = quality.calibrate(confidence[items][has], winners[items][has] == classes[has])
    return calibration.apply(confidence), calibration


def _categorical(
    kind: FieldKind,
    answers: Answers,
    rows: list[int],
    values: list[Any],
    method: str,
    gold: dict[int, dict[str, Any]],
    statistics: bool = True,
) -> FieldAnalysis:
    classes = kind.classes() or []
    index = {c: i for i, c in enumerate(classes)}
    row_idx, codes = _class_rows(kind, answers, index)
    labels = Labels(
        answers.task_code[row_idx],
        answers.user_code[row_idx],
        codes,
        answers.n_tasks,
        answers.n_users,
        len(classes),
        answers.task_ids.tolist(),
        answers.user_ids.tolist(),
        list(classes),
    )
    metrics: dict[str, float | None] = {}
    pair_kappa = None
    if statistics:
        metrics = {
            "percent_agreement": finite(quality.percent_agreement(labels)),
            "fleiss_kappa": finite(quality.fleiss_kappa(labels)),
            "alpha_nominal": finite(quality.krippendorff_alpha(labels, "nominal")),
        }
        if kind.agreement_kind() == "pairwise":  # pooled over pairs: a tie vs a side disagrees
            metrics["agreement_rate"] = finite(quality.pairwise_agreement_rate(labels))
        if kind.agreement_kind() == "ordinal":
            metrics["alpha_ordinal"] = finite(quality.krippendorff_alpha(labels, "ordinal"))
            metrics["alpha_interval"] = finite(quality.krippendorff_alpha(labels, "interval"))
        pair_kappa = quality.pairwise_kappa_matrix(labels)
        metrics.update(_pair_summary(pair_kappa))
    fit_ds = method == "dawid_skene" or (statistics and len(labels))  # no answers: empty fit
    ds = quality.dawid_skene(labels) if fit_ds else None
    per_item = labels.labels_per_item()

    by_task: dict[int, list[Any]] = {}
    if kind.agreement_kind() == "pairwise":  # strengths ride along with the winning choice
        for r, v in zip(rows, values, strict=True):
            by_task.setdefault(int(answers.task_code[r]), []).append(v)
    consensus: list[TaskConsensus | None] = [None] * answers.n_tasks
    if method == "dawid_skene" and ds is not None:
        winners, confidence, used = ds.labels, ds.confidence, "dawid_skene"
    elif method == "gold_weighted":
        gold_items, gold_classes = _gold_codes(kind, answers, gold, index)
        gw = quality.gold_weighted_vote(labels, gold_items, gold_classes)
        winners, confidence, used = gw.labels, gw.confidence, "gold_weighted"
    elif kind.agreement_kind() == "ordinal":
        winners, confidence, used = None, None, "median"
    else:
        mv = quality.majority_vote(labels)
        winners, confidence, used = mv.labels, mv.confidence, "majority"
    calibration = None
    if winners is not None and confidence is not None:
        confidence, calibration = _calibrated(kind, answers, gold, index, winners, confidence)
    if winners is None:  # ratings: the kind's median merge, task by task
        column = answers.field(kind.name)
        for t in np.flatnonzero(per_item > 0):
            codes_t = column.codes[answers.bounds[t] : answers.bounds[t + 1]].tolist()
            task_values = [column.values[c] for c in codes_t if c >= 0]
            value, conf = kind.merge(task_values)
            consensus[int(t)] = TaskConsensus(value, conf, used)
    elif confidence is not None:
        plain = type(kind).from_label is FieldKind.from_label  # the value is the class
        tasks = np.flatnonzero(winners >= 0)
        for t, w, conf in zip(
            tasks.tolist(), winners[tasks].tolist(), confidence[tasks].tolist(), strict=True
        ):
            label = classes[w]
            value = label if plain else kind.from_label(label, by_task.get(t, []))
            consensus[t] = TaskConsensus(value, conf, used)
    return FieldAnalysis(
        name=kind.name,
        kind=kind.kind_name,
        agreement_kind=kind.agreement_kind(),
        n_tasks=int((per_item > 0).sum()),
        n_overlap=int((per_item > 1).sum()),
        n_answers=len(labels),
        metrics=metrics,
        task_agreement=(
            quality.item_agreement(labels) if statistics else np.full(answers.n_tasks, np.nan)
        ),
        consensus=consensus,
        consensus_method=used,
        labels=labels,
        ds=ds,
        pair_kappa=pair_kappa,
        answered=per_item,
        calibration=calibration,
        pairs=from_kappa(pair_kappa) if pair_kappa is not None else PairStats.empty(),
    )


def _pairwise_mean(
    kind: FieldKind, task_values: list[Any], users: list[int], tally: PairTally
) -> float:
    scores = []
    for i in range(len(task_values)):
        for j in range(i + 1, len(task_values)):
            score = kind.compare(task_values[i], task_values[j])
            tally.add(users[i], users[j], score)
            scores.append(score)
    return float(np.mean(scores)) if scores else float("nan")


def _gold_weights(
    kind: FieldKind, answers: Answers, gold: dict[int, dict[str, Any]], prior_strength: float = 4.0
) -> FloatArray:
    """Vote weight per annotator for ``merge``: their mean agreement (the kind's ``compare``)
    with the expected values of the field's gold tasks, shrunk towards the pool's mean with
    ``prior_strength`` pseudo-answers (annotators without gold get the pool's mean)."""
    score = np.zeros(answers.n_users)
    count = np.zeros(answers.n_users)
    for r, value in enumerate(answers.values):
        expected = gold.get(int(answers.task_ids[answers.task_code[r]]), {}).get(kind.name)
        if expected is None or kind.name not in value:
            continue
        u = int(answers.user_code[r])
        score[u] += kind.compare(value[kind.name], expected)
        count[u] += 1
    pooled = score.sum() / count.sum() if count.sum() else 1.0
    return (score + prior_strength * pooled) / (count + prior_strength)


def _structured(
    kind: FieldKind,
    answers: Answers,
    rows: list[int],
    values: list[Any],
    task_data: dict[int, dict[str, Any]],
    method: str = "majority",
    gold: dict[int, dict[str, Any]] | None = None,
    statistics: bool = True,
) -> FieldAnalysis:
    grouped: dict[int, list[Any]] = {}
    voters: dict[int, list[int]] = {}
    for r, v in zip(rows, values, strict=True):
        grouped.setdefault(int(answers.task_code[r]), []).append(v)
        voters.setdefault(int(answers.task_code[r]), []).append(int(answers.user_code[r]))
    agreement = np.full(answers.n_tasks, np.nan)
    consensus: list[TaskConsensus | None] = [None] * answers.n_tasks
    answered = np.zeros(answers.n_tasks, dtype=np.int64)
    ak = kind.agreement_kind()
    exact: list[quality.MatchF1] = []
    overlap: list[quality.MatchF1] = []
    taus: list[float] = []
    used = {
        "set": "per_option_majority",
        "spans": "overlap_vote",
        "boxes": "overlap_vote",
        "ranking": "borda",
        "text": "none",
    }.get(ak, "merge")
    sets: dict[int, tuple[list[Any], float]] | None = None
    multilabel = None
    weights = None
    if ak == "set" and kind.classes() is not None and values:
        sets, used, multilabel = set_consensus(kind, answers, rows, values, method, gold or {})
    elif not values and method in _FITTED_METHODS.get(ak, ("gold_weighted",)):
        used = method  # no answers yet: nothing to fit, but the method asked for stands
    elif method == "gold_weighted" and ak != "text" and values:
        weights = _gold_weights(kind, answers, gold or {})
        used = "gold_weighted"
    tally = PairTally()
    for t, task_values in grouped.items():
        answered[t] = len(task_values)
        if statistics:
            agreement[t] = _pairwise_mean(kind, task_values, voters[t], tally)
            _pair_scores(ak, task_values, exact, overlap, taus)
        if sets is not None:
            value, conf = sets[t]
            consensus[t] = TaskConsensus(value, conf, used)
        elif ak != "text":
            data = task_data.get(int(answers.task_ids[t]))
            w = [float(weights[u]) for u in voters[t]] if weights is not None else None
            value, conf = kind.merge(task_values, w, data=data)
            if value is not None:
                consensus[t] = TaskConsensus(value, float(conf), used)
    mean_agreement = agreement[np.isfinite(agreement)]
    metrics: dict[str, float | None] = {
        "mean_pairwise_agreement": float(mean_agreement.mean()) if mean_agreement.size else None
    }
    if ak == "spans":
        metrics["span_f1_exact"] = quality.micro_f1(exact).f1 if exact else None
        metrics["span_f1_overlap"] = quality.micro_f1(overlap).f1 if overlap else None
    elif ak == "boxes":
        metrics["box_f1"] = quality.micro_f1(overlap).f1 if overlap else None
    elif ak == "ranking":
        finite_taus = [x for x in taus if math.isfinite(x)]
        metrics["kendall_tau_mean"] = float(np.mean(finite_taus)) if finite_taus else None
    elif ak == "set":
        shares = [_exact_share(vs) for vs in grouped.values() if len(vs) > 1]
        metrics["percent_agreement"] = float(np.mean(shares)) if shares else None
    elif ak == "text":
        metrics["mean_similarity"] = metrics["mean_pairwise_agreement"]
    return FieldAnalysis(
        name=kind.name,
        kind=kind.kind_name,
        agreement_kind=ak,
        n_tasks=int((answered > 0).sum()),
        n_overlap=int((answered > 1).sum()),
        n_answers=len(values),
        metrics=metrics,
        task_agreement=agreement,
        consensus=consensus,
        consensus_method=used,
        answered=answered,
        multilabel=multilabel,
        pairs=tally.stats(),
    )


def _pair_scores(
    ak: str,
    task_values: list[Any],
    exact: list[quality.MatchF1],
    overlap: list[quality.MatchF1],
    taus: list[float],
) -> None:
    """Add the kind's match scores of every pair of one task's answers to the lists."""
    for i in range(len(task_values)):
        for j in range(i + 1, len(task_values)):
            a, b = task_values[i], task_values[j]
            if ak == "spans":
                exact.append(quality.span_f1(as_spans(a), as_spans(b), match="exact"))
                overlap.append(quality.span_f1(as_spans(a), as_spans(b), match="overlap"))
            elif ak == "boxes":
                overlap.append(quality.box_f1(as_boxes(a), as_boxes(b)))
            elif ak == "ranking" and isinstance(a, list) and isinstance(b, list):
                taus.append(quality.kendall_tau(a, b) if len(a) == len(b) else math.nan)


def _exact_share(task_values: list[Any]) -> float:
    """Share of annotator pairs whose answers are identical (percent agreement)."""
    n = len(task_values)
    same = sum(task_values[i] == task_values[j] for i in range(n) for j in range(i + 1, n))
    return same / (n * (n - 1) / 2)


def _unscored(kind: FieldKind, answers: Answers, rows: list[int]) -> FieldAnalysis:
    """Counts only: the field asks for no agreement statistic and has no consensus."""
    answered = np.bincount(answers.task_code[rows], minlength=answers.n_tasks)
    return FieldAnalysis(
        name=kind.name,
        kind=kind.kind_name,
        agreement_kind="none",
        n_tasks=int((answered > 0).sum()),
        n_overlap=int((answered > 1).sum()),
        n_answers=len(rows),
        metrics={},
        task_agreement=np.full(answers.n_tasks, np.nan),
        consensus=[None] * answers.n_tasks,
        consensus_method="none",
        answered=answered,
    )


def analyse_field(
    kind: FieldKind,
    answers: Answers,
    task_data: dict[int, dict[str, Any]],
    method: str,
    gold: dict[int, dict[str, Any]] | None = None,
    *,
    statistics: bool = True,
) -> FieldAnalysis:
    """``gold`` (``{task_id: expected values}``) is only read by ``gold_weighted``.

    The method applies to every kind that can honour it: categorical kinds and multi-choice
    run it over the whole project; spans, boxes and rankings have no Dawid–Skene (they keep
    their overlap vote / Borda merge) but take gold-accuracy weights in their ``merge``.
    The method actually used is reported per field. ``statistics=False`` computes the
    consensus only (for exports): no agreement metrics, pair scores or unused model fits."""
    rows, values = _field_rows(kind, answers)
    if kind.agreement_kind() == "none":  # e.g. free text with similarity "none"
        return _unscored(kind, answers, rows)
    if kind.agreement_kind() in CATEGORICAL and kind.classes():
        return _categorical(kind, answers, rows, values, method, gold or {}, statistics)
    return _structured(kind, answers, rows, values, task_data, method, gold, statistics)
