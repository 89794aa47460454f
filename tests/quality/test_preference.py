"""Bradley–Terry against choix and a direct scipy MLE; preference-data checks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, stats

from labelhouse.quality import (
    annotator_reliability,
    bradley_terry,
    length_bias,
    position_bias,
    position_bias_by_annotator,
    transitivity_violations,
)


@pytest.fixture(scope="module")
def comparisons(crowd_module):
    return crowd_module.make_comparisons(60, 6000, n_annotators=30, random_share=0.2, seed=3)


def _mle_scipy(winners, losers, n, alpha):
    def negative(s):
        d = s[winners] - s[losers]
        value = np.logaddexp(0.0, -d).sum() + 0.5 * alpha * s @ s
        p = 1.0 / (1.0 + np.exp(-d))
        grad = -np.bincount(winners, weights=1 - p, minlength=n) + np.bincount(
            losers, weights=1 - p, minlength=n
        )
        return value, grad + alpha * s

    options = {"gtol": 1e-12, "ftol": 1e-16, "maxiter": 20000}
    return optimize.minimize(negative, np.zeros(n), jac=True, method="L-BFGS-B", options=options).x


def _gradient(scores, winners, losers, n, alpha):
    p = 1.0 / (1.0 + np.exp(-(scores[winners] - scores[losers])))
    return (
        np.bincount(winners, weights=1 - p, minlength=n)
        - np.bincount(losers, weights=1 - p, minlength=n)
        - alpha * scores
    )


def test_bradley_terry_matches_a_direct_scipy_mle(comparisons):
    c = comparisons
    result = bradley_terry(c.winners, c.losers, n_items=60, alpha=0.01)
    expected = _mle_scipy(c.winners, c.losers, 60, 0.01)
    assert result.converged and result.n_iter < 15
    assert (
        np.abs(_gradient(result.scores, c.winners, c.losers, 60, 0.01)).max() < 1e-8
    )  # exact optimum
    assert np.allclose(result.scores, expected - expected.mean(), atol=1e-3)  # L-BFGS stops earlier
    assert abs(result.scores.mean()) < 1e-9


def test_bradley_terry_matches_choix_up_to_the_gauge(comparisons):
    choix = pytest.importorskip("choix")
    c = comparisons
    ours = bradley_terry(c.winners, c.losers, n_items=60, alpha=0.0)
    reference = choix.ilsr_pairwise(
        60, np.column_stack([c.winners, c.losers]), alpha=0.0, tol=1e-12
    )
    assert np.allclose(ours.scores, reference - reference.mean(), atol=1e-6)
    tau_ours = stats.kendalltau(ours.scores, c.true_scores).statistic
    tau_ref = stats.kendalltau(reference, c.true_scores).statistic
    assert tau_ours >= tau_ref - 1e-12
    assert tau_ours > 0.85


def test_confidence_intervals_cover_the_truth_about_95_percent(crowd_module):
    covered = []
    for seed in range(20):
        c = crowd_module.make_comparisons(30, 3000, random_share=0.0, seed=100 + seed)
        result = bradley_terry(c.winners, c.losers, n_items=30, alpha=1e-6)
        truth = c.true_scores - c.true_scores.mean()
        covered.append((result.ci_low <= truth) & (truth <= result.ci_high))
    coverage = np.mean(covered)
    assert 0.9 <= coverage <= 0.99
    assert result.ci_method == "fisher"


def test_bradley_terry_ties_unbeaten_items_and_win_probability():
    # 0 beats 1 three times, 1 beats 2 three times, 0 and 2 tie twice; item 3 never loses.
    winners = [0, 0, 0, 1, 1, 1, 3, 3]
    losers = [1, 1, 1, 2, 2, 2, 0, 2]
    result = bradley_terry(winners, losers, ties=([0, 0], [2, 2]))
    assert np.isfinite(result.scores).all()  # the weak prior keeps the unbeaten item finite
    assert result.scores[3] == result.scores.max()
    assert result.wins[0] == pytest.approx(3 + 1.0)  # two half wins from the ties
    assert result.n_comparisons.tolist() == [6, 6, 6, 2]
    assert 0.5 < result.win_probability(0, 1) < 1.0
    assert result.win_probability(0, 1) + result.win_probability(1, 0) == pytest.approx(1.0)


def test_bradley_terry_sparse_path_for_many_items(crowd_module):
    c = crowd_module.make_comparisons(2500, 60000, seed=9)
    result = bradley_terry(c.winners, c.losers, n_items=2500)
    assert result.ci_method == "fisher-diagonal"
    assert stats.kendalltau(result.scores, c.true_scores).statistic > 0.7
    assert np.abs(_gradient(result.scores, c.winners, c.losers, 2500, 0.01)).max() < 1e-6


def test_annotator_reliability_separates_random_clickers(comparisons):
    c = comparisons
    result = bradley_terry(c.winners, c.losers, n_items=60)
    share, n = annotator_reliability(
        result.scores, c.winners, c.losers, c.annotators, n_annotators=30
    )
    types = np.array(c.annotator_types)
    assert n.sum() == c.winners.size
    assert share[types == "careful"].min() > share[types == "random"].max()
    assert np.abs(share[types == "random"] - 0.5).max() < 0.1


def test_position_bias_detects_a_planted_bias_and_not_an_absent_one(crowd_module):
    biased = crowd_module.make_comparisons(50, 4000, position_bias=0.4, seed=1)
    fair = crowd_module.make_comparisons(50, 4000, position_bias=0.0, seed=1)
    found = position_bias(biased.first_won)
    assert found.biased and found.effect > 0.53 and found.p_value < 1e-6
    assert "first/left" in found.verdict
    clean = position_bias(fair.first_won)
    assert not clean.biased and clean.p_value > 0.05
    assert "no evidence" in clean.verdict
    assert clean.p_value == pytest.approx(stats.binomtest(int(fair.first_won.sum()), 4000).pvalue)
    per_annotator = position_bias_by_annotator(biased.first_won, biased.annotators)
    assert len(per_annotator) == 50 and sum(t.n for t in per_annotator) == 4000
    assert position_bias([]).n == 0


def test_transitivity_counts_cyclic_triads_per_annotator():
    # annotator 0: 0>1, 1>2, 2>0 (one cycle) plus 0>3, 1>3, 2>3 (consistent), 2>3 repeated
    # annotator 1: a consistent order 0>1>2>3 over all six pairs
    # annotator 2: judges the pair (0, 1) both ways once — contradicted, no triad
    judgments = [
        (0, 0, 1), (0, 1, 2), (0, 2, 0), (0, 0, 3), (0, 1, 3), (0, 2, 3), (0, 2, 3),
        (1, 0, 1), (1, 0, 2), (1, 0, 3), (1, 1, 2), (1, 1, 3), (1, 2, 3),
        (2, 0, 1), (2, 1, 0),
    ]  # fmt: skip
    who, winners, losers = (list(col) for col in zip(*judgments, strict=True))
    result = transitivity_violations(winners, losers, who)
    assert result.cyclic_triads.tolist() == [1, 0, 0]
    assert result.triads.tolist() == [4, 4, 0]
    assert result.contradicted_pairs.tolist() == [0, 0, 1]
    assert result.violation_rate[0] == pytest.approx(0.25)


def test_transitivity_of_a_random_tournament_matches_the_closed_form():
    rng = np.random.default_rng(0)
    n = 12
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    flips = rng.random(len(pairs)) < 0.5
    winners = [j if f else i for (i, j), f in zip(pairs, flips, strict=True)]
    losers = [i if f else j for (i, j), f in zip(pairs, flips, strict=True)]
    out_degree = np.bincount(winners, minlength=n)
    expected = n * (n - 1) * (n - 2) // 6 - int((out_degree * (out_degree - 1) // 2).sum())
    result = transitivity_violations(winners, losers, np.zeros(len(pairs), dtype=int))
    assert result.cyclic_triads[0] == expected
    assert result.triads[0] == n * (n - 1) * (n - 2) // 6


def test_length_bias_detects_preference_for_longer_answers():
    rng = np.random.default_rng(5)
    n = 3000
    la = rng.integers(50, 800, size=n)
    lb = rng.integers(50, 800, size=n)
    x = np.log2(la / lb)
    biased_choice = rng.random(n) < 1 / (1 + np.exp(-0.8 * x))
    found = length_bias(biased_choice, la, lb)
    assert found.biased and found.effect == pytest.approx(0.8, abs=0.15)
    assert "longer" in found.verdict
    fair = length_bias(rng.random(n) < 0.5, la, lb)
    assert not fair.biased
    assert not length_bias([True, False, True], [10, 10, 10], [10, 10, 10]).biased


def test_length_bias_p_value_is_the_likelihood_ratio_test_of_statsmodels():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(8)
    n = 400
    la, lb = rng.integers(50, 800, size=n), rng.integers(50, 800, size=n)
    x = np.log2(la / lb)
    chosen = rng.random(n) < 1 / (1 + np.exp(-(0.3 + 0.25 * x)))
    ours = length_bias(chosen, la, lb)
    ref = sm.Logit(chosen.astype(float), sm.add_constant(x)).fit(disp=0)
    assert ours.effect == pytest.approx(ref.params[1], rel=1e-6)
    assert ours.p_value == pytest.approx(ref.llr_pvalue, rel=1e-6)


def test_length_bias_under_separation_is_still_detected():
    # every judgment went to the longer response: the Wald test would say p ≈ 1
    la = np.array([10, 400] * 15)
    lb = np.array([400, 10] * 15)
    found = length_bias(la > lb, la, lb)
    assert found.biased and found.p_value < 1e-6 and found.effect > 1
