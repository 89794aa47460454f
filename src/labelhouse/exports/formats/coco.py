"""COCO object detection JSON (``instances_*.json``) from a boxes field.

One image per labelled task (``id`` = the task id, ``file_name`` = the image reference,
``width``/``height`` from the task data), one annotation per box (``bbox`` = ``[x, y,
width, height]`` in absolute pixels, ``area`` = width × height, ``iscrowd`` 0, ids from 1
in export order), one category per label of the field (ids from 1, schema order; COCO keeps
0 for "background" by custom). Boxes only: no ``segmentation`` key (detectron2 drops an
instance whose segmentation is an empty list). Raw values carry who drew each box (``annotator_id``,
``labelhouse_annotation_id``); consensus values carry ``confidence``.

Memory: the file is written in one pass over the records. ``images`` streams out as the
records come; the annotations of those images are encoded as they come too, into a
spooled temporary file (memory up to ``SPOOL_BYTES``, then disk), and copied out after the
images. Nothing else is kept: ids are the task id and a counter. A second pass over the
records would read every task twice from the database; keeping the annotations as Python
objects would grow with the project. ``info`` comes last, so it can say what was counted
but not written (``labelhouse.not_written``); JSON readers do not care about key order.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import orjson

from labelhouse.exports.formats._options import FIELD_HELP, VALUES_HELP, common
from labelhouse.exports.formats._vision import label_names, labelled
from labelhouse.exports.formats.options import OptionHelp
from labelhouse.exports.formats.values import VALUE_SOURCES

DESCRIPTION = (
    "COCO object detection JSON (pycocotools): images, boxes in pixels, categories from "
    "the boxes field's labels"
)
OPTION_HELP: tuple[OptionHelp, ...] = (
    OptionHelp("field", FIELD_HELP),
    OptionHelp("values", VALUES_HELP, choices=VALUE_SOURCES),
)
SPOOL_BYTES = 16 * 1024 * 1024


def parse_options(schema: Any, options: Mapping[str, str]) -> dict[str, Any]:
    return common(schema, options, "boxes", "COCO", ())


def write_coco(
    records: Iterable[dict[str, Any]],
    *,
    schema: Any,
    options: Mapping[str, Any],
    **_: Any,
) -> Iterator[bytes]:
    from labelhouse.exports.writers import _chunked  # writers registers this module

    return _chunked(_pieces(records, schema, options))


def _pieces(
    records: Iterable[dict[str, Any]], schema: Any, options: Mapping[str, Any]
) -> Iterator[bytes]:
    field = schema.field(options["field"])
    source: str = options["values"]
    counts: Counter[str] = options.get("counts", Counter())
    names = label_names(field)
    categories = [{"id": i + 1, "name": name, "supercategory": ""} for i, name in enumerate(names)]
    yield b'{"categories":' + orjson.dumps(categories) + b',\n"images":['
    annotation_id = 0
    image_count = 0
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        for record in records:
            written_image = False
            for image, answer, boxes in labelled(record, field, source, counts):
                if not written_image:
                    entry = {
                        "id": image.task_id,
                        "file_name": image.reference,
                        "width": image.width,
                        "height": image.height,
                        "labelhouse_external_id": image.external_id,
                    }
                    yield (b"\n" if image_count == 0 else b",\n") + orjson.dumps(entry)
                    image_count += 1
                    written_image = True
                extra = _answer_keys(record, answer, field.name)
                for box in boxes:
                    annotation_id += 1
                    item = {
                        "id": annotation_id,
                        "image_id": image.task_id,
                        "category_id": box.class_index + 1,
                        "bbox": [box.x, box.y, box.width, box.height],
                        "area": _area(box.width, box.height),
                        "iscrowd": 0,
                        **extra,
                    }
                    spool.write((b"\n" if annotation_id == 1 else b",\n") + orjson.dumps(item))
        yield b'],\n"annotations":['
        spool.seek(0)
        while chunk := spool.read(256 * 1024):
            yield chunk
    info = {
        "description": "Exported from Labelhouse",
        "labelhouse": {
            "field": field.name,
            "values": source,
            "images": image_count,
            "annotations": annotation_id,
            "not_written": dict(sorted(counts.items())),
        },
    }
    yield b'],\n"info":' + orjson.dumps(info) + b',\n"licenses":[]}\n'


def _area(width: float, height: float) -> int | float:
    area = round(width * height, 4) + 0.0
    return int(area) if area.is_integer() else area


def _answer_keys(record: Mapping[str, Any], answer: Any, field_name: str) -> dict[str, Any]:
    """Who gave the boxes (raw values) or how sure the consensus is (this field's own
    method: ``Answer.method`` is one for all fields)."""
    if answer.annotation is not None:
        return {
            "annotator_id": answer.annotation["annotator_id"],
            "labelhouse_annotation_id": answer.annotation["id"],
        }
    if answer.confidence is not None:
        merged = (record.get("consensus") or {}).get(field_name) or {}
        return {
            "confidence": answer.confidence.get(field_name),
            "method": merged.get("method", answer.method),
        }
    return {"method": answer.method}
