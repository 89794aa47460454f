"""Rating: a whole number on a fixed scale (Likert 1-5, 0-10 quality scores, …).

JSON has a single number type, so ``3.0`` is read as ``3``; ``3.5`` and ``true`` are
refused rather than rounded or coerced, since silently changing a rating corrupts data.
Rubric keys arrive as strings from JSON (``{"1": "poor"}``) and are read as integers.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from labelhouse.kinds._common import ConfigInt, ReadsData, as_int, shown
from labelhouse.kinds.base import ValueProblem, vote_weights

MAX_POINTS = 101  # e.g. a 0..100 scale

RubricText = Annotated[str, Field(min_length=1, max_length=1000)]


class RatingField(ReadsData):
    kind: Literal["rating"] = "rating"
    kind_name: ClassVar[str] = "rating"

    min: ConfigInt = 1
    max: ConfigInt = 5
    rubric: dict[int, RubricText] = {}

    @field_validator("rubric", mode="before")
    @classmethod
    def _rubric_keys(cls, rubric: Any) -> Any:
        if not isinstance(rubric, dict):
            return rubric  # pydantic reports the type error
        out: dict[int, Any] = {}
        for key, text in rubric.items():
            if isinstance(key, str) and re.fullmatch(r"-?[0-9]+", key.strip()):
                number: int | None = int(key)
            else:
                number = None if isinstance(key, bool) or not isinstance(key, int) else key
            if number is None:
                raise ValueError(f"rubric key {key!r} is not a whole number; use scale points")
            if number in out:
                raise ValueError(f"rubric point {number} is described twice")
            out[number] = text
        return out

    @model_validator(mode="after")
    def _check_scale(self) -> RatingField:
        if self.min >= self.max:
            raise ValueError(f"min ({self.min}) must be less than max ({self.max})")
        points = self.max - self.min + 1
        if points > MAX_POINTS:
            raise ValueError(
                f"the scale {self.min}..{self.max} has {points} points; at most {MAX_POINTS} "
                "are allowed (e.g. 0..100)"
            )
        outside = sorted(k for k in self.rubric if not self.min <= k <= self.max)
        if outside:
            raise ValueError(
                f"rubric describes {', '.join(map(str, outside))}, outside the scale "
                f"{self.min}..{self.max}; use points from {self.min} to {self.max}"
            )
        return self

    def validate_value(self, value: Any, data: dict[str, Any]) -> int:
        rating = as_int(value)
        if rating is None:
            raise ValueProblem(
                f"expected a whole number from {self.min} to {self.max}, got {shown(value)}"
            )
        if not self.min <= rating <= self.max:
            raise ValueProblem(
                f"rating {rating} is outside the scale; use a number from {self.min} to {self.max}"
            )
        return rating

    # Ordinal: κ/α treat the scale points as classes (α also ordinal and interval); two
    # ratings agree by how close they are on the scale; consensus is the weighted median.
    def agreement_kind(self) -> str:
        return "ordinal"

    def classes(self) -> list[Hashable]:
        return list(range(self.min, self.max + 1))

    def label_of(self, value: Any) -> Hashable | None:
        rating = as_int(value)
        return rating if rating is not None and self.min <= rating <= self.max else None

    def compare(self, a: Any, b: Any) -> float:
        ra, rb = self.label_of(a), self.label_of(b)
        if ra is None or rb is None:
            return 1.0 if a == b else 0.0
        return 1.0 - abs(int(ra) - int(rb)) / (self.max - self.min)  # type: ignore[call-overload]

    def merge(
        self,
        values: Sequence[Any],
        weights: Sequence[float] | None = None,
        *,
        data: dict[str, Any] | None = None,
    ) -> tuple[Any, float]:
        """The weighted (lower) median — a real scale point, robust to one outlier — and the
        share of weight that gave exactly that point."""
        w = vote_weights(values, weights)
        kept = sorted(
            (int(r), x)  # type: ignore[call-overload]
            for v, x in zip(values, w, strict=True)
            if (r := self.label_of(v)) is not None
        )
        total = sum(x for _, x in kept)
        if not kept or total <= 0:
            return None, 0.0
        running = 0.0
        median = kept[-1][0]
        for rating, x in kept:
            running += x
            if running >= total / 2 - 1e-12:
                median = rating
                break
        return median, sum(x for r, x in kept if r == median) / total
