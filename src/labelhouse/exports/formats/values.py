"""Which answers a training format writes: every annotator's (``raw``), one merged value
per task (``consensus``; a reviewed task's reviewed value wins), or only what review
settled (``reviewed``). Shared by every format that writes one example per answer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from labelhouse.errors import InvalidInput, Problem

VALUE_SOURCES = ("raw", "consensus", "reviewed")


@dataclass(frozen=True)
class Answer:
    """One answer of a task as a format writes it: the value per field, and who gave it
    (``annotation`` is the raw annotation record, None for consensus and reviewed values;
    ``confidence`` per field for consensus)."""

    value: dict[str, Any]
    annotation: dict[str, Any] | None = None
    confidence: dict[str, float] | None = None
    method: str | None = None


def parse_value_source(options: Mapping[str, str], default: str = "raw") -> str:
    """The ``values`` option: raw, consensus or reviewed."""
    source = options.get("values", default)
    if source not in VALUE_SOURCES:
        raise InvalidInput(
            f"Unknown values '{source}'.",
            [Problem("values", f"use one of: {', '.join(VALUE_SOURCES)}")],
        )
    return source


def answers(record: Mapping[str, Any], source: str) -> Iterator[Answer]:
    """The answers of one export record (decoded values, ``raw_json=False``) to write.

    ``raw``: each submitted annotation; ``consensus``: the record's consensus (present when
    the plan computed it; fields nobody answered are absent); ``reviewed``: the reviewed
    value of a reviewed, accepted or corrected task (nothing for other tasks)."""
    if source == "raw":
        for annotation in record.get("annotations") or ():
            yield Answer(value=annotation["value"] or {}, annotation=annotation)
    elif source == "consensus":
        merged = record.get("consensus") or {}
        if merged:
            yield Answer(
                value={name: c["value"] for name, c in merged.items()},
                confidence={name: c["confidence"] for name, c in merged.items()},
                method=next(iter(merged.values()))["method"],
            )
    else:
        reviewed = record.get("review")
        if reviewed and reviewed.get("value"):
            yield Answer(value=reviewed["value"], method="review")
