"""Text spans: the annotator marks labelled character ranges of a task's text (NER, …).

Offsets are Python ``str`` indices (Unicode code points), ``end`` exclusive. The stored
value also carries each span's ``text`` — recomputed here from the task, never trusted from
the client — so exports and reviewers can read spans without re-slicing the source.
Spans are sorted so equal answers compare equal.

With ``message`` set, ``source`` holds a conversation (kinds/conversation.py) and the spans
mark that message's text (``message: -1`` is the last one): offsets are relative to the
message, and its text is the text parts of its content joined by a blank line.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NamedTuple

from labelhouse.kinds._common import (
    ConfigBool,
    ConfigInt,
    DataKey,
    Options,
    as_int,
    check_keys,
    pick_option,
    shown,
)
from labelhouse.kinds.base import FieldKind, ValueProblem, empty_share, listed_answers

if TYPE_CHECKING:  # numpy-backed; imported where used, so commands that only validate
    # labels (the CLI import) start without numpy
    from labelhouse.quality.matching import Span


def as_spans(value: Any) -> list[Span]:
    """Stored span dicts as the ``(start, end, label)`` tuples the quality functions take."""
    if not isinstance(value, list):
        return []
    return [
        (int(s["start"]), int(s["end"]), str(s["label"]))
        for s in value
        if isinstance(s, dict) and {"start", "end", "label"} <= s.keys()
    ]


class _Span(NamedTuple):
    start: int
    end: int
    label: str
    index: int  # position in the submitted list, for error locations

    def describe(self, text: str) -> str:
        snippet = text[self.start : self.end]
        if len(snippet) > 30:
            snippet = snippet[:27] + "…"
        return f"[{self.start}, {self.end}) '{self.label}' \"{snippet}\""


class SpansField(FieldKind):
    kind: Literal["spans"] = "spans"
    kind_name: ClassVar[str] = "spans"

    source: DataKey = "text"
    labels: Options
    allow_overlap: ConfigBool = False
    message: ConfigInt | None = None  # mark spans in this message of a conversation

    def data_keys(self) -> tuple[str, ...]:
        return (self.source,)

    def source_text(self, data: dict[str, Any]) -> str:
        """The text spans are marked in; ``ValueError`` (a sentence) when the data lacks it."""
        from labelhouse.kinds.conversation import text_of

        return text_of(data.get(self.source), self.message, self.source)

    def check_data(self, data: dict[str, Any]) -> list[str]:
        problems = super().check_data(data)
        value = data.get(self.source)
        if value is None:
            return problems
        if self.message is None and not isinstance(value, str):
            problems.append(
                f"'{self.source}' must be a string (the text field '{self.name}' marks spans "
                f"in), got {shown(value)}"
            )
        elif self.message is not None:
            try:
                self.source_text(data)
            except ValueError as exc:
                problems.append(f"{exc} (field '{self.name}' marks spans in a message of it)")
        return problems

    def is_empty(self, value: Any) -> bool:
        # An empty list is a real answer: "this text contains nothing to mark".
        return value is None

    def validate_value(self, value: Any, data: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            text = self.source_text(data)
        except ValueError:
            raise ValueProblem(
                f"the task has no text under '{self.source}' to mark spans in"
            ) from None
        if not isinstance(value, list):
            raise ValueProblem(
                'expected a list of spans like [{"start": 0, "end": 5, "label": "PER"}]'
            )
        spans = sorted(
            (self._span(item, text, i) for i, item in enumerate(value)),
            key=lambda s: (s.start, s.end, s.label),
        )
        furthest: _Span | None = None  # the earlier span reaching furthest right
        for prev, span in zip([None, *spans], spans, strict=False):
            if prev is not None and prev[:3] == span[:3]:
                raise ValueProblem(
                    f"span {span.describe(text)} is given twice (also item {prev.index}); "
                    "remove one",
                    f"[{span.index}]",
                )
            if not self.allow_overlap and furthest is not None and span.start < furthest.end:
                raise ValueProblem(
                    f"span {span.describe(text)} overlaps span {furthest.describe(text)} "
                    f"(item {furthest.index}); this field does not allow overlapping spans — "
                    "shorten one of them or remove it",
                    f"[{span.index}]",
                )
            if furthest is None or span.end > furthest.end:
                furthest = span
        return [
            {"start": s.start, "end": s.end, "label": s.label, "text": text[s.start : s.end]}
            for s in spans
        ]

    # Agreement: F1 of spans matched one-to-one by label and overlap. Consensus: overlap
    # voting (quality.span_consensus) — a span is kept when annotators holding at least half
    # the vote weight drew a matching one (equal weights unless gold-weighted).
    def agreement_kind(self) -> str:
        return "spans"

    def compare(self, a: Any, b: Any) -> float:
        from labelhouse.quality.matching import span_f1

        return span_f1(as_spans(a), as_spans(b), match="overlap").f1

    def merge(
        self,
        values: Sequence[Any],
        weights: Sequence[float] | None = None,
        *,
        data: dict[str, Any] | None = None,
    ) -> tuple[Any, float]:
        """Consensus spans; confidence = mean (weighted) support of the kept spans, or the
        share of annotators who marked nothing when none is kept."""
        answers, answer_weights = listed_answers(values, weights)
        if not answers:
            return None, 0.0
        from labelhouse.quality.consensus import span_consensus

        voted = span_consensus([as_spans(v) for v in answers], weights=answer_weights)
        text = None
        if data:
            with suppress(ValueError):
                text = self.source_text(data)
        merged = []
        for v in voted:
            start, end, label = v.value
            span: dict[str, Any] = {"start": start, "end": end, "label": label}
            if isinstance(text, str):
                span["text"] = text[start:end]
            merged.append(span)
        if not voted:
            return [], empty_share(answers)
        return merged, sum(v.confidence for v in voted) / len(voted)

    def _span(self, item: Any, text: str, i: int) -> _Span:
        where = f"[{i}]"
        if not isinstance(item, dict):
            raise ValueProblem(
                f'expected a span object like {{"start": 0, "end": 5, "label": "PER"}}, '
                f"got {shown(item)}",
                where,
            )
        check_keys(item, required=("start", "end", "label"), optional=("text",), where=where)
        offsets = {}
        for key in ("start", "end"):
            offset = as_int(item[key])
            if offset is None:
                raise ValueProblem(
                    f"{key} must be a whole-number character offset, got {shown(item[key])}",
                    f"{where}.{key}",
                )
            offsets[key] = offset
        start, end = offsets["start"], offsets["end"]
        if start < 0:
            raise ValueProblem(f"start must be 0 or more, got {start}", f"{where}.start")
        if end > len(text):
            raise ValueProblem(
                f"end ({end}) is past the end of the text ({len(text)} characters); offsets "
                "count characters from 0 and end is exclusive",
                f"{where}.end",
            )
        if start >= end:
            raise ValueProblem(
                f"start ({start}) must be less than end ({end}); a span covers at least one "
                "character",
                f"{where}.end",
            )
        label = pick_option(item["label"], self.labels, f"{where}.label", what="label")
        return _Span(start, end, label, i)
