"""Agreement coefficients against scikit-learn and statsmodels, plus the edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from labelhouse.quality import (
    Labels,
    cohen_kappa,
    fleiss_kappa,
    fleiss_kappa_from_counts,
    item_agreement,
    kendall_tau,
    pairwise_agreement_rate,
    pairwise_kappa_matrix,
    percent_agreement,
    ranking_tau,
    text_agreement,
)


def _pair_labels(crowd, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    lab = crowd.labels
    first = np.full(lab.n_items, -1)
    second = np.full(lab.n_items, -1)
    first[lab.items[lab.workers == a]] = lab.labels[lab.workers == a]
    second[lab.items[lab.workers == b]] = lab.labels[lab.workers == b]
    both = (first >= 0) & (second >= 0)
    return first[both], second[both]


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_kappa_matches_sklearn(weights):
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 5, size=400)
    a = np.where(rng.random(400) < 0.7, truth, rng.integers(0, 5, size=400))
    b = np.where(rng.random(400) < 0.6, truth, rng.integers(0, 5, size=400))
    ours = cohen_kappa(a, b, weights=weights)
    assert ours == pytest.approx(metrics.cohen_kappa_score(a, b, weights=weights), abs=1e-12)


def test_cohen_kappa_accepts_string_labels():
    metrics = pytest.importorskip("sklearn.metrics")
    a = ["cat", "dog", "dog", "bird", "cat", "dog"]
    b = ["cat", "dog", "cat", "bird", "cat", "bird"]
    assert cohen_kappa(a, b) == pytest.approx(metrics.cohen_kappa_score(a, b))


def test_pair_kappa_matrix_matches_sklearn_on_every_pair(crowd):
    metrics = pytest.importorskip("sklearn.metrics")
    result = pairwise_kappa_matrix(crowd.labels)
    w = crowd.labels.n_workers
    checked = 0
    for a in range(w):
        for b in range(a + 1, w):
            x, y = _pair_labels(crowd, a, b)
            assert result.n_common[a, b] == x.size == result.n_common[b, a]
            if x.size < 2:
                assert math.isnan(result.kappa[a, b])
                continue
            if np.unique(np.concatenate([x, y])).size < 2:
                assert math.isnan(result.kappa[a, b])  # sklearn: 0/0
                continue
            expected = metrics.cohen_kappa_score(x, y)
            assert result.kappa[a, b] == pytest.approx(expected, abs=1e-9)
            assert result.kappa[b, a] == pytest.approx(expected, abs=1e-9)
            assert result.agreement[a, b] == pytest.approx((x == y).mean())
            checked += 1
    assert checked > 500
    assert np.allclose(np.diag(result.kappa), 1.0)


def test_fleiss_kappa_matches_statsmodels_with_equal_raters(crowd_module):
    inter_rater = pytest.importorskip("statsmodels.stats.inter_rater")
    crowd = crowd_module.make_crowd(1500, 4, 40, 5, seed=3)
    table = crowd.labels.item_class_counts()
    assert fleiss_kappa(crowd.labels) == pytest.approx(inter_rater.fleiss_kappa(table), abs=1e-12)


def test_fleiss_kappa_with_varying_raters_uses_the_documented_generalisation(crowd):
    table = crowd.labels.item_class_counts().astype(float)
    n = table.sum(1)
    keep = n >= 2
    p_i = ((table * (table - 1)).sum(1)[keep]) / (n[keep] * (n[keep] - 1))
    p_k = table[keep].sum(0) / n[keep].sum()
    expected = (p_i.mean() - (p_k**2).sum()) / (1 - (p_k**2).sum())
    assert fleiss_kappa(crowd.labels) == pytest.approx(expected)
    assert len(set(n.tolist())) > 1


def test_percent_and_pairwise_agreement():
    # item 0: a, a, b  -> 2 of 6 ordered pairs agree; item 1: a, a -> 1; item 2: single label
    lab = Labels.from_records(
        [(0, "u", "a"), (0, "v", "a"), (0, "w", "b"), (1, "u", "a"), (1, "v", "a"), (2, "u", "b")]
    )
    per_item = item_agreement(lab)
    assert per_item[:2] == pytest.approx([1 / 3, 1.0])
    assert math.isnan(per_item[2])
    assert percent_agreement(lab) == pytest.approx((1 / 3 + 1) / 2)
    assert pairwise_agreement_rate(lab) == pytest.approx((2 + 2) / (6 + 2))


def test_all_agree_gives_one_and_a_single_class_is_undefined():
    agree = Labels.from_records([(i, w, i % 3) for i in range(30) for w in range(4)])
    assert fleiss_kappa(agree) == pytest.approx(1.0)
    assert pairwise_kappa_matrix(agree).kappa[0, 1] == pytest.approx(1.0)
    assert cohen_kappa([0, 1, 2, 1], [0, 1, 2, 1]) == pytest.approx(1.0)
    constant = Labels.from_records([(i, w, "yes") for i in range(10) for w in range(3)])
    assert percent_agreement(constant) == 1.0
    assert math.isnan(fleiss_kappa(constant))
    assert math.isnan(cohen_kappa([1, 1, 1], [1, 1, 1]))
    assert math.isnan(pairwise_kappa_matrix(constant).kappa[0, 1])


def test_one_annotator_has_no_agreement_to_measure():
    lab = Labels.from_records([(i, "solo", i % 2) for i in range(20)])
    assert math.isnan(percent_agreement(lab))
    assert math.isnan(fleiss_kappa(lab))
    matrix = pairwise_kappa_matrix(lab)
    assert matrix.kappa.shape == (1, 1) and matrix.kappa[0, 0] == 1.0
    assert math.isnan(fleiss_kappa_from_counts(np.zeros((0, 2))))


def test_missing_labels_and_unused_class_do_not_change_kappa():
    rows = [
        (i, w, (i + (w == 2 and i % 4 == 0)) % 3)
        for i in range(40)
        for w in range(3)
        if (i + w) % 5
    ]
    lab = Labels.from_records(rows)
    with_unused = Labels.from_records(rows, classes=[0, 1, 2, 3])
    assert with_unused.n_classes == 4
    assert fleiss_kappa(with_unused) == pytest.approx(fleiss_kappa(lab))
    assert pairwise_kappa_matrix(with_unused).kappa[0, 2] == pytest.approx(
        pairwise_kappa_matrix(lab).kappa[0, 2]
    )


def test_spammer_and_adversary_score_near_zero_kappa_with_good_workers(crowd):
    result = pairwise_kappa_matrix(crowd.labels, min_common=20)
    types = np.array(crowd.worker_types)
    good = np.nonzero(types == "good")[0]
    bad = np.nonzero(np.isin(types, ["spammer", "adversarial"]))[0]
    good_block = result.kappa[np.ix_(good, good)][~np.eye(good.size, dtype=bool)]
    bad_block = result.kappa[np.ix_(bad, good)]
    assert np.nanmean(good_block) > 0.5
    assert abs(np.nanmean(bad_block)) < 0.1


def test_kendall_tau_handles_ties_as_tau_b():
    stats = pytest.importorskip("scipy.stats")
    a = [1, 2, 2, 3, 4]
    b = [1, 3, 2, 2, 5]
    assert kendall_tau(a, b) == pytest.approx(stats.kendalltau(a, b).statistic)
    assert kendall_tau([1, 1, 2], [1, 1, 2]) == pytest.approx(1.0)
    assert math.isnan(kendall_tau([1], [2]))
    assert ranking_tau(["a", "b", "c", "d"], ["a", "c", "b"]) == pytest.approx(1 / 3)


def test_text_agreement_uses_the_supplied_similarity():
    def exact(x: str, y: str) -> float:
        return float(x.strip().lower() == y.strip().lower())

    assert text_agreement([["Paris", "paris ", "Lyon"], ["x"]], exact) == pytest.approx(1 / 3)
    assert math.isnan(text_agreement([["only one"]], exact))
