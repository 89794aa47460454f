"""The pre-fill rule, in one place: which of a task's predictions the annotate page fills in
(``web/static/js/annotate/initial.js``) and what became of each pre-filled field in the
answer submitted.

Export provenance (``pre_annotated``/``kept``) and the acceptance report of the quality
page both read it from here, so "pre-filled" and "kept" mean the same thing everywhere. The
pick exists twice only because one side runs in SQL: :func:`shown_prediction` over a list
of predictions in Python, :func:`shown_order` as the ``ORDER BY`` of a query over the
``prediction`` table; a test checks that both pick the same row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from sqlalchemy import ColumnElement

from labelhouse.kinds.base import FieldKind
from labelhouse.tasks.models import Prediction

Outcome = Literal["kept", "changed", "cleared"]
KEPT: Outcome = "kept"
CHANGED: Outcome = "changed"
CLEARED: Outcome = "cleared"
OUTCOMES: tuple[Outcome, ...] = (KEPT, CHANGED, CLEARED)


def shown_prediction(predictions: Sequence[Mapping[str, Any]] | None) -> Any:
    """The prediction the annotate page pre-fills: the highest score (a missing score
    lowest), the first of equals (predictions come in id order)."""
    best: Mapping[str, Any] | None = None
    best_score = float("-inf")
    for p in predictions or ():
        score = p.get("score")
        score = float("-inf") if score is None else score
        if best is None or score > best_score:
            best, best_score = p, score
    return best


def shown_order(p: Any = Prediction) -> tuple[ColumnElement[Any] | Any, ...]:
    """:func:`shown_prediction` as an ``ORDER BY`` (first row = the pre-filled one) over
    ``p``, the prediction table or an alias of it. ``score IS NULL`` first puts missing
    scores last on both databases (PostgreSQL sorts NULL first in descending order)."""
    return (p.score.is_(None), p.score.desc(), p.id)


def blank(value: Any) -> bool:
    """The default emptiness (``FieldKind.is_empty``), for callers that have no kinds."""
    return value is None or value == "" or value == [] or value == {}


def field_outcome(
    name: str,
    predicted: Mapping[str, Any] | None,
    answer: Mapping[str, Any] | None,
    kind: FieldKind | None = None,
) -> Outcome | None:
    """What the answer did with the pre-filled value of field ``name``: ``kept`` (equal),
    ``changed`` (another non-empty value) or ``cleared`` (left empty or removed). None when
    the prediction leaves the field empty: nothing was pre-filled there to accept.

    Emptiness is the kind's (an empty span list is an answer, "nothing to mark"); values
    are compared as stored JSON, which is exact because imported predictions are validated
    and normalised by the same kinds as answers are.
    """
    is_empty: Callable[[Any], bool] = kind.is_empty if kind is not None else blank
    if not isinstance(predicted, Mapping) or name not in predicted:
        return None
    expected = predicted[name]
    if is_empty(expected):
        return None
    given = answer.get(name) if isinstance(answer, Mapping) else None
    if is_empty(given):
        return CLEARED
    return KEPT if given == expected else CHANGED
