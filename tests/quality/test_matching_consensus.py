"""Span and box agreement (matched F1) and consensus by overlap voting."""

from __future__ import annotations

import pytest

from labelhouse.quality import (
    box_consensus,
    box_f1,
    box_iou_matrix,
    micro_f1,
    span_consensus,
    span_f1,
    span_iou_matrix,
)


def test_span_f1_exact_and_overlap():
    a = [(0, 5, "PER"), (10, 20, "ORG"), (30, 35, "LOC")]
    b = [(0, 5, "PER"), (12, 20, "ORG"), (30, 35, "PER")]
    exact = span_f1(a, b, match="exact")
    assert (exact.matched, exact.n_a, exact.n_b) == (1, 3, 3)
    assert exact.f1 == pytest.approx(1 / 3)
    overlap = span_f1(a, b, match="overlap")
    assert overlap.matched == 2  # the ORG spans overlap; LOC vs PER differ in label
    assert overlap.f1 == pytest.approx(2 / 3)
    strict = span_f1(a, b, match="overlap", min_iou=0.9)
    assert strict.matched == 1


def test_span_f1_is_one_to_one_and_handles_empty():
    a = [(0, 10, "X")]
    b = [(0, 4, "X"), (5, 10, "X")]  # both overlap a, only one may match it
    result = span_f1(a, b, match="overlap")
    assert result.matched == 1
    assert result.precision == pytest.approx(0.5) and result.recall == pytest.approx(1.0)
    assert span_f1([], []).f1 == 1.0
    assert span_f1([(0, 1, "X")], []).f1 == 0.0
    assert micro_f1([span_f1(a, b, match="overlap"), span_f1([], [])]).f1 == pytest.approx(2 / 3)


def test_span_iou_matrix():
    iou = span_iou_matrix([(0, 10, "A"), (0, 10, "B")], [(5, 15, "A")])
    assert iou[0, 0] == pytest.approx(5 / 15)
    assert iou[1, 0] == 0.0


def test_box_f1_at_iou_threshold_uses_the_assignment_not_greedy():
    # a0 overlaps b0 best (0.9) and b1 enough; a1 overlaps only b0 — greedy would pair
    # (a0, b0) and leave a1 unmatched, the assignment finds two matches.
    a = [(0, 0, 10, 10, "car"), (3, 0, 10, 10, "car")]
    b = [(1, 0, 9, 10, "car"), (-3, 0, 10, 10, "car")]
    iou = box_iou_matrix(a, b)
    assert iou[0, 0] == pytest.approx(0.9)
    assert iou[0, 1] >= 0.5 and iou[1, 0] >= 0.5 and iou[1, 1] < 0.5
    assert box_f1(a, b, iou_threshold=0.5).matched == 2
    assert box_f1(a, b, iou_threshold=0.95).matched == 0
    assert box_f1([(0, 0, 10, 10, "car")], [(0, 0, 10, 10, "bus")]).matched == 0
    assert box_iou_matrix([(0, 0, 10, 10, "x")], [(5, 5, 10, 10, "x")])[0, 0] == pytest.approx(
        25 / 175
    )


def test_span_consensus_keeps_majority_spans_with_share_as_confidence():
    annotations = [
        [(0, 5, "PER"), (10, 20, "ORG")],
        [(0, 5, "PER"), (11, 20, "ORG"), (40, 45, "LOC")],
        [(1, 5, "PER")],
        [],  # an annotator who marked nothing still votes
    ]
    result = span_consensus(annotations)
    values = [(v.value, v.support, v.confidence) for v in result]
    assert values == [((0, 5, "PER"), 3, 0.75), ((10, 20, "ORG"), 2, 0.5)]
    exact = span_consensus(annotations, match="exact")
    assert [(v.value, v.support) for v in exact] == [((0, 5, "PER"), 2)]
    assert span_consensus([[], []]) == []


def test_box_consensus_merges_matching_boxes_by_median():
    annotations = [
        [(0, 0, 10, 10, "car"), (50, 50, 5, 5, "dog")],
        [(1, 0, 10, 10, "car")],
        [(0, 1, 10, 12, "car"), (80, 80, 5, 5, "dog")],
    ]
    result = box_consensus(annotations, iou_threshold=0.5)
    assert len(result) == 1
    assert result[0].value == (0.0, 0.0, 10.0, 10.0, "car")
    assert result[0].support == 3 and result[0].confidence == 1.0
    # with a lower bar the lone dog boxes are still single votes, below half of 3
    assert len(box_consensus(annotations, iou_threshold=0.1)) == 1


def test_weighted_votes_let_a_trusted_minority_keep_or_drop_shapes():
    trusted = [(0, 5, "PER")]
    careless = [(10, 14, "ORG")]
    annotations = [trusted, careless, careless]
    assert [v.value for v in span_consensus(annotations)] == [(10, 14, "ORG")]
    weighted = span_consensus(annotations, weights=[3.0, 1.0, 1.0])
    assert [v.value for v in weighted] == [(0, 5, "PER")]
    assert weighted[0].confidence == pytest.approx(3 / 5) and weighted[0].support == 1
    # equal weights are head counts; all-zero weights fall back to them
    for w in ([1.0, 1.0, 1.0], [2.0, 2.0, 2.0], [0.0, 0.0, 0.0]):
        same = span_consensus(annotations, weights=w)
        assert same == span_consensus(annotations)
    box = (0.0, 0.0, 10.0, 10.0, "car")
    lone = box_consensus([[box], [], []], weights=[4.0, 1.0, 1.0])
    assert [v.value for v in lone] == [box] and lone[0].confidence == pytest.approx(4 / 6)
    assert box_consensus([[box], [], []]) == []
    with pytest.raises(ValueError, match="weights for 3 annotators"):
        box_consensus([[box], [], []], weights=[1.0])
