"""Krippendorff's α against the ``krippendorff`` package, with varying annotators per item."""

from __future__ import annotations

import math

import numpy as np
import pytest

from labelhouse.quality import (
    Labels,
    coincidence_matrix,
    krippendorff_alpha,
    krippendorff_alpha_interval,
)


def _reliability_data(lab: Labels, values: np.ndarray | None = None) -> np.ndarray:
    """coders × units matrix with nan for missing, the reference package's input."""
    data = np.full((lab.n_workers, lab.n_items), np.nan)
    vals = np.arange(lab.n_classes, dtype=float) if values is None else values
    data[lab.workers, lab.items] = vals[lab.labels]
    return data


@pytest.mark.parametrize("metric", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_matches_krippendorff_package(crowd, metric):
    krippendorff = pytest.importorskip("krippendorff")
    lab = crowd.labels
    values = np.array([1.0, 2.0, 4.0, 7.0])  # uneven spacing so interval ≠ ordinal
    expected = krippendorff.alpha(
        reliability_data=_reliability_data(lab, values),
        level_of_measurement=metric,
        value_domain=values,
    )
    assert krippendorff_alpha(lab, metric, values=values) == pytest.approx(expected, abs=1e-9)


def test_alpha_on_ratings_with_an_unused_value(crowd_module):
    krippendorff = pytest.importorskip("krippendorff")
    crowd = crowd_module.make_crowd(600, 5, 25, (2, 6), seed=11)
    keep = crowd.labels.labels != 3  # nobody answers rating 4 any more
    lab = crowd.labels.select(keep)
    values = np.arange(1.0, 6.0)
    for metric in ("ordinal", "interval"):
        expected = krippendorff.alpha(
            reliability_data=_reliability_data(lab, values),
            level_of_measurement=metric,
            value_domain=values,
        )
        assert krippendorff_alpha(lab, metric, values=values) == pytest.approx(expected, abs=1e-9)


def test_interval_alpha_from_raw_values_matches_reference(crowd_module):
    krippendorff = pytest.importorskip("krippendorff")
    lab = crowd_module.make_crowd(
        80, 4, 8, (1, 5), seed=5
    ).labels  # the reference is O(units·values²)
    rng = np.random.default_rng(0)
    raw = lab.labels * 1.5 + rng.normal(0, 0.3, size=len(lab))  # continuous, every value distinct
    data = np.full((lab.n_workers, lab.n_items), np.nan)
    data[lab.workers, lab.items] = raw
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="interval")
    assert krippendorff_alpha_interval(lab.items, raw, n_items=lab.n_items) == pytest.approx(
        expected, abs=1e-9
    )
    # with values on the classes it equals the class-based interval α
    class_based = krippendorff_alpha(lab, "interval", values=np.arange(4) * 1.5)
    assert krippendorff_alpha_interval(lab.items, lab.labels * 1.5) == pytest.approx(class_based)


def test_class_values_come_from_numeric_class_ids():
    lab = Labels.from_records(
        [(i, w, str(r)) for i, r in enumerate([1, 2, 10, 10, 2]) for w in range(2)]
    )
    assert lab.class_ids == ["1", "2", "10"]  # natural, not lexical, order
    assert lab.class_values().tolist() == [1.0, 2.0, 10.0]


def test_coincidence_matrix_small_example():
    # unit 0: a, a, b (m=3, weight 1/2); unit 1: a, b (weight 1)
    lab = Labels.from_arrays([0, 0, 0, 1, 1], [0, 1, 2, 0, 1], [0, 0, 1, 0, 1])
    expected = np.array([[1.0, 1.0 + 1.0], [2.0, 0.0]])
    assert np.allclose(coincidence_matrix(lab), expected)


def test_edge_cases_all_agree_single_value_one_annotator():
    agree = Labels.from_records([(i, w, i % 2) for i in range(10) for w in range(3)])
    assert krippendorff_alpha(agree) == pytest.approx(1.0)
    assert krippendorff_alpha(agree, "interval") == pytest.approx(1.0)
    constant = Labels.from_records([(i, w, 1) for i in range(10) for w in range(3)])
    assert math.isnan(krippendorff_alpha(constant))
    solo = Labels.from_records([(i, "only", i % 2) for i in range(10)])
    assert math.isnan(krippendorff_alpha(solo))
    assert math.isnan(krippendorff_alpha_interval([0, 1], [1.0, 2.0]))


def test_spammers_pull_alpha_towards_zero(crowd_module):
    good = crowd_module.make_crowd(800, 4, 30, 5, mix={"good": 1.0}, seed=2)
    spam = crowd_module.make_crowd(800, 4, 30, 5, mix={"spammer": 1.0}, seed=2)
    assert krippendorff_alpha(good.labels) > 0.5
    assert abs(krippendorff_alpha(spam.labels)) < 0.05
