"""Comparing groups of annotators (workforces): the Wilson interval, clear majorities, and
agreement between groups on shared items, against hand-computed values and a loop."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from labelhouse.quality.data import Labels
from labelhouse.quality.group_compare import (
    clear_majority,
    consensus_hits,
    cross_agreement,
    group_sums,
    shared_items,
    wilson_interval,
)


def test_wilson_interval_matches_published_values_and_stays_in_bounds():
    low, high = wilson_interval([8, 9, 0, 10, 0], [10, 10, 10, 10, 0])
    assert low[:4] == pytest.approx([0.4902, 0.5958, 0.0, 0.7225], abs=1e-4)
    assert high[:4] == pytest.approx([0.9433, 0.9821, 0.2775, 1.0], abs=1e-4)
    assert np.isnan(low[4]) and np.isnan(high[4])  # nothing checked: no interval
    lo, hi = wilson_interval(np.arange(101), np.full(101, 100))
    assert np.all((lo >= 0) & (lo <= np.arange(101) / 100) & (hi >= np.arange(101) / 100))


def test_wilson_interval_covers_about_95_percent():
    rng = np.random.default_rng(1)
    p, n = 0.8, 60
    k = rng.binomial(n, p, size=20_000)
    low, high = wilson_interval(k, np.full(k.size, n))
    assert 0.93 < np.mean((low <= p) & (p <= high)) < 0.97


def labels(rows):
    items, workers, classes = zip(*rows, strict=True)
    return Labels.from_arrays(items, workers, classes, n_classes=3)


def test_clear_majority_skips_ties_and_single_answers():
    lab = labels([(0, 0, 1), (0, 1, 1), (0, 2, 2), (1, 0, 0), (1, 1, 2), (2, 0, 2)])
    assert clear_majority(lab).tolist() == [1, -1, -1]
    hits, scored = consensus_hits(lab, clear_majority(lab), np.array([0, 1, 1, 0, 1, 0]), 2)
    assert hits.tolist() == [1, 1] and scored.tolist() == [1, 2]


def test_group_sums_leave_out_unknown_groups_and_nan():
    assert group_sums([0, 1, -1, 1], None, 3).tolist() == [1, 2, 0]
    assert group_sums([0, 1, -1, 1], [0.5, np.nan, 9, 2], 3).tolist() == [0.5, 2, 0]


def test_cross_agreement_equals_a_loop_over_answer_pairs():
    rng = np.random.default_rng(3)
    n_items, n_groups = 40, 3
    rows = [
        (i, int(rng.integers(12)), int(rng.integers(3)))
        for i in range(n_items)
        for _ in range(int(rng.integers(1, 5)))
    ]
    groups = rng.integers(-1, n_groups, size=len(rows))
    got = cross_agreement(labels(rows), groups, n_groups)
    equal = np.zeros((n_groups, n_groups))
    pairs = np.zeros((n_groups, n_groups))
    for (x, gx), (y, gy) in itertools.permutations(zip(rows, groups, strict=True), 2):
        if x[0] == y[0] and gx >= 0 and gy >= 0 and gx != gy:
            pairs[gx, gy] += 1
            equal[gx, gy] += x[2] == y[2]
    assert got.pairs.tolist() == pairs.tolist()
    assert got.equal.tolist() == equal.tolist()
    shared = shared_items([r[0] for r in rows], groups, n_items, n_groups)
    both = {
        (a, b): len(
            {r[0] for r, g in zip(rows, groups, strict=True) if g == a}
            & {r[0] for r, g in zip(rows, groups, strict=True) if g == b}
        )
        for a in range(n_groups)
        for b in range(n_groups)
    }
    assert shared.tolist() == [[both[a, b] for b in range(n_groups)] for a in range(n_groups)]
