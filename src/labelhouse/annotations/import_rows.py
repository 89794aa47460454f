"""One row of an annotation import, checked for its shape (no database, no schema yet).

A row is ``{"external_id": str}`` or ``{"task_id": int}``, plus ``annotator`` (an e-mail
of a member, or any other identity: an external annotator), ``value`` (``{field: value}``),
optional ``created_at`` (ISO 8601; a time without a zone is UTC) and optional
``lead_time_ms`` (a whole number >= 0, capped at a day like a submission's). Every problem
is a sentence that starts with the key it is about, so with the row's place ("line 12")
it names the line and the field.

Values read from text (CSV cells, the long format's label) are not typed: :func:`cell_value`
turns one into what the field's kind accepts, trying the text itself first and then the
text read as JSON, so ``"3"`` is a rating's 3, ``'["a","b"]'`` a multi-choice list, and an
option named ``"1"`` stays the string it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from labelhouse.kinds.base import FieldKind
from labelhouse.storable import NUL

KEYS = ("external_id", "task_id", "annotator", "value", "created_at", "lead_time_ms")
MAX_LEAD_TIME_MS = 24 * 3600 * 1000  # as annotations.service: a day at most per answer
MAX_IDENTITY = 200
DIGITS = re.compile(r"[0-9]{1,18}")


@dataclass(slots=True)
class Row:
    """A row of good shape: which task (one of the two), who, what, when, how long."""

    where: str
    external_id: str | None
    task_id: int | None
    annotator: str
    value: dict[str, Any]
    created_at: datetime | None
    lead_time_ms: int

    @property
    def task_ref(self) -> str:
        return f"'{self.external_id}'" if self.external_id is not None else f"{self.task_id}"


def _whole(value: Any) -> int | None:
    """A whole number given as one, or as its digits (CSV cells are text)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and DIGITS.fullmatch(value.strip()):
        return int(value.strip())
    return None


def _time(value: Any) -> datetime | str:
    if not isinstance(value, str):
        return "created_at: expected an ISO 8601 time such as 2024-05-01T12:30:00Z"
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return f"created_at: '{value[:60]}' is not an ISO 8601 time such as 2024-05-01T12:30:00Z"
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def check_row(where: str, row: Any) -> Row | list[str]:
    """The row's shape, or every problem with it (values are checked later, per task)."""
    if not isinstance(row, dict):
        return [f"expected an object with {', '.join(KEYS[:4])}, got {type(row).__name__}"]
    problems: list[str] = []
    unknown = sorted(str(k) for k in row if k not in KEYS)
    if unknown:
        problems.append(f"unknown key(s) {', '.join(unknown)}; a row may have: {', '.join(KEYS)}")
    external_id = row.get("external_id")
    task_id = row.get("task_id")
    if external_id in (None, "") and task_id in (None, ""):
        problems.append("external_id: missing; name the task by external_id or task_id")
    elif external_id not in (None, "") and task_id not in (None, ""):
        problems.append("task_id: give external_id or task_id, not both")
    elif external_id not in (None, ""):
        if isinstance(external_id, bool) or not isinstance(external_id, str | int):
            problems.append("external_id: must be a string or an integer")
        else:
            external_id = str(external_id)
            if len(external_id) > 200 or NUL in external_id:
                problems.append("external_id: must be 1 to 200 characters, without NUL")
        task_id = None
    else:
        number = _whole(task_id)
        if number is None or number < 1:
            problems.append(f"task_id: expected a task id (a whole number >= 1), got {task_id!r}")
        task_id, external_id = number, None
    annotator = row.get("annotator")
    if not isinstance(annotator, str) or not annotator.strip():
        problems.append("annotator: missing; give a member's e-mail or the annotator's identity")
    else:
        annotator = annotator.strip()
        if len(annotator) > MAX_IDENTITY or NUL in annotator:
            problems.append(f"annotator: must be 1 to {MAX_IDENTITY} characters, without NUL")
    value = row.get("value")
    if not isinstance(value, dict):
        problems.append('value: expected an object of answers per field, e.g. {"label": "pos"}')
    created_at: datetime | None = None
    if row.get("created_at") not in (None, ""):
        when = _time(row["created_at"])
        if isinstance(when, str):
            problems.append(when)
        else:
            created_at = when
    lead = 0
    if row.get("lead_time_ms") not in (None, ""):
        number = _whole(row["lead_time_ms"])
        if number is None or number < 0:
            problems.append(
                f"lead_time_ms: expected a whole number of milliseconds >= 0, got "
                f"{row['lead_time_ms']!r}"
            )
        else:
            lead = min(number, MAX_LEAD_TIME_MS)
    if problems:
        return problems
    assert isinstance(annotator, str) and isinstance(value, dict)
    return Row(where, external_id, task_id, annotator, value, created_at, lead)


def cell_value(field: FieldKind, text: str, data: dict[str, Any] | None = None) -> Any:
    """What a text cell means for ``field``: the text itself if the kind takes it, else the
    text read as JSON if that parses (numbers, lists, objects), else the text (whose
    problem the kind then names). An empty cell is no answer (None)."""
    if text == "":
        return None
    try:
        field.validate_value(text, data or {})
    except Exception:  # not the text: a ValueProblem, or a kind that reads task data
        return _json_or_text(text)
    return text


def _json_or_text(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
