"""Consensus of multi-choice (``set``) fields over a whole project.

The answers become one rows × options selection matrix (through the kind's ``classes`` and
``options_of`` hooks) and go to the vectorised models of :mod:`labelhouse.quality.multilabel`:
per-option majority, Dawid–Skene over per-option present/absent questions, or a vote
weighted by gold accuracy. Dawid–Skene is always fitted, as for categorical fields, because
the scorecards show its estimated accuracy of every annotator.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labelhouse import quality
from labelhouse.kinds.base import FieldKind
from labelhouse.quality.data import BoolArray, IntArray
from labelhouse.quality_report.loading import Answers


def selection_matrix(kind: FieldKind, options: list[Any], values: list[Any]) -> BoolArray:
    """``out[r, o]``: answer ``r`` selected option ``o`` (options no longer in the schema are
    dropped, as the categorical path drops removed classes)."""
    index = {o: i for i, o in enumerate(options)}
    out = np.zeros((len(values), len(options)), dtype=bool)
    for r, value in enumerate(values):
        for option in kind.options_of(value) or ():
            o = index.get(option)
            if o is not None:
                out[r, o] = True
    return out


def _gold_rows(
    kind: FieldKind,
    options: list[Any],
    answers: Answers,
    gold: dict[int, dict[str, Any]],
) -> tuple[IntArray, BoolArray]:
    items: list[int] = []
    expected: list[Any] = []
    for t, task_id in enumerate(answers.task_ids.tolist()):
        value = gold.get(task_id, {}).get(kind.name)
        if value is not None and kind.options_of(value) is not None:
            items.append(t)
            expected.append(value)
    return np.asarray(items, dtype=np.int64), selection_matrix(kind, options, expected)


def set_consensus(
    kind: FieldKind,
    answers: Answers,
    rows: list[int],
    values: list[Any],
    method: str,
    gold: dict[int, dict[str, Any]],
) -> tuple[dict[int, tuple[list[Any], float]], str, quality.MultiLabelConsensus]:
    """``({task code: (selected options, confidence)}, method used, Dawid–Skene fit)``."""
    options = list(kind.classes() or [])
    row_idx = np.asarray(rows, dtype=np.int64)
    items = answers.task_code[row_idx]
    workers = answers.user_code[row_idx]
    chosen = selection_matrix(kind, options, values)
    sizes = {"n_items": answers.n_tasks, "n_workers": answers.n_users}
    ds = quality.multilabel_dawid_skene(items, workers, chosen, **sizes)
    if method == "dawid_skene":
        result, used = ds, "dawid_skene"
    elif method == "gold_weighted":
        gold_items, gold_selected = _gold_rows(kind, options, answers, gold)
        result = quality.multilabel_gold_weighted(
            items, workers, chosen, gold_items=gold_items, gold_selected=gold_selected, **sizes
        )
        used = "gold_weighted"
    else:
        result = quality.multilabel_majority(items, workers, chosen, **sizes)
        used = "per_option_majority"
    out: dict[int, tuple[list[Any], float]] = {}
    for t in np.unique(items).tolist():
        picked = [options[o] for o in np.flatnonzero(result.selected[t])]
        out[int(t)] = (picked, float(result.confidence[t]))
    return out, used, ds


def pooled_confusion(ds: quality.MultiLabelConsensus, worker: int) -> list[list[float]]:
    """One worker's 2 × 2 confusion (absent/present), averaged over the options."""
    if ds.confusion is None or ds.confusion.shape[1] == 0:
        return []
    return np.round(ds.confusion[worker].mean(axis=0), 4).tolist()  # type: ignore[no-any-return]
