"""Bounding boxes: labelled rectangles on an image (object detection).

Coordinates are image pixels with the origin at the top-left corner, so the stored value
does not depend on how large the browser drew the image. The annotate page sends whole
pixels (what a person draws, moves or resizes: ``widgets/lib/geometry.js`` ``pixelBox``);
imports, predictions and API clients may send fractions (a model's output), accepted and
rounded to 1/100 px — finer precision is noise — which also makes equal boxes compare
equal. A whole number is stored as an integer (``10``, not ``10.0``), so exports carry
integer pixels for drawn boxes. When the task states the image size, boxes must lie inside
it, with 0.5 px of slack for rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from labelhouse.kinds._common import (
    ConfigFloat,
    ConfigInt,
    DataKey,
    Options,
    as_int,
    as_number,
    check_keys,
    pick_option,
    shown,
)
from labelhouse.kinds.base import FieldKind, ValueProblem, empty_share, listed_answers

if TYPE_CHECKING:  # numpy-backed; imported where used, so commands that only validate
    # labels (the CLI import) start without numpy
    from labelhouse.quality.matching import Box

IOU_THRESHOLD = 0.5  # the usual detection threshold for "the same object"


def as_boxes(value: Any) -> list[Box]:
    """Stored box dicts as the ``(x, y, width, height, label)`` tuples of ``quality``."""
    if not isinstance(value, list):
        return []
    return [
        (float(b["x"]), float(b["y"]), float(b["width"]), float(b["height"]), str(b["label"]))
        for b in value
        if isinstance(b, dict) and {"x", "y", "width", "height", "label"} <= b.keys()
    ]


TOLERANCE = 0.5  # px a box may reach past the image edge (widget rounding)
SIZE_KEYS = ("image_width", "image_height")
NUMBER_KEYS = ("x", "y", "width", "height")
SAFE_INTEGER = 2**53


def _positive_int(value: Any) -> int | None:
    number = as_int(value)
    return number if number is not None and number > 0 else None


class BoxesField(FieldKind):
    kind: Literal["boxes"] = "boxes"
    kind_name: ClassVar[str] = "boxes"

    image: DataKey = "image"
    labels: Options
    min_size: ConfigFloat = Field(default=1.0, gt=0, le=10_000)
    max_boxes: ConfigInt = Field(default=1000, ge=1, le=100_000)

    def data_keys(self) -> tuple[str, ...]:
        return (self.image,)

    def media_keys(self) -> tuple[str, ...]:
        """The image key names an uploaded file, or an https:// or s3:// URL (docs/import.md);
        either is resolved (and sized) at import."""
        return (self.image,)

    def check_data(self, data: dict[str, Any]) -> list[str]:
        problems = super().check_data(data)
        ref = data.get(self.image)
        if ref is not None and (not isinstance(ref, str) or not ref.strip()):
            problems.append(
                f"'{self.image}' must be an image URL or uploaded file reference (a non-empty "
                f"string) for field '{self.name}', got {shown(ref)}"
            )
        for key in SIZE_KEYS:
            if data.get(key) is not None and _positive_int(data[key]) is None:
                problems.append(
                    f"'{key}' must be a positive whole number of pixels, got {shown(data[key])}"
                )
        return problems

    def is_empty(self, value: Any) -> bool:
        # An empty list is a real answer: "nothing to box in this image".
        return value is None

    def validate_value(self, value: Any, data: dict[str, Any]) -> list[dict[str, Any]]:
        if not isinstance(value, list):
            raise ValueProblem(
                'expected a list of boxes like [{"x": 10, "y": 20, "width": 100, '
                f'"height": 50, "label": "car"}}], got {shown(value)}'
            )
        if len(value) > self.max_boxes:
            raise ValueProblem(
                f"too many boxes: {len(value)}; this field allows at most {self.max_boxes}"
            )
        width, height = (_positive_int(data.get(key)) for key in SIZE_KEYS)
        return [self._box(item, f"[{i}]", width, height) for i, item in enumerate(value)]

    # Agreement: F1 of boxes matched one-to-one at IoU ≥ 0.5 with equal labels. Consensus:
    # overlap voting (quality.box_consensus), median coordinates of the supporting boxes.
    def agreement_kind(self) -> str:
        return "boxes"

    def compare(self, a: Any, b: Any) -> float:
        from labelhouse.quality.matching import box_f1

        return box_f1(as_boxes(a), as_boxes(b), iou_threshold=IOU_THRESHOLD).f1

    def merge(
        self,
        values: Sequence[Any],
        weights: Sequence[float] | None = None,
        *,
        data: dict[str, Any] | None = None,
    ) -> tuple[Any, float]:
        """Consensus boxes; confidence = mean (weighted) support of the kept boxes, or the
        share of annotators who drew nothing when none is kept."""
        answers, answer_weights = listed_answers(values, weights)
        if not answers:
            return None, 0.0
        from labelhouse.quality.consensus import box_consensus

        voted = box_consensus(
            [as_boxes(v) for v in answers], iou_threshold=IOU_THRESHOLD, weights=answer_weights
        )
        if not voted:
            return [], empty_share(answers)
        merged = [
            {"x": x, "y": y, "width": w, "height": h, "label": label}
            for x, y, w, h, label in (v.value for v in voted)
        ]
        return merged, sum(v.confidence for v in voted) / len(voted)

    def _box(
        self, item: Any, where: str, image_w: int | None, image_h: int | None
    ) -> dict[str, Any]:
        if not isinstance(item, dict):
            raise ValueProblem(
                f"expected a box object with x, y, width, height and label, got {shown(item)}",
                where,
            )
        check_keys(item, required=(*NUMBER_KEYS, "label"), where=where)
        n: dict[str, float] = {}
        for key in NUMBER_KEYS:
            number = as_number(item[key])
            if number is None:
                raise ValueProblem(
                    f"{key} must be a finite number of pixels, got {shown(item[key])}",
                    f"{where}.{key}",
                )
            n[key] = number
        for key in ("x", "y"):
            if n[key] < 0:
                raise ValueProblem(
                    f"{key} must be 0 or more (pixels from the image's top-left corner), "
                    f"got {shown(item[key])}",
                    f"{where}.{key}",
                )
        for key in ("width", "height"):
            if n[key] < self.min_size:
                raise ValueProblem(
                    f"{key} must be at least {self.min_size:g} px, got {shown(item[key])}",
                    f"{where}.{key}",
                )
        label = pick_option(item["label"], self.labels, f"{where}.label", what="label")
        box = f"x={n['x']:g}, y={n['y']:g}, width={n['width']:g}, height={n['height']:g}"
        size = f"{image_w or '?'}x{image_h or '?'} px image"
        if image_w is not None and n["x"] + n["width"] > image_w + TOLERANCE:
            raise ValueProblem(
                f"box ({box}) extends past the right edge of the {size}; keep x + width "
                f"≤ {image_w}",
                where,
            )
        if image_h is not None and n["y"] + n["height"] > image_h + TOLERANCE:
            raise ValueProblem(
                f"box ({box}) extends past the bottom edge of the {size}; keep y + height "
                f"≤ {image_h}",
                where,
            )
        return {**{key: _pixels(n[key]) for key in NUMBER_KEYS}, "label": label}


def _pixels(number: float) -> int | float:
    """A coordinate as stored: rounded to 1/100 px, whole numbers as integers (up to 2**53,
    the integers a float and JavaScript hold exactly; JSON writers refuse huge ones)."""
    rounded = round(number, 2) + 0.0  # ``+ 0.0`` turns -0.0 into 0.0
    return int(rounded) if rounded.is_integer() and abs(rounded) <= SAFE_INTEGER else rounded
