"""A Label Studio JSON export → Labelhouse task rows and annotation rows, streamed.

The export (a JSON array of tasks, possibly gigabytes) is read one task at a time with
ijson (``tasks.readers.read_json_array``: bounded item size and nesting). Each task gives

* a **task row** in the importer's structured shape (``tasks/import_rows.py``):
  ``{"data", "external_id", "predictions": [{"value", "model_version", "score"}]}``;
  ``external_id`` is the Label Studio task id (or the Labelhouse one a Labelhouse export
  recorded in ``meta``), and data gains the keys pairwise/ranking fields read
  (``controls.py``) and ``image_width``/``image_height`` from the boxes' original size;
* **annotation rows** ``{"external_id", "annotator", "value", "created_at",
  "lead_time_ms"}`` for ``annotations.imports.import_annotations``: ``annotator`` is the
  annotator's e-mail when the export has it (the Export dialog's snapshots do) or their
  Label Studio user id as text.

Every value is checked by its field kind (and so normalised: spans sorted with their text,
boxes at 1/100 px, choices in option order) before it is written; a result that cannot be
carried over is dropped with a warning naming the task, never silently. Skipped answers
(``was_cancelled``) and drafts are not carried over and are counted.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

from labelhouse.errors import InvalidInput, Problem
from labelhouse.interop.label_studio.config import Conversion
from labelhouse.interop.label_studio.controls import Control
from labelhouse.interop.label_studio.results import Skip, item_text, read_result
from labelhouse.kinds.base import ValueProblem
from labelhouse.tasks.readers import RowError, read_json_array

MAX_WARNINGS = 100
UPLOAD_PREFIXES = ("/data/upload/", "/data/local-files/?d=")


@dataclass
class ReadReport:
    """What reading the export found and left out."""

    tasks: int = 0
    annotations: int = 0
    predictions: int = 0
    cancelled: int = 0  # skipped answers (was_cancelled), not carried over
    drafts: int = 0
    prediction_ids: int = 0  # predictions the export lists by id only
    dropped: int = 0  # results (or whole values) that could not be carried over
    left_out: int = 0  # tasks whose data the schema cannot read
    unknown_controls: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)

    def warn(self, sentence: str) -> None:
        self.dropped += 1
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(sentence)

    def summary(self) -> list[str]:
        """Sentences for the user: everything not carried over, counted."""
        out = list(self.warnings)
        if self.dropped > len(self.warnings):
            out.append(f"… and {self.dropped - len(self.warnings)} more results were dropped")
        for name, n in sorted(self.unknown_controls.items()):
            out.append(f"{n} results of the control '{name}' were dropped: it was not carried over")
        if self.cancelled:
            out.append(f"{self.cancelled} skipped (cancelled) answers were not carried over")
        if self.drafts:
            out.append(f"{self.drafts} drafts were not carried over")
        if self.prediction_ids:
            out.append(
                f"{self.prediction_ids} predictions are listed by id only in this export; "
                "export from Label Studio's Export dialog (a snapshot) to carry them over"
            )
        return out


@dataclass
class Converted:
    task: dict[str, Any]
    annotations: list[dict[str, Any]]


def read_export(
    stream: BinaryIO, conversion: Conversion, report: ReadReport
) -> Iterator[Converted]:
    """Each task of the export, converted; a malformed export stops with ``InvalidInput``
    naming the item."""
    for where, item in read_json_array(stream):
        if isinstance(item, RowError):
            raise InvalidInput(
                f"The Label Studio export cannot be read at {where}: {item.problem}.",
                [Problem(where, item.problem)],
            )
        if not isinstance(item, dict) or not isinstance(item.get("data"), dict):
            raise InvalidInput(
                f"The Label Studio export's {where} is not a task with a 'data' object; is this "
                "a Label Studio JSON export?",
                [Problem(where, 'expected {"data": {…}, "annotations": […], …}')],
            )
        report.tasks += 1
        converted = convert_task(item, conversion, report)
        problems = conversion.schema.check_task_data(converted.task["data"])
        if problems:  # checked here, before a project exists, rather than by the importer
            report.left_out += 1
            report.warn(
                f"task {item.get('id')} was left out with its answers: {'; '.join(problems)}"
            )
            continue
        yield converted


def convert_task(task: dict[str, Any], conversion: Conversion, report: ReadReport) -> Converted:
    data = dict(task["data"])
    external_id = _external_id(task)
    where = f"task {task.get('id', external_id)}"
    _prepare_data(data, task, conversion, report, where)
    predictions = []
    for p in task.get("predictions") or []:
        if not isinstance(p, dict):
            report.prediction_ids += 1
            continue
        value = _value(p.get("result"), data, conversion, report, f"{where}, prediction")
        if not value:
            continue
        model_version = p.get("model_version")
        score = p.get("score")
        predictions.append(
            {
                "value": value,
                "model_version": str(model_version or "")[:200],
                "score": score if isinstance(score, int | float) and math.isfinite(score) else None,
            }
        )
        report.predictions += 1
    row: dict[str, Any] = {"data": data, "external_id": external_id}
    if predictions:
        row["predictions"] = predictions
    report.drafts += len(task.get("drafts") or [])
    answers = []
    for a in task.get("annotations") or []:
        if not isinstance(a, dict):
            continue
        if a.get("was_cancelled"):
            report.cancelled += 1
            continue
        label = f"{where}, annotation {a.get('id')}"
        value = _value(a.get("result"), data, conversion, report, label, answer=True)
        answers.append(
            {
                "external_id": external_id,
                "annotator": _annotator(a.get("completed_by")),
                "value": value,
                "created_at": _iso(a.get("created_at")),
                "lead_time_ms": _milliseconds(a.get("lead_time")),
            }
        )
        report.annotations += 1
    return Converted(row, answers)


def _external_id(task: dict[str, Any]) -> str | None:
    meta = task.get("meta")
    mine = meta.get("labelhouse") if isinstance(meta, dict) else None
    if isinstance(mine, dict) and isinstance(mine.get("external_id"), str | int):
        return str(mine["external_id"])
    task_id = task.get("id")
    return (
        str(task_id) if isinstance(task_id, str | int) and not isinstance(task_id, bool) else None
    )


def _prepare_data(
    data: dict[str, Any],
    task: dict[str, Any],
    conversion: Conversion,
    report: ReadReport,
    where: str,
) -> None:
    """Image references as uploaded file names, the image size, and the keys pairwise and
    ranking fields read."""
    for control in conversion.controls.values():
        if control.image_key:
            ref = data.get(control.image_key)
            if isinstance(ref, str) and ref.startswith(UPLOAD_PREFIXES):
                data[control.image_key] = ref.rsplit("/", 1)[-1].rsplit("=", 1)[-1]
            size = _original_size(task, control)
            if size is not None:
                data.setdefault("image_width", size[0])
                data.setdefault("image_height", size[1])
        elif control.kind == "pairwise":
            sides = [data.get(key) for key in control.sources]
            if all(isinstance(s, str) for s in sides):
                data[control.derived_key] = sides  # type: ignore[index]
        elif control.kind == "ranking":
            items = data.get(control.sources[0])
            if isinstance(items, list):
                data[control.derived_key] = [  # type: ignore[index]
                    {"id": _item_id(item, i), "text": item_text(item)}
                    for i, item in enumerate(items)
                ]


def _item_id(item: Any, index: int) -> str | int:
    raw = item.get("id") if isinstance(item, dict) else None
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    return str(raw) if raw is not None else str(index + 1)


def _original_size(task: dict[str, Any], control: Control) -> tuple[int, int] | None:
    for group in ("annotations", "predictions"):
        for answer in task.get(group) or []:
            for item in (answer.get("result") or []) if isinstance(answer, dict) else []:
                if isinstance(item, dict) and item.get("from_name") == control.name:
                    w, h = item.get("original_width"), item.get("original_height")
                    if isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0:
                        return w, h
    return None


def _value(
    result: Any,
    data: dict[str, Any],
    conversion: Conversion,
    report: ReadReport,
    where: str,
    *,
    answer: bool = False,
) -> dict[str, Any]:
    """One answer's results as ``{field: value}``, each checked by its kind."""
    raw: dict[str, Any] = {}
    controls = conversion.controls
    if answer:  # a submitted answer without regions says "nothing to mark here"
        for control in controls.values():
            if control.kind in ("spans", "boxes"):
                raw[control.field] = []
    for item in result if isinstance(result, list) else []:
        if not isinstance(item, dict):
            continue
        found = controls.get(str(item.get("from_name")))
        if found is None:
            report.unknown_controls[str(item.get("from_name"))] += 1
            continue
        try:
            raw[found.field] = read_result(found, item, data, raw.get(found.field))
        except Skip as exc:
            report.warn(f"{where}: {found.name}: {exc} was dropped")
    value = {}
    for name, given in raw.items():
        kind = conversion.schema.field(name)
        assert kind is not None  # controls only name the schema's fields
        try:
            value[name] = kind.validate_value(given, data)
        except ValueProblem as exc:
            report.warn(f"{where}: {name}{exc.where}: {exc.problem}; the value was dropped")
    return value


def _annotator(completed_by: Any) -> str:
    if isinstance(completed_by, dict):
        email = completed_by.get("email")
        return str(email) if email else str(completed_by.get("id", "unknown"))
    return str(completed_by) if completed_by is not None else "unknown"


def _iso(stamp: Any) -> str | None:
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.fromisoformat(stamp).isoformat()
    except ValueError:
        return None


def _milliseconds(seconds: Any) -> int | None:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return None
    return round(seconds * 1000) if math.isfinite(seconds) and seconds >= 0 else None
