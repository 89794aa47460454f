"""A Labelhouse export → a Label Studio JSON export (the ``label_studio`` export format),
plus the labeling config it goes with (``layout.write_config``).

One task per record: ``data`` is the task's data plus what the config's objects show
(``<field>_a``/``<field>_b`` for a pairwise field, ``<field>_items`` for a ranking field);
``meta.labelhouse`` keeps the task's Labelhouse id and external id, so importing the file
back gives the tasks their own ids again. Answers become ``annotations``; the
option ``annotators`` says what their ``completed_by`` is:

* ``keep`` (the default): ``{"id", "email"}`` — the annotator's Labelhouse id and an address
  under the reserved ``.invalid`` domain (exports carry ids, not people's addresses), which
  reads back as that annotator. Label Studio imports it when started with
  ``ALLOW_IMPORT_TASKS_WITH_UNKNOWN_EMAILS=true`` (the answers then count as the importer's);
  otherwise it refuses unknown addresses.
* ``omit``: no ``completed_by``; stock Label Studio gives the answers to whoever imports.

Predictions keep their model version and score.

What Label Studio cannot hold is left out of the results: a pairwise tie, a box of a task
whose image size is unknown. A rating scale not starting at 1 is shifted to start at 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import orjson

from labelhouse.interop.label_studio.controls import Control
from labelhouse.interop.label_studio.layout import check_mappable, items_key, layout, pair_keys
from labelhouse.interop.label_studio.results import write_results
from labelhouse.kinds.rating import RatingField
from labelhouse.kinds.registry import LabelSchema

INVALID_DOMAIN = "labelhouse.invalid"
CHUNK = 256 * 1024  # bytes per piece yielded (as exports/writers.py coalesces)


def annotator_email(annotator_id: Any) -> str:
    return f"annotator-{annotator_id}@{INVALID_DOMAIN}"


def task_data(data: dict[str, Any], controls: Mapping[str, Control]) -> dict[str, Any]:
    """The task's data with what pairwise and ranking objects show added."""
    out = dict(data)
    for control in controls.values():
        responses = data.get(control.derived_key or "")
        if not isinstance(responses, list):
            continue
        texts = [r.get("text", r.get("content")) if isinstance(r, dict) else r for r in responses]
        if control.kind == "pairwise" and len(texts) == 2:
            a, b = pair_keys(control.field)
            out[a], out[b] = texts
        elif control.kind == "ranking":
            out[items_key(control.field)] = [
                {"id": _id(r, i), "title": "", "body": text}
                for i, (r, text) in enumerate(zip(responses, texts, strict=True))
            ]
    return out


def _id(response: Any, index: int) -> str:
    if isinstance(response, dict) and response.get("id") is not None:
        return str(response["id"])
    return str(index + 1)


class TaskWriter:
    """Labelhouse records → Label Studio tasks, for one schema."""

    def __init__(self, schema: LabelSchema, *, keep_annotators: bool = True) -> None:
        self.schema = schema
        self.keep_annotators = keep_annotators
        self.controls, _, _ = layout(schema)
        self.shift = {f.name: 1 - f.min for f in schema.fields if isinstance(f, RatingField)}

    def results(self, value: Any, data: dict[str, Any], prefix: str) -> list[Any]:
        if not isinstance(value, dict):
            return []
        out: list[Any] = []
        for name, field_value in value.items():
            control = self.controls.get(name)
            if control is None or field_value is None:
                continue
            if name in self.shift and isinstance(field_value, int):
                field_value += self.shift[name]
            out.extend(write_results(control, field_value, data, f"{prefix}-{name}"))
        return out

    def task(self, record: Mapping[str, Any]) -> dict[str, Any]:
        data = record["data"] if isinstance(record["data"], dict) else {}
        task_id = record["id"]
        annotations = []
        for a in record.get("annotations") or []:
            lead = a.get("lead_time_ms")
            annotation: dict[str, Any] = {"id": a["id"]}
            if self.keep_annotators:
                uid = a["annotator_id"]
                annotation["completed_by"] = {"id": uid, "email": annotator_email(uid)}
            annotations.append(
                annotation
                | {
                    "result": self.results(a["value"], data, f"a{a['id']}"),
                    "was_cancelled": False,
                    "ground_truth": False,
                    "created_at": a.get("created_at"),
                    "updated_at": a.get("updated_at"),
                    "lead_time": lead / 1000 if isinstance(lead, int | float) else None,
                }
            )
        predictions = [
            {
                "model_version": p.get("model_version") or "",
                "score": p.get("score"),
                "result": self.results(p["value"], data, f"t{task_id}-p{i}"),
            }
            for i, p in enumerate(record.get("predictions") or [])
        ]
        return {
            "id": task_id,
            "data": task_data(data, self.controls),
            "meta": {"labelhouse": {"task_id": task_id, "external_id": record.get("external_id")}},
            "annotations": annotations,
            "predictions": predictions,
            "created_at": record.get("created_at"),
        }


ANNOTATORS = ("keep", "omit")


def parse_options(schema: Any, options: Mapping[str, str]) -> dict[str, Any]:
    """The format's one option, ``annotators`` (``keep`` or ``omit``, see above)."""
    from labelhouse.errors import InvalidInput, Problem

    check_mappable(schema)
    unknown = sorted(set(options) - {"annotators"})
    problems = [
        Problem(name, "not an option of this format; it takes annotators") for name in unknown
    ]
    annotators = options.get("annotators", "keep")
    if annotators not in ANNOTATORS:
        problems.append(Problem("annotators", f"use one of: {', '.join(ANNOTATORS)}"))
    if problems:
        raise InvalidInput("Invalid options for the label_studio format.", problems)
    return {"annotators": annotators}


def write_label_studio(
    records: Iterable[dict[str, Any]],
    *,
    schema: LabelSchema,
    options: Mapping[str, Any] | None = None,
    **_: Any,
) -> Iterator[bytes]:
    """The export format's writer: a JSON array of Label Studio tasks, streamed."""
    writer = TaskWriter(schema, keep_annotators=(options or {}).get("annotators") != "omit")

    buffer = bytearray(b"[")
    first = True
    for record in records:
        buffer += (b"\n" if first else b",\n") + orjson.dumps(writer.task(record))
        first = False
        if len(buffer) >= CHUNK:
            yield bytes(buffer)
            buffer.clear()
    yield bytes(buffer + b"\n]\n")
