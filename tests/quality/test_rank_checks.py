"""Position and length bias of rankings: against scipy's Kendall test and exact binomial /
Poisson-binomial tails, and on simulated annotators with and without the biases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from labelhouse.quality import (
    rank_length_bias,
    rank_position_bias,
    rank_position_bias_by_annotator,
)


@pytest.mark.parametrize("k", [3, 4, 6, 9, 15])
def test_one_ranking_is_scipys_kendall_test_with_ties(k):
    rng = np.random.default_rng(k)
    for _ in range(20):
        ranks = rng.integers(1, 4, size=k).astype(float)
        lengths = rng.integers(100, 104, size=k).astype(float)
        ref = stats.kendalltau(-ranks, lengths, method="asymptotic")
        ours = rank_length_bias(ranks[None], lengths[None])
        if math.isnan(ref.statistic):
            assert math.isnan(ours.effect)
            continue
        assert ours.effect == pytest.approx(ref.statistic)
        assert ours.p_value == pytest.approx(ref.pvalue)


def _rankings(rng, n, k, length_weight):
    """Rankings of k responses by noisy quality + length_weight · standardised length."""
    lengths = rng.lognormal(5.0, 0.6, size=(n, k))
    z = (np.log(lengths) - 5.0) / 0.6
    utility = rng.normal(size=(n, k)) + length_weight * z
    ranks = np.argsort(np.argsort(-utility, axis=1), axis=1) + 1.0
    return ranks, lengths


def test_length_bias_found_when_present_and_not_when_absent():
    rng = np.random.default_rng(0)
    ranks, lengths = _rankings(rng, 400, 4, 0.0)
    neutral = rank_length_bias(ranks, lengths)
    assert not neutral.biased and abs(neutral.effect) < 0.05 and neutral.expected == 0.0
    ranks, lengths = _rankings(rng, 400, 4, 0.8)
    longer = rank_length_bias(ranks, lengths)
    assert longer.biased and longer.effect > 0.2 and longer.p_value < 1e-6
    assert "longer responses are ranked higher" in longer.verdict
    shorter = rank_length_bias(ranks, -lengths + 10_000)
    assert shorter.biased and shorter.effect == pytest.approx(-longer.effect)
    # rankings of different sizes: pad with nan
    mixed_r = np.full((2, 4), np.nan)
    mixed_l = np.full((2, 4), np.nan)
    mixed_r[0, :2], mixed_l[0, :2] = [1, 2], [50, 10]
    mixed_r[1], mixed_l[1] = [4, 3, 2, 1], [1, 2, 3, 4]
    both = rank_length_bias(mixed_r, mixed_l)
    assert both.n == 2 and both.effect == pytest.approx(1.0)


def test_length_bias_null_p_values_are_calibrated():
    rng = np.random.default_rng(1)
    p = [rank_length_bias(*_rankings(rng, 60, 3, 0.0)).p_value for _ in range(300)]
    assert 0.02 < np.mean(np.asarray(p) < 0.05) < 0.09  # nominal 5% false alarms


def test_length_bias_without_variation_or_with_bad_shapes():
    flat = rank_length_bias([[1, 2, 3]], [[10, 10, 10]])
    assert flat.n == 0 and math.isnan(flat.p_value) and not flat.biased
    with pytest.raises(ValueError, match="matching"):
        rank_length_bias([[1, 2]], [[1, 2, 3]])


def _poisson_binomial_two_sided(hits: int, p: np.ndarray) -> float:
    dist = np.array([1.0])
    for q in p:
        dist = np.convolve(dist, [1 - q, q])
    return float(min(1.0, dist[dist <= dist[hits] * (1 + 1e-9)].sum()))


def test_position_bias_is_exact_binomial_for_equal_chances_and_close_to_exact_otherwise():
    top = [True] * 9 + [False] * 21
    equal = rank_position_bias(top, [0.25] * 30)
    assert equal.p_value == pytest.approx(stats.binomtest(9, 30, 0.25).pvalue)
    assert equal.effect == pytest.approx(0.3) and equal.expected == pytest.approx(0.25)
    rng = np.random.default_rng(2)
    chance = rng.choice([1 / 3, 1 / 4, 1 / 5, 2 / 5], size=200)
    for hits in (30, 55, 80):
        outcome = np.zeros(200, dtype=bool)
        outcome[:hits] = True
        ours = rank_position_bias(outcome, chance).p_value
        assert ours == pytest.approx(_poisson_binomial_two_sided(hits, chance), abs=0.02)


def test_position_bias_finds_annotators_who_keep_the_shown_order():
    rng = np.random.default_rng(3)
    n, k = 300, 4
    annotator = rng.integers(0, 3, size=n)
    chance = np.full(n, 1 / k)
    honest_top = rng.random(n) < 1 / k  # the first-listed response is best by chance
    keeper = annotator == 2  # annotator 2 accepts the order as shown 70% of the time
    top = np.where(keeper, rng.random(n) < 0.7 + 0.3 / k, honest_top)
    overall = rank_position_bias(top, chance)
    assert overall.biased and "listed first is ranked best" in overall.verdict
    per = rank_position_bias_by_annotator(top, chance, annotator, n_annotators=4)
    assert [t.biased for t in per[:3]] == [False, False, True]
    assert per[3].n == 0 and math.isnan(per[3].effect)
    with pytest.raises(ValueError, match="one chance per ranking"):
        rank_position_bias([True], [0.5, 0.5])
