"""What COCO, YOLO and VOC share: a task's image and the boxes of each answer, in pixels.

Rules every vision format follows (docs/export.md says them to the user):

- A task is written when at least one of its answers (per ``values``) has the boxes field;
  an empty list is a real answer ("nothing to box here": a negative image). Tasks nobody
  answered are unlabelled, not negatives, and are left out.
- The image's size comes from the task data (``image_width``/``image_height``, filled in
  from the uploaded file at import, ``tasks/import_rows.py``). A labelled task without an
  image reference or without a size cannot be written (normalised and COCO coordinates
  need it); it is counted (``tasks_without_image``, ``images_without_size``), never
  dropped unseen.
- Boxes may reach 0.5 px past the image edge (``kinds/boxes.TOLERANCE``): they are clipped
  to the image. A box left with no area, or whose label the schema no longer has, is
  counted (``boxes_outside_image``, ``boxes_with_unknown_label``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from labelhouse.exports.formats.values import Answer, answers

SIZE_KEYS = ("image_width", "image_height")  # as kinds/boxes.py and tasks/import_rows.py
UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Image:
    """A task's image as the formats describe it."""

    task_id: int
    external_id: str | None
    reference: str
    width: int
    height: int

    @property
    def stem(self) -> str:
        """A file stem unique in the export (the task id first, since two tasks may show
        images of the same name) that still says which image it was: ``17_cat``."""
        base = self.reference.rsplit("/", 1)[-1] if "/" in self.reference else self.reference
        base = base.rsplit(".", 1)[0] if "." in base.lstrip(".") else base
        safe = UNSAFE.sub("_", base).strip("._")[:80]
        return f"{self.task_id}_{safe}" if safe else str(self.task_id)

    @property
    def suffix(self) -> str:
        """The reference's file extension (``.png``), ``.jpg`` when it has none."""
        path = urlsplit(self.reference).path if "://" in self.reference else self.reference
        name = path.rsplit("/", 1)[-1]
        ext = name.rsplit(".", 1)[-1].lower() if "." in name.lstrip(".") else ""
        return f".{ext}" if ext.isalnum() and 0 < len(ext) <= 5 else ".jpg"


@dataclass(frozen=True)
class Box:
    """A box clipped to its image: top-left corner, size (pixels) and class index."""

    x: float
    y: float
    width: float
    height: float
    label: str
    class_index: int


def _size(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, float) and value.is_integer() and value > 0:
        return int(value)
    return None


def _round(number: float) -> int | float:
    """Clipped coordinates to 1/100 px like stored ones, whole numbers as integers."""
    rounded = round(number, 2) + 0.0
    return int(rounded) if rounded.is_integer() else rounded


def labelled(
    record: Mapping[str, Any], field: Any, source: str, counts: Counter[str]
) -> Iterator[tuple[Image, Answer, list[Box]]]:
    """Each answer of the task that has the boxes field, with the task's image and the
    answer's boxes clipped to it (see the module docstring for what is counted)."""
    given = [a for a in answers(record, source) if isinstance(a.value.get(field.name), list)]
    if not given:
        return
    data = record["data"]
    reference = data.get(field.image)
    if not isinstance(reference, str) or not reference.strip():
        counts["tasks_without_image"] += 1
        return
    width, height = (_size(data.get(key)) for key in SIZE_KEYS)
    if width is None or height is None:
        counts["images_without_size"] += 1
        return
    image = Image(record["id"], record.get("external_id"), reference, width, height)
    classes = {option.value: i for i, option in enumerate(field.labels)}
    for answer in given:
        yield image, answer, list(_clipped(answer.value[field.name], image, classes, counts))


def _clipped(
    value: list[Any], image: Image, classes: Mapping[str, int], counts: Counter[str]
) -> Iterator[Box]:
    for item in value:
        if not isinstance(item, dict):
            continue
        label = item.get("label")
        if not isinstance(label, str) or label not in classes:
            counts["boxes_with_unknown_label"] += 1
            continue
        x0, y0 = max(0.0, float(item["x"])), max(0.0, float(item["y"]))
        x1 = min(float(image.width), float(item["x"]) + float(item["width"]))
        y1 = min(float(image.height), float(item["y"]) + float(item["height"]))
        if x1 <= x0 or y1 <= y0:
            counts["boxes_outside_image"] += 1
            continue
        yield Box(_round(x0), _round(y0), _round(x1 - x0), _round(y1 - y0), label, classes[label])


def label_names(field: Any) -> list[str]:
    """The field's labels in schema order: class ``i`` of YOLO, category ``i + 1`` of COCO."""
    return [option.value for option in field.labels]
