"""Issue 17: accelerated Dawid–Skene that converges on hard crowds, lone answers kept,
non-identifiable crowds flagged, the one-coin prior chosen from data, and consensus
confidence calibrated on gold."""

from __future__ import annotations

import math

import numpy as np
import pytest

from labelhouse.quality import (
    Labels,
    calibrate,
    choose_one_coin_prior,
    dawid_skene,
    expected_calibration_error,
    reliability_bins,
)


def test_accelerated_em_converges_on_a_hard_crowd_in_fewer_passes(crowd_module):
    # spammers, one-button clickers and systematic flippers outnumber the good workers
    crowd = crowd_module.make_hard_crowd(45_000, 4, seed=4)
    plain = dawid_skene(crowd.labels, accelerate=False, max_iter=500)
    fast = dawid_skene(crowd.labels)
    assert plain.converged and fast.converged
    assert fast.n_iter < 0.75 * plain.n_iter, (fast.n_iter, plain.n_iter)
    assert abs(fast.final_change) < 1e-8
    # the same fixed point: the same labels up to a handful of items mid-flip
    assert (fast.labels != plain.labels).sum() <= 0.001 * crowd.truth.size
    assert (fast.labels == crowd.truth).mean() >= (plain.labels == crowd.truth).mean() - 0.002
    assert fast.log_likelihood >= plain.log_likelihood - 1e-6 * len(crowd.labels)
    assert fast.identifiable and fast.kept_single == 0  # 2–4 answers per item
    assert np.allclose(fast.confusion.sum(axis=2), 1.0) and np.allclose(fast.priors.sum(), 1.0)
    # a run cut short says so
    short = dawid_skene(crowd.labels, max_iter=3)
    assert not short.converged and short.n_iter == 3 and short.final_change > 1e-8


def test_overlap_one_is_not_identifiable_and_keeps_the_answers():
    lab = Labels.from_arrays(np.arange(50), np.arange(50) % 5, np.arange(50) % 3, n_items=51)
    result = dawid_skene(lab, max_iter=200)
    assert not result.identifiable
    assert result.n_iter == 0 and result.converged  # no EM run to max_iter
    assert result.labels[:50].tolist() == (np.arange(50) % 3).tolist()
    assert result.labels[50] == -1 and math.isnan(result.confidence[50])
    assert np.isnan(result.worker_accuracy).all()


def _one_button_crowd() -> tuple[Labels, int]:
    """Workers 0–2 agree on items 0–39 (truth i % 2); worker 3 says 0 wherever truth is 1
    and 1 wherever it is 0. Item 40 has worker 3's lone answer 0."""
    items, workers, answers = [], [], []
    for i in range(40):
        for w in range(3):
            items.append(i), workers.append(w), answers.append(i % 2)
        items.append(i), workers.append(3), answers.append(1 - i % 2)
    items.append(40), workers.append(3), answers.append(0)
    return Labels.from_arrays(items, workers, answers, n_classes=2), 40


def test_a_lone_answer_is_kept_unless_asked():
    lab, lone = _one_button_crowd()
    kept = dawid_skene(lab)
    assert kept.labels[lone] == 0  # the only answer stands
    assert kept.kept_single == 1
    assert kept.confidence[lone] < 0.5  # ... and its confidence says the model doubts it
    overturned = dawid_skene(lab, keep_single_answers=False)
    assert overturned.labels[lone] == 1 and overturned.kept_single == 0
    assert kept.labels[:lone].tolist() == (np.arange(40) % 2).tolist()


def test_auto_prior_finds_the_one_coin_prior_on_a_sparse_crowd(crowd_module):
    # few labels per worker, two very rare classes, half the crowd spams
    crowd = crowd_module.make_crowd(
        1500, 6, 50, (2, 4), imbalance=1.0, mix={"good": 0.5, "spammer": 0.5}, seed=1010
    )
    assert choose_one_coin_prior(crowd.labels) > 0
    auto = dawid_skene(crowd.labels, one_coin_prior="auto")
    plain = dawid_skene(crowd.labels)
    assert auto.one_coin_prior > 0 and plain.one_coin_prior == 0
    assert (auto.labels == crowd.truth).mean() > (plain.labels == crowd.truth).mean() + 0.1
    # a well-determined crowd keeps the default: a stronger prior must earn its place
    easy = crowd_module.make_crowd(600, 3, 10, 7, seed=5)
    assert choose_one_coin_prior(easy.labels) == 0.0


def test_calibration_fixes_an_overconfident_consensus():
    rng = np.random.default_rng(0)
    n = 1000
    truth_p = rng.uniform(0.55, 0.98, n)  # the chance each consensus is right...
    logit = np.log(truth_p / (1 - truth_p))
    confidence = 1 / (1 + np.exp(-4 * logit))  # ... which the model overstates
    correct = rng.random(n) < truth_p
    assert confidence.mean() > 0.95 and correct.mean() < 0.8
    assert expected_calibration_error(confidence, correct) > 0.15
    cal = calibrate(confidence, correct)
    assert cal.status == "calibrated" and cal.n_gold == n
    assert cal.slope == pytest.approx(0.25, abs=0.06)  # recovers the overstatement
    assert cal.ece_after is not None and cal.ece_after < 0.05 < cal.ece_before
    assert cal.apply(confidence).mean() == pytest.approx(correct.mean(), abs=0.02)
    assert math.isnan(cal.apply([np.nan])[0])
    bins = reliability_bins(confidence, correct)
    assert sum(b.count for b in bins) == n and bins[-1].upper == 1.0
    assert cal.bins_before == bins and sum(b.count for b in cal.bins_after) == n


def test_too_little_gold_stays_uncalibrated_and_says_why():
    cal = calibrate([0.99] * 12, [True] * 9 + [False] * 3)
    assert cal.status == "uncalibrated" and "12 gold tasks" in cal.reason
    assert cal.apply([0.99, 0.6]).tolist() == [0.99, 0.6]
    assert cal.accuracy == 0.75 and cal.ece_before == pytest.approx(0.24)
    empty = calibrate([], [])
    assert empty.status == "uncalibrated" and empty.n_gold == 0 and math.isnan(empty.ece_before)
    # every gold task right: the fit stays finite (Platt's smoothed targets)
    perfect = calibrate(np.linspace(0.6, 1.0, 40), [True] * 40)
    assert perfect.status == "calibrated"
    assert 0.9 < float(perfect.apply([0.99])[0]) < 1.0
    with pytest.raises(ValueError, match="3 confidences for 2 outcomes"):
        calibrate([0.5, 0.6, 0.7], [True, False])
