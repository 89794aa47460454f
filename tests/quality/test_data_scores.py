"""The label matrix (factorising, counts, CSV) and annotator scorecards."""

from __future__ import annotations

import math

import numpy as np
import pytest

from labelhouse.quality import (
    Labels,
    Thresholds,
    agreement_with_consensus,
    dawid_skene,
    factorize,
    label_entropy,
    majority_vote,
    median_time,
    scorecards,
)


def test_from_records_factorises_ids_and_keeps_unused_classes():
    lab = Labels.from_records(
        [("t1", "ann", "neg"), ("t1", "bob", "pos"), ("t2", "ann", "pos")],
        classes=["neg", "neu", "pos"],
    )
    assert (lab.n_items, lab.n_workers, lab.n_classes) == (2, 2, 3)
    assert lab.item_ids == ["t1", "t2"] and lab.worker_ids == ["ann", "bob"]
    assert lab.item_class_counts().tolist() == [[1, 0, 1], [0, 0, 1]]
    assert lab.worker_class_counts().tolist() == [[1, 0, 1], [0, 0, 1]]
    assert lab.labels_per_item().tolist() == [2, 1]
    with pytest.raises(ValueError, match="not one of the declared classes"):
        Labels.from_records([("t1", "ann", "maybe")], classes=["neg", "pos"])


def test_factorize_orders_numbers_naturally():
    codes, uniques = factorize(["10", "2", "2", "1"])
    assert uniques == ["1", "2", "10"] and codes.tolist() == [2, 1, 1, 0]
    codes, uniques = factorize(np.array(["b", "a", "b"]))
    assert uniques == ["a", "b"] and codes.tolist() == [1, 0, 1]
    codes, uniques = factorize([("x", 1), "y", ("x", 1)])  # incomparable: first appearance
    assert codes.tolist() == [0, 1, 0]


def test_validation_and_duplicates():
    with pytest.raises(ValueError, match="same length"):
        Labels(np.array([0]), np.array([0, 1]), np.array([0]), 1, 2, 1)
    with pytest.raises(ValueError, match="codes must lie"):
        Labels.from_arrays([0, 5], [0, 0], [0, 1], n_items=2)
    lab = Labels.from_arrays([0, 0, 0, 1], [0, 0, 1, 0], [1, 2, 1, 0])
    assert lab.has_duplicates()
    deduped = lab.drop_duplicates()
    assert not deduped.has_duplicates()
    assert sorted(
        zip(deduped.items.tolist(), deduped.workers.tolist(), deduped.labels.tolist())
    ) == [
        (0, 0, 2),  # the later answer replaces the earlier one
        (0, 1, 1),
        (1, 0, 0),
    ]


def test_from_csv_reads_comma_and_tab_files(tmp_path):
    comma = tmp_path / "labels.csv"
    comma.write_text("question,worker,answer\nq1,w1,0\nq1,w2,1\nq2,w1,1\n", encoding="utf-8")
    lab = Labels.from_csv(comma, item="question", worker="worker", label="answer")
    assert (len(lab), lab.n_items, lab.n_workers, lab.n_classes) == (3, 2, 2, 2)
    tab = tmp_path / "labels.tsv"
    tab.write_text("item\tannotator\tlabel\na\tx\tyes\n", encoding="utf-8")
    assert len(Labels.from_csv(tab, item="item", worker="annotator", label="label")) == 1
    with pytest.raises(ValueError, match="no column"):
        Labels.from_csv(comma, item="task", worker="worker", label="answer")


def test_median_time_per_worker():
    med = median_time([0, 0, 0, 1, 1, 2], [5.0, 1.0, 3.0, 4.0, 2.0, 7.0], n_workers=4)
    assert med[:3].tolist() == [3.0, 3.0, 7.0]
    assert math.isnan(med[3])


def test_label_entropy_and_consensus_agreement():
    lab = Labels.from_arrays(
        [0, 1, 2, 3, 0, 1, 2, 3], [0, 0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1, 0, 1]
    )
    entropy = label_entropy(lab)
    assert entropy[0] == 0.0 and entropy[1] == pytest.approx(1.0)
    share, n = agreement_with_consensus(lab, [0, 1, -1, 0])
    assert n.tolist() == [3, 3]
    assert share.tolist() == pytest.approx([2 / 3, 2 / 3])  # item 2 has no consensus


def test_scorecards_flag_spammers_adversaries_and_speeders(crowd):
    lab = crowd.labels
    types = np.array(crowd.worker_types)
    rng = np.random.default_rng(0)
    seconds = rng.lognormal(np.log(20), 0.3, size=len(lab))
    speeders = np.isin(lab.workers, np.nonzero(types == "spammer")[0][:2])
    seconds[speeders] = 1.0
    ds = dawid_skene(lab)
    gold = np.arange(0, lab.n_items, 2)
    cards = scorecards(
        lab,
        consensus=ds.labels,
        estimated_accuracy=ds.worker_accuracy,
        gold_items=gold,
        gold_classes=crowd.truth[gold],
        seconds=seconds,
        thresholds=Thresholds(min_gold_accuracy=0.6),  # good workers here are 75–95% right
    )
    assert cards.near_constant[types == "adversarial"].all()
    assert not cards.near_constant[types == "good"].any()
    assert cards.low_gold_accuracy[np.isin(types, ["spammer", "adversarial"])].all()
    assert not cards.low_gold_accuracy[types == "good"].any()
    assert cards.too_fast.sum() == 2 and cards.too_fast[np.nonzero(types == "spammer")[0][:2]].all()
    assert cards.flagged[types != "good"].mean() > 0.6
    assert np.nanmean(cards.consensus_agreement[types == "good"]) > np.nanmean(
        cards.consensus_agreement[types == "spammer"]
    )
    assert (
        cards.estimated_accuracy is not None
        and cards.n_gold.sum() == np.isin(lab.items, gold).sum()
    )


def test_scorecards_without_optional_signals(crowd):
    cards = scorecards(crowd.labels, thresholds=Thresholds(max_entropy=0.0))
    assert np.isnan(cards.gold_accuracy).all() and np.isnan(cards.median_seconds).all()
    assert not cards.flagged.any()
    assert cards.n_labels.sum() == len(crowd.labels)
    assert majority_vote(crowd.labels).labels.shape == (crowd.labels.n_items,)
