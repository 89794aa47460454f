"""Multi-choice consensus: Dawid–Skene over per-option yes/no questions against known truth,
against per-option binary Dawid–Skene (ours and crowd-kit's), gold clamping and weighting."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from labelhouse.kinds.registry import parse_schema
from labelhouse.quality import (
    Labels,
    dawid_skene,
    multilabel_dawid_skene,
    multilabel_gold_weighted,
    multilabel_majority,
)
from labelhouse.quality.multilabel import binary_questions


def _crowd(crowd_module, n=2000, overlap=(3, 6), seed=0, **kw):
    return crowd_module.make_multilabel_crowd(n, 6, 50, overlap, seed=seed, **kw)


def _args(c):
    return (c.items, c.workers, c.selected), {"n_items": c.n_items, "n_workers": c.n_workers}


def _exact(result, truth) -> float:
    chosen = result if isinstance(result, np.ndarray) else result.selected
    return float((chosen == truth).all(axis=1).mean())


@pytest.mark.parametrize(("n", "overlap", "seed"), [(2000, (3, 6), 0), (600, 3, 1), (4000, 5, 2)])
def test_dawid_skene_beats_majority_on_known_truth(crowd_module, n, overlap, seed):
    c = _crowd(crowd_module, n, overlap, seed)
    args, kw = _args(c)
    mv = multilabel_majority(*args, **kw)
    ds = multilabel_dawid_skene(*args, **kw)
    assert ds.converged
    # over-selectors and spammers fool the per-option vote; DS learns to discount them
    assert _exact(ds, c.truth) > _exact(mv, c.truth) + 0.02
    assert (ds.selected == c.truth).mean() > (mv.selected == c.truth).mean() + 0.01
    # confidence means something: the confident half is more often right than the rest
    right = (ds.selected == c.truth).all(axis=1)
    confident = ds.joint_confidence > np.median(ds.joint_confidence)
    assert right[confident].mean() > right[~confident].mean()
    # estimated annotator accuracy ranks good workers above spammers and over-selectors
    types = np.asarray(c.worker_types)
    good = np.nanmean(ds.worker_accuracy[types == "good"])
    for bad in ("spammer", "over-selector"):
        assert good > np.nanmean(ds.worker_accuracy[types == bad]) + 0.1


def test_per_option_rates_equal_binary_dawid_skene_option_by_option(crowd_module):
    c = _crowd(crowd_module, 800, (3, 5), seed=3)
    args, kw = _args(c)
    # the same EM step for step (stopping rules differ: one objective over all options)
    ml = multilabel_dawid_skene(*args, **kw, per_option=True, tol=-1.0, max_iter=60)
    for o in range(c.selected.shape[1]):
        lab = Labels(c.items, c.workers, c.selected[:, o].astype(int), c.n_items, c.n_workers, 2)
        ds = dawid_skene(lab, tol=-1.0, max_iter=60, accelerate=False)  # plain EM
        assert ml.proba[:, o] == pytest.approx(ds.proba[:, 1], abs=1e-9)
        assert ml.confusion[:, o] == pytest.approx(ds.confusion, abs=1e-9)
        assert np.nanmean(ml.confusion[:, o, [0, 1], [0, 1]]) > 0.5


def test_at_least_as_accurate_as_crowdkit_per_option(crowd_module):
    pd = pytest.importorskip("pandas")
    aggregation = pytest.importorskip("crowdkit.aggregation")
    c = _crowd(crowd_module, 3000, (3, 6), seed=4)
    args, kw = _args(c)
    ours = multilabel_dawid_skene(*args, **kw)
    ref = np.zeros_like(c.truth)
    for o in range(c.selected.shape[1]):
        df = pd.DataFrame({"task": c.items, "worker": c.workers, "label": c.selected[:, o] * 1})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = aggregation.DawidSkene(n_iter=100).fit_predict(df)
        ref[result.index.to_numpy(), o] = result.to_numpy() == 1
    assert (ours.selected == c.truth).mean() >= (ref == c.truth).mean() - 0.001
    assert _exact(ours, c.truth) >= _exact(ref, c.truth) - 0.002


def test_pooled_rates_win_when_annotators_have_few_answers(crowd_module):
    c = _crowd(crowd_module, 500, 3, seed=1)
    args, kw = _args(c)
    pooled = multilabel_dawid_skene(*args, **kw, per_option=False)
    split = multilabel_dawid_skene(*args, **kw, per_option=True)
    auto = multilabel_dawid_skene(*args, **kw)
    assert _exact(pooled, c.truth) > _exact(split, c.truth)
    assert np.array_equal(auto.selected, pooled.selected)  # 30 answers each: pooled


def test_majority_matches_the_choices_merge_hook_and_keeps_ties():
    kind = parse_schema(
        {"fields": [{"name": "t", "kind": "choices", "options": [{"value": v} for v in "abcd"]}]}
    ).field("t")
    rng = np.random.default_rng(0)
    items = np.repeat(np.arange(40), 4)[: 40 * 4 - 7]
    workers = np.tile(np.arange(4), 40)[: items.size]
    chosen = rng.random((items.size, 4)) < 0.4
    mv = multilabel_majority(items, workers, chosen, n_items=41, n_workers=4)
    options = list("abcd")
    for i in np.unique(items):
        values = [[options[o] for o in np.flatnonzero(row)] for row in chosen[items == i]]
        value, confidence = kind.merge(values)
        assert [options[o] for o in np.flatnonzero(mv.selected[i])] == value
        assert mv.confidence[i] == pytest.approx(confidence)
    for i in (39, 40):  # nobody labelled them
        assert not mv.selected[i].any() and math.isnan(mv.confidence[i])
    assert np.isnan(mv.worker_accuracy).all()


def test_gold_items_are_clamped_and_anchor_the_rates():
    # Two annotators who always select "x" and never "y" agree with each other; the third
    # answers the truth. Without gold the agreeing pair wins; gold on a few items tells
    # the model (rates per option: the pair errs differently on x and y) who is reliable.
    n = 30
    truth = np.zeros((n, 2), dtype=bool)
    truth[::2, 1] = True  # y applies on even items, x never
    rows_i, rows_w, rows_x = [], [], []
    for i in range(n):
        for w in range(3):
            rows_i.append(i)
            rows_w.append(w)
            rows_x.append(truth[i] if w == 2 else [True, False])
    args = (np.asarray(rows_i), np.asarray(rows_w), np.asarray(rows_x))
    plain = multilabel_dawid_skene(*args, n_items=n, n_workers=3, per_option=True)
    assert plain.selected[:, 0].all()  # the pair's "x" wins
    gold = np.arange(6)
    ds = multilabel_dawid_skene(
        *args, n_items=n, n_workers=3, per_option=True, gold_items=gold, gold_selected=truth[gold]
    )
    assert np.array_equal(ds.selected[gold], truth[gold])
    assert np.array_equal(ds.selected, truth)
    assert ds.worker_accuracy[2] > 0.9 > ds.worker_accuracy[0]
    gw = multilabel_gold_weighted(
        *args, n_items=n, n_workers=3, gold_items=gold, gold_selected=truth[gold]
    )
    assert np.array_equal(gw.selected, truth)
    assert gw.worker_accuracy[2] > gw.worker_accuracy[0]
    assert np.all(gw.confidence > 0.5)


def test_binary_questions_layout_and_shape_errors():
    lab = binary_questions([0, 1], [1, 0], [[True, False, True], [False, False, True]],
                           n_items=2, n_workers=2)  # fmt: skip
    assert (lab.n_items, lab.n_workers, lab.n_classes) == (6, 2, 2)
    assert lab.items.tolist() == [0, 1, 2, 3, 4, 5]
    assert lab.workers.tolist() == [1, 1, 1, 0, 0, 0]
    assert lab.labels.tolist() == [1, 0, 1, 0, 0, 1]
    split = binary_questions([0], [1], [[True, False]], n_items=1, n_workers=2, per_option=True)
    assert split.workers.tolist() == [2, 3] and split.n_workers == 4
    with pytest.raises(ValueError, match="one row per"):
        multilabel_dawid_skene([0, 1], [0], [[True]], n_items=2, n_workers=1)


def test_no_options_and_no_answers():
    empty = multilabel_dawid_skene(
        np.zeros(0, int), np.zeros(0, int), np.zeros((0, 3), bool), n_items=2, n_workers=1
    )
    assert empty.selected.shape == (2, 3) and not empty.selected.any()
    assert np.isnan(empty.confidence).all() and np.isnan(empty.worker_accuracy).all()
    none = multilabel_dawid_skene([0, 0], [0, 1], np.zeros((2, 0), bool), n_items=1, n_workers=2)
    assert none.selected.shape == (1, 0) and none.confidence[0] == 1.0
