"""Consensus spans and boxes by overlap voting.

For structured kinds there is no "class per item" to vote on, so each drawn span or box is
a candidate and the annotators vote for it by having drawn a matching one (same label and
enough overlap, as in :mod:`labelhouse.quality.matching`). A candidate is kept when at least
``min_share`` of the item's annotators (default: half) support it; its confidence is that
share. Annotators who drew nothing still count in the denominator — they voted "no span".
Optional per-annotator weights (e.g. from gold accuracy) turn head counts into weight
shares; the kept coordinates stay the plain median of the supporters' shapes.

Among candidates describing the same object, the best supported wins (ties: higher mean
overlap, then first drawn) and the others are suppressed, as in non-maximum suppression.
The kept shape's coordinates are the median of the supporting annotators' matching shapes,
which is robust to one sloppy boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

import numpy as np

from labelhouse.quality.data import FloatArray
from labelhouse.quality.matching import Box, Span, box_iou_matrix, span_iou_matrix

Shape = TypeVar("Shape", Span, Box)


@dataclass(frozen=True)
class Voted(Generic[Shape]):
    """A consensus shape with its support (annotators who drew a match) and confidence."""

    value: Shape
    support: int
    confidence: float


def _vote(
    annotations: Sequence[Sequence[Shape]],
    score: Callable[[Sequence[Shape], Sequence[Shape]], FloatArray],
    matches: Callable[[FloatArray], np.ndarray],
    merge: Callable[[list[Shape]], Shape],
    min_share: float,
    weights: Sequence[float] | None = None,
) -> list[Voted[Shape]]:
    n_annotators = len(annotations)
    pool = [shape for shapes in annotations for shape in shapes]
    if not pool or n_annotators == 0:
        return []
    weight = np.ones(n_annotators)
    if weights is not None:
        if len(weights) != n_annotators:
            raise ValueError(f"got {len(weights)} weights for {n_annotators} annotators")
        given = np.clip(np.asarray(weights, dtype=np.float64), 0.0, None)
        if given.sum() > 0:  # all-zero weights: nobody is trusted more, count heads
            weight = given
    total = float(weight.sum())
    owner = np.repeat(np.arange(n_annotators), [len(s) for s in annotations])
    sim = score(pool, pool)
    ok = matches(sim)
    # best[c, a]: index of annotator a's best-matching shape for candidate c, or -1.
    best = np.full((len(pool), n_annotators), -1)
    best_sim = np.full((len(pool), n_annotators), -np.inf)
    for a in range(n_annotators):
        cols = np.nonzero(owner == a)[0]
        if cols.size == 0:
            continue
        masked = np.where(ok[:, cols], sim[:, cols], -np.inf)
        pick = np.argmax(masked, axis=1)
        has = np.isfinite(masked[np.arange(len(pool)), pick])
        best[has, a] = cols[pick[has]]
        best_sim[has, a] = masked[np.arange(len(pool)), pick][has]
    count = (best >= 0).sum(axis=1)
    support = (best >= 0) @ weight
    mean_sim = np.where(best >= 0, best_sim, 0.0).sum(axis=1) / np.maximum(count, 1)
    needed = min_share * total
    order = sorted(range(len(pool)), key=lambda c: (-support[c], -mean_sim[c], c))
    taken = np.zeros(len(pool), dtype=bool)
    result: list[Voted[Shape]] = []
    for c in order:
        if support[c] < needed - 1e-9:
            break
        if taken[c]:
            continue
        members = [int(i) for i in best[c] if i >= 0]
        backing = float(weight[owner[members]].sum())
        if taken[members].any():
            members = [i for i in members if not taken[i]]
            backing = float(weight[owner[members]].sum())
            if backing < needed - 1e-9:
                continue
        value = merge([pool[i] for i in members])
        taken[members] = True
        taken |= ok[c]  # suppress every other candidate describing the same object
        result.append(Voted(value=value, support=len(members), confidence=backing / total))
    return result


def _median_span(spans: list[Span]) -> Span:
    starts = np.median([s[0] for s in spans])
    ends = np.median([s[1] for s in spans])
    return (int(np.floor(starts)), int(np.ceil(ends)), spans[0][2])


def _median_box(boxes: list[Box]) -> Box:
    coords = np.median(np.asarray([b[:4] for b in boxes], dtype=np.float64), axis=0)
    x, y, width, height = (round(float(v), 2) for v in coords)
    return (x, y, width, height, boxes[0][4])


def span_consensus(
    annotations: Sequence[Sequence[Span]],
    *,
    match: Literal["exact", "overlap"] = "overlap",
    min_iou: float = 0.0,
    min_share: float = 0.5,
    weights: Sequence[float] | None = None,
) -> list[Voted[Span]]:
    """Consensus spans of one text from each annotator's spans (one list per annotator);
    ``weights`` (one per annotator, e.g. from gold accuracy) weigh the votes."""
    if match == "exact":

        def matches(sim: FloatArray) -> np.ndarray:
            return sim >= 1.0 - 1e-12
    else:

        def matches(sim: FloatArray) -> np.ndarray:
            return sim > min_iou

    voted = _vote(annotations, span_iou_matrix, matches, _median_span, min_share, weights)
    return sorted(voted, key=lambda v: (v.value[0], v.value[1], v.value[2]))


def box_consensus(
    annotations: Sequence[Sequence[Box]],
    *,
    iou_threshold: float = 0.5,
    min_share: float = 0.5,
    weights: Sequence[float] | None = None,
) -> list[Voted[Box]]:
    """Consensus boxes of one image from each annotator's boxes (one list per annotator);
    ``weights`` (one per annotator) weigh the votes."""

    def matches(sim: FloatArray) -> np.ndarray:
        return sim >= iou_threshold

    return _vote(annotations, box_iou_matrix, matches, _median_box, min_share, weights)
