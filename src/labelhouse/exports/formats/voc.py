"""Pascal VOC detection annotations from a boxes field: a zip of one XML file per image.

``Annotations/<stem>.xml`` per labelled image (stems as in YOLO: task id first, ``_a<id>``
per raw answer), each ``<annotation>`` holding ``folder``, ``filename`` (the image's file
name in the dataset, ``<stem><suffix>``), ``path`` (its reference in Labelhouse),
``source``, ``size`` (``width``, ``height``, ``depth`` 3), ``segmented`` 0 and one
``<object>`` per box: ``name`` (the label), ``pose`` Unspecified, ``truncated`` (1 when the
box touches the image edge), ``difficult`` 0 and ``bndbox``.

Coordinates follow the VOC devkit: 1-based pixel indices, ``xmax``/``ymax`` inclusive. A
stored box covers pixels ``[x, x + width)`` counted from 0, so it is written as the pixels
it touches: ``xmin = floor(x) + 1`` and ``xmax = ceil(x + width)`` (the same for y). XML is
built with ``xml.etree``, which escapes every name and reference; control characters XML
1.0 cannot hold are replaced by U+FFFD. ``labelhouse.yaml`` comes last: the field, its labels and
what could not be written (``labelhouse.not_written``, see ``_vision.py``).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import yaml

from labelhouse.exports.archive import zip_stream
from labelhouse.exports.formats._options import FIELD_HELP, VALUES_HELP, common
from labelhouse.exports.formats._vision import Box, Image, label_names, labelled
from labelhouse.exports.formats.options import OptionHelp
from labelhouse.exports.formats.values import VALUE_SOURCES

DESCRIPTION = "Pascal VOC XML: a zip of one annotation file per image, boxes in 1-based pixels"
OPTION_HELP: tuple[OptionHelp, ...] = (
    OptionHelp("field", FIELD_HELP),
    OptionHelp("values", VALUES_HELP, choices=VALUE_SOURCES),
)
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def parse_options(schema: Any, options: Mapping[str, str]) -> dict[str, Any]:
    return common(schema, options, "boxes", "Pascal VOC", ())


def _text(value: Any) -> str:
    return NOT_XML.sub("\ufffd", str(value))


def bndbox(box: Box, image: Image) -> tuple[int, int, int, int]:
    """(xmin, ymin, xmax, ymax): 1-based, inclusive, inside the image, at least 1 px."""
    xmin = min(max(math.floor(box.x) + 1, 1), image.width)
    ymin = min(max(math.floor(box.y) + 1, 1), image.height)
    xmax = min(max(math.ceil(box.x + box.width), xmin), image.width)
    ymax = min(max(math.ceil(box.y + box.height), ymin), image.height)
    return xmin, ymin, xmax, ymax


def annotation_xml(image: Image, stem: str, boxes: list[Box]) -> bytes:
    """One image's ``<annotation>`` document."""
    root = ET.Element("annotation")

    def child(parent: ET.Element, tag: str, text: Any = None) -> ET.Element:
        element = ET.SubElement(parent, tag)
        if text is not None:
            element.text = _text(text)
        return element

    child(root, "folder", "images")
    child(root, "filename", f"{stem}{image.suffix}")
    child(root, "path", image.reference)
    source = child(root, "source")
    child(source, "database", "Labelhouse")
    child(source, "task_id", image.task_id)
    size = child(root, "size")
    child(size, "width", image.width)
    child(size, "height", image.height)
    child(size, "depth", 3)
    child(root, "segmented", 0)
    for box in boxes:
        xmin, ymin, xmax, ymax = bndbox(box, image)
        obj = child(root, "object")
        child(obj, "name", box.label)
        child(obj, "pose", "Unspecified")
        touches = xmin == 1 or ymin == 1 or xmax == image.width or ymax == image.height
        child(obj, "truncated", int(touches))
        child(obj, "difficult", 0)
        corners = child(obj, "bndbox")
        for tag, number in zip(
            ("xmin", "ymin", "xmax", "ymax"), (xmin, ymin, xmax, ymax), strict=True
        ):
            child(corners, tag, number)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_voc(
    records: Iterable[dict[str, Any]], *, schema: Any, options: Mapping[str, Any], **_: Any
) -> Iterator[bytes]:
    field = schema.field(options["field"])
    counts: Counter[str] = options.get("counts", Counter())

    def members() -> Iterator[tuple[str, Iterable[bytes]]]:
        written = 0
        for record in records:
            for image, answer, boxes in labelled(record, field, options["values"], counts):
                stem = image.stem
                if answer.annotation is not None:
                    stem += f"_a{answer.annotation['id']}"
                written += 1
                yield f"Annotations/{stem}.xml", [annotation_xml(image, stem, boxes)]
        summary = {
            "field": field.name,
            "values": options["values"],
            "labels": label_names(field),
            "labelled_images": written,
            "not_written": dict(sorted(counts.items())),
        }
        yield "labelhouse.yaml", [yaml.safe_dump(summary, sort_keys=False).encode()]

    return zip_stream(members())
