"""Majority vote, Dawid–Skene (against crowd-kit) and gold-weighted vote on known truth."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from labelhouse.quality import Labels, dawid_skene, gold_accuracy, gold_weighted_vote, majority_vote


def _crowdkit_ds(lab: Labels) -> np.ndarray:
    pd = pytest.importorskip("pandas")
    aggregation = pytest.importorskip("crowdkit.aggregation")
    df = pd.DataFrame({"task": lab.items, "worker": lab.workers, "label": lab.labels})
    with warnings.catch_warnings():  # crowd-kit 1.4.2 trips pandas-3 deprecation warnings
        warnings.simplefilter("ignore")
        result = aggregation.DawidSkene(n_iter=100).fit_predict(df)
    out = np.full(lab.n_items, -1)
    out[result.index.to_numpy()] = result.to_numpy()
    return out


def test_majority_vote_ties_are_deterministic_and_confidence_is_the_share():
    lab = Labels.from_arrays(
        [0, 0, 0, 1, 1, 2, 2, 2, 2],
        [0, 1, 2, 0, 1, 0, 1, 2, 3],
        [2, 2, 1, 1, 0, 3, 3, 0, 0],
        n_items=4,
    )
    result = majority_vote(lab)
    assert result.labels.tolist() == [2, 0, 0, -1]  # ties: lowest class code
    assert result.confidence[:3] == pytest.approx([2 / 3, 0.5, 0.5])
    assert math.isnan(result.confidence[3])
    assert np.allclose(result.proba[:3].sum(1), 1.0)
    assert majority_vote(lab).labels.tolist() == result.labels.tolist()
    # "frequent": ties go to the class used most over the project (0 and 3 tie at 3 uses, 0 first)
    assert majority_vote(lab, tie_break="frequent").labels[1] == 0


REGIMES = [
    (0.0, None),
    (0.8, None),
    (0.3, {"good": 0.4, "noisy": 0.2, "spammer": 0.3, "adversarial": 0.1}),
    (0.5, {"good": 0.5, "spammer": 0.5}),
]


def test_dawid_skene_at_least_as_accurate_as_crowdkit(crowd_module):
    """Same model as crowd-kit's, so on well-determined crowds the two agree to a few items.

    Per crowd we allow a 0.1% statistical tie (EM paths differ: crowd-kit stops at a looser
    tolerance, we smooth by 0.01); summed over the crowds ours must be at least as accurate.
    """
    ours_total = ref_total = 0
    for imbalance, mix in REGIMES:
        crowd = crowd_module.make_crowd(3000, 4, 40, (3, 7), imbalance=imbalance, mix=mix, seed=0)
        ours = dawid_skene(crowd.labels)
        reference = _crowdkit_ds(crowd.labels)
        correct_ours = int((ours.labels == crowd.truth).sum())
        correct_ref = int((reference == crowd.truth).sum())
        correct_mv = int((majority_vote(crowd.labels).labels == crowd.truth).sum())
        assert correct_ours >= correct_ref - 3, (imbalance, mix)
        assert correct_ours > correct_mv
        assert ours.converged
        ours_total += correct_ours
        ref_total += correct_ref
    assert ours_total >= ref_total


def test_one_coin_prior_prevents_garbage_classes_on_sparse_crowds(crowd_module):
    # Few labels per worker, six classes of which two are very rare, half the crowd spams:
    # plain DS (ours and crowd-kit's) turns rare classes into clusters of spam answers.
    crowd = crowd_module.make_crowd(
        1500, 6, 50, (2, 4), imbalance=1.0, mix={"good": 0.5, "spammer": 0.5}, seed=1010
    )
    reference = (_crowdkit_ds(crowd.labels) == crowd.truth).mean()
    shrunk = (dawid_skene(crowd.labels, one_coin_prior=4.0).labels == crowd.truth).mean()
    plain = (dawid_skene(crowd.labels).labels == crowd.truth).mean()
    assert shrunk > reference + 0.05
    assert shrunk > plain + 0.05


def test_dawid_skene_recovers_worker_types_and_priors(crowd):
    result = dawid_skene(crowd.labels)
    types = np.array(crowd.worker_types)
    acc = result.worker_accuracy
    assert acc[types == "good"].min() > acc[types == "spammer"].max()
    assert acc[types == "adversarial"].max() < 0.6
    true_prior = np.bincount(crowd.truth, minlength=4) / crowd.truth.size
    assert np.allclose(result.priors, true_prior, atol=0.03)
    assert np.allclose(result.confusion.sum(axis=2), 1.0)
    assert np.allclose(result.proba.sum(axis=1), 1.0)
    assert result.confidence == pytest.approx(result.proba.max(axis=1))
    # confusion of a good worker is close to the true one
    good = int(np.nonzero(types == "good")[0][0])
    assert np.abs(result.confusion[good] - crowd.confusion[good]).max() < 0.15


def test_dawid_skene_beats_majority_when_spammers_dominate(crowd_module):
    crowd = crowd_module.make_crowd(
        2000, 3, 40, 7, mix={"good": 0.3, "spammer": 0.5, "adversarial": 0.2}, seed=4
    )
    mv = (majority_vote(crowd.labels).labels == crowd.truth).mean()
    ds = (dawid_skene(crowd.labels).labels == crowd.truth).mean()
    assert ds > mv + 0.05


def test_dawid_skene_edge_cases():
    # one annotator: DS reproduces their answers
    solo = Labels.from_arrays(np.arange(6), np.zeros(6), [0, 1, 1, 0, 2, 2])
    assert dawid_skene(solo).labels.tolist() == [0, 1, 1, 0, 2, 2]
    # all agree
    agree = Labels.from_arrays(
        np.repeat(np.arange(5), 3), np.tile(np.arange(3), 5), np.repeat([0, 1, 0, 1, 1], 3)
    )
    result = dawid_skene(agree)
    assert result.labels.tolist() == [0, 1, 0, 1, 1]
    assert result.confidence.min() > 0.99
    # a class never used and an unlabelled item
    unused = Labels.from_arrays([0, 0, 1, 1], [0, 1, 0, 1], [0, 0, 2, 2], n_items=3, n_classes=4)
    result = dawid_skene(unused)
    assert result.labels.tolist() == [0, 2, -1]
    assert result.priors[1] < 0.05 and result.priors[3] < 0.05
    assert math.isnan(result.confidence[2])
    assert np.allclose(result.proba[2], result.priors)
    # empty input
    empty = Labels.from_arrays([], [], [], n_items=2, n_workers=0, n_classes=2)
    assert dawid_skene(empty).labels.tolist() == [-1, -1]


def test_dawid_skene_with_missing_labels_and_gold_clamping(crowd):
    lab = crowd.labels
    gold = np.arange(0, lab.n_items, 10)
    result = dawid_skene(lab, gold_items=gold, gold_classes=crowd.truth[gold])
    assert (result.labels[gold] == crowd.truth[gold]).all()
    assert (result.labels == crowd.truth).mean() >= (
        dawid_skene(lab).labels == crowd.truth
    ).mean() - 0.005


def test_gold_accuracy_and_gold_weighted_vote(crowd):
    lab = crowd.labels
    gold = np.arange(0, lab.n_items, 5)
    acc, n_gold = gold_accuracy(lab, gold, crowd.truth[gold])
    types = np.array(crowd.worker_types)
    assert np.nanmean(acc[types == "good"]) > 0.75
    assert np.nanmean(acc[types == "spammer"]) < 0.4
    assert n_gold.sum() == np.isin(lab.items, gold).sum()
    result = gold_weighted_vote(lab, gold, crowd.truth[gold])
    held_out = np.ones(lab.n_items, dtype=bool)
    held_out[gold] = False
    gw = (result.labels[held_out] == crowd.truth[held_out]).mean()
    mv = (majority_vote(lab).labels[held_out] == crowd.truth[held_out]).mean()
    assert gw > mv
    assert result.weights[types == "spammer"].max() < result.weights[types == "good"].min()
    assert np.allclose(result.proba.sum(axis=1), 1.0)


def test_gold_weighted_vote_without_gold_is_majority_vote(crowd):
    result = gold_weighted_vote(crowd.labels, [], [])
    assert (result.labels == majority_vote(crowd.labels).labels).all()
