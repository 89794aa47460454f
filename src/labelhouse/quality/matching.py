"""Agreement for structured labels: text spans and bounding boxes, as matched F1.

Two annotators agree on a span or box when they drew "the same" one; F1 over a one-to-one
matching is the standard agreement for these kinds because κ needs a fixed set of units
and spans/boxes have none. Formats follow the field kinds:

* span: ``(start, end, label)`` with ``end`` exclusive (``kinds/spans.py``);
* box: ``(x, y, width, height, label)`` in image pixels (``kinds/boxes.py``).

Conventions: if both annotators marked nothing, F1 = 1 (they agree there is nothing);
if only one did, F1 = 0. Matches require equal labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from labelhouse.quality.data import FloatArray

Span = tuple[int, int, str]
Box = tuple[float, float, float, float, str]


@dataclass(frozen=True)
class MatchF1:
    """Matched counts of one comparison; F1 is symmetric, precision/recall take ``a`` as truth."""

    matched: int
    n_a: int
    n_b: int

    @property
    def precision(self) -> float:
        return self.matched / self.n_b if self.n_b else (1.0 if not self.n_a else 0.0)

    @property
    def recall(self) -> float:
        return self.matched / self.n_a if self.n_a else (1.0 if not self.n_b else 0.0)

    @property
    def f1(self) -> float:
        total = self.n_a + self.n_b
        return 2.0 * self.matched / total if total else 1.0

    def __add__(self, other: MatchF1) -> MatchF1:
        return MatchF1(self.matched + other.matched, self.n_a + other.n_a, self.n_b + other.n_b)


def micro_f1(results: Iterable[MatchF1]) -> MatchF1:
    """Pool the counts of many items (micro-average): large items weigh more."""
    total = MatchF1(0, 0, 0)
    for result in results:
        total = total + result
    return total


def match_pairs(
    score: FloatArray, threshold: float, *, strict: bool = False
) -> list[tuple[int, int]]:
    """One-to-one matching that maximises the number of pairs scoring ≥ ``threshold``.

    Hungarian assignment (``scipy.optimize.linear_sum_assignment``) on a cost that counts
    each qualifying pair as 1 and adds a tiny bonus for a higher score, so among the
    maximum matchings it prefers the best-overlapping one. Greedy matching can lose pairs
    when one box overlaps two others; the assignment cannot, and it is fast at the sizes
    of one item (tens of spans or boxes). ``strict`` requires ``score > threshold``.
    """
    if score.size == 0:
        return []
    ok = score > threshold if strict else score >= threshold
    gain = ok + 1e-6 * np.clip(score, 0.0, 1.0) * ok
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(-gain)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if ok[r, c]]


# --------------------------------------------------------------------------- spans
def _span_arrays(spans: Sequence[Span]) -> tuple[FloatArray, FloatArray, np.ndarray]:
    if not spans:
        return np.empty(0), np.empty(0), np.empty(0, dtype=object)
    starts, ends, labels = zip(*spans, strict=True)
    return np.asarray(starts, float), np.asarray(ends, float), np.asarray(labels, dtype=object)


def span_iou_matrix(a: Sequence[Span], b: Sequence[Span]) -> FloatArray:
    """Intersection over union of every span pair with equal labels (0 where labels differ)."""
    sa, ea, la = _span_arrays(a)
    sb, eb, lb = _span_arrays(b)
    inter = np.clip(
        np.minimum(ea[:, None], eb[None, :]) - np.maximum(sa[:, None], sb[None, :]), 0.0, None
    )
    union = (ea - sa)[:, None] + (eb - sb)[None, :] - inter
    iou = np.zeros_like(inter)
    np.divide(inter, union, out=iou, where=union > 0)
    return iou * (la[:, None] == lb[None, :])


def span_f1(
    a: Sequence[Span],
    b: Sequence[Span],
    *,
    match: Literal["exact", "overlap"] = "exact",
    min_iou: float = 0.0,
) -> MatchF1:
    """Span agreement between two annotators on one text.

    ``exact``: same start, end and label (multiset intersection). ``overlap``: same label and
    IoU > ``min_iou`` (default: any shared character), matched one-to-one.
    """
    if match == "exact":
        remaining = list(b)
        matched = 0
        for span in a:
            if span in remaining:
                remaining.remove(span)
                matched += 1
        return MatchF1(matched, len(a), len(b))
    if match != "overlap":
        raise ValueError(f"match must be 'exact' or 'overlap', got {match!r}")
    pairs = match_pairs(span_iou_matrix(a, b), min_iou, strict=True)
    return MatchF1(len(pairs), len(a), len(b))


# --------------------------------------------------------------------------- boxes
def _box_arrays(boxes: Sequence[Box]) -> tuple[FloatArray, np.ndarray]:
    if not boxes:
        return np.empty((0, 4)), np.empty(0, dtype=object)
    coords = np.asarray([box[:4] for box in boxes], dtype=np.float64)
    return coords, np.asarray([box[4] for box in boxes], dtype=object)


def box_iou_matrix(a: Sequence[Box], b: Sequence[Box]) -> FloatArray:
    """IoU of every pair of ``(x, y, width, height, label)`` boxes; 0 where labels differ."""
    ca, la = _box_arrays(a)
    cb, lb = _box_arrays(b)
    x1 = np.maximum(ca[:, None, 0], cb[None, :, 0])
    y1 = np.maximum(ca[:, None, 1], cb[None, :, 1])
    x2 = np.minimum((ca[:, 0] + ca[:, 2])[:, None], (cb[:, 0] + cb[:, 2])[None, :])
    y2 = np.minimum((ca[:, 1] + ca[:, 3])[:, None], (cb[:, 1] + cb[:, 3])[None, :])
    inter = np.clip(x2 - x1, 0.0, None) * np.clip(y2 - y1, 0.0, None)
    union = (ca[:, 2] * ca[:, 3])[:, None] + (cb[:, 2] * cb[:, 3])[None, :] - inter
    iou = np.zeros_like(inter)
    np.divide(inter, union, out=iou, where=union > 0)
    return iou * (la[:, None] == lb[None, :])


def box_f1(a: Sequence[Box], b: Sequence[Box], *, iou_threshold: float = 0.5) -> MatchF1:
    """Box agreement: same label and IoU ≥ ``iou_threshold``, matched one-to-one (Hungarian)."""
    pairs = match_pairs(box_iou_matrix(a, b), iou_threshold)
    return MatchF1(len(pairs), len(a), len(b))
