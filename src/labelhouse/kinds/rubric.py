"""Rubric: an answer scores every criterion of one version of an organization's rubric.

The rubric itself (criteria, scales, anchors, weights, critical flags) is a versioned object
of the organization (``labelhouse.rubrics``). A schema field names it by ``rubric_id`` and
``version``; when the schema is saved the server copies that version's criteria into the
field (``criteria``), so this module stays pure and every project using the same version
scores on exactly the same criteria. Versions never change once created.

Failing: a criterion *fails* when its score is below its ``pass_at`` point (default: one
above the scale's lowest point, so only the lowest point fails; on a pass/fail scale 0 is
fail). A failed **critical** criterion fails the whole item (``failed_critical``).

Aggregate: the weighted mean of the scores, each normalised to 0–1 on its own scale
(``(score − min) / (max − min)``), with the criteria's weights (default 1). It is computed
here on the server; whatever a client sends for it is ignored. The stored value also names
the rubric version (``rubric_id``, ``rubric_version``) so exported scores carry it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from labelhouse.kinds._common import ConfigBool, ConfigFloat, ConfigInt, ReadsData, as_int, shown
from labelhouse.kinds.base import NAME_PATTERN, ValueProblem, vote_weights

MAX_CRITERIA = 30
MAX_JUSTIFICATION = 2000
# Scales run within 0..10 so every point is typed with the keyboard (10 as "1" then "0").
LOWEST, HIGHEST = 0, 10
VALUE_KEYS = ("scores", "justifications")
COMPUTED_KEYS = ("aggregate", "failed_critical", "failed_criteria", "rubric_id", "rubric_version")

AnchorText = Annotated[str, Field(min_length=1, max_length=1000)]


class Criterion(BaseModel):
    """One criterion: a whole-number scale with an anchor text per point."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    title: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    scale: Literal["points", "pass_fail"] = "points"
    min: ConfigInt = 1
    max: ConfigInt = 5
    anchors: dict[int, AnchorText] = {}
    weight: ConfigFloat = Field(default=1.0, ge=0, le=1000)
    critical: ConfigBool = False
    pass_at: ConfigInt | None = None

    @field_validator("anchors", mode="before")
    @classmethod
    def _anchor_keys(cls, anchors: Any) -> Any:
        """JSON object keys are strings: ``{"1": "poor"}`` means point 1."""
        if not isinstance(anchors, dict):
            return anchors
        out: dict[int, Any] = {}
        for key, text in anchors.items():
            number = None
            if isinstance(key, str) and re.fullmatch(r"-?[0-9]+", key.strip()):
                number = int(key)
            elif isinstance(key, int) and not isinstance(key, bool):
                number = key
            if number is None:
                raise ValueError(f"anchor key {key!r} is not a whole number; use scale points")
            if number in out:
                raise ValueError(f"anchor point {number} is described twice")
            out[number] = text
        return out

    @model_validator(mode="before")
    @classmethod
    def _pass_fail(cls, data: Any) -> Any:
        """A pass/fail scale is the points 0 (fail) and 1 (pass)."""
        if isinstance(data, dict) and data.get("scale") == "pass_fail":
            for key, want in (("min", 0), ("max", 1)):
                if data.get(key, want) != want:
                    raise ValueError(f"a pass_fail scale is 0..1; leave out '{key}'")
            data = {**data, "min": 0, "max": 1}
            data.setdefault("anchors", {"0": "Fail", "1": "Pass"})
        return data

    @model_validator(mode="after")
    def _check_scale(self) -> Criterion:
        if not LOWEST <= self.min < self.max <= HIGHEST:
            raise ValueError(
                f"the scale {self.min}..{self.max} must run upwards within "
                f"{LOWEST}..{HIGHEST} (e.g. 1..5)"
            )
        outside = sorted(k for k in self.anchors if not self.min <= k <= self.max)
        if outside:
            raise ValueError(
                f"anchors describe {', '.join(map(str, outside))}, outside the scale "
                f"{self.min}..{self.max}"
            )
        if self.pass_at is not None and not self.min < self.pass_at <= self.max:
            raise ValueError(
                f"pass_at {self.pass_at} must be above the lowest point {self.min} and at most "
                f"{self.max}"
            )
        return self

    @property
    def passing_point(self) -> int:
        """The lowest score that passes (scores below it fail)."""
        return self.pass_at if self.pass_at is not None else self.min + 1

    def normalised(self, score: int) -> float:
        return (score - self.min) / (self.max - self.min)


def check_criteria(criteria: list[Criterion]) -> list[Criterion]:
    """Criteria names are unique and the weights add up to something."""
    seen: set[str] = set()
    for c in criteria:
        if c.name in seen:
            raise ValueError(f"criterion name '{c.name}' is used twice")
        seen.add(c.name)
    if criteria and sum(c.weight for c in criteria) <= 0:
        raise ValueError("at least one criterion needs a weight above 0")
    return criteria


class RubricCriteria(BaseModel):
    """The criteria document of one rubric version (validated on every new version)."""

    model_config = ConfigDict(extra="forbid")

    criteria: list[Criterion] = Field(min_length=1, max_length=MAX_CRITERIA)

    @model_validator(mode="after")
    def _unique(self) -> RubricCriteria:
        check_criteria(self.criteria)
        return self


def aggregate(criteria: Sequence[Criterion], scores: dict[str, int]) -> dict[str, Any]:
    """The server-computed part of a value: weighted normalised mean and critical failures."""
    total = sum(c.weight for c in criteria)
    mean = sum(c.weight * c.normalised(scores[c.name]) for c in criteria) / total
    failed = [c.name for c in criteria if scores[c.name] < c.passing_point]
    failed_critical = any(c.critical for c in criteria if c.name in failed)
    return {
        "aggregate": round(mean, 6),
        "failed_critical": failed_critical,
        "failed_criteria": failed,
    }


class RubricField(ReadsData):
    kind: Literal["rubric"] = "rubric"
    kind_name: ClassVar[str] = "rubric"

    rubric_id: ConfigInt = Field(ge=1)
    version: ConfigInt = Field(ge=1)
    # Filled by the server from the stored rubric version when the schema is saved.
    rubric_name: str | None = Field(default=None, max_length=200)
    criteria: list[Criterion] = Field(default=[], max_length=MAX_CRITERIA)

    @field_validator("criteria")
    @classmethod
    def _criteria(cls, criteria: list[Criterion]) -> list[Criterion]:
        return check_criteria(criteria)

    def validate_value(self, value: Any, data: dict[str, Any]) -> dict[str, Any]:
        if not self.criteria:
            raise ValueProblem(
                f"rubric {self.rubric_id} version {self.version} was not resolved; save the "
                "schema again so the server copies its criteria"
            )
        if not isinstance(value, dict):
            raise ValueProblem(
                f'expected an object {{"scores": {{criterion: point}}}}, got {shown(value)}'
            )
        for key in value:
            if key not in VALUE_KEYS + COMPUTED_KEYS:
                raise ValueProblem(f"unknown key '{key}'; send {', '.join(VALUE_KEYS)}")
        names = [c.name for c in self.criteria]
        scores = value.get("scores")
        if not isinstance(scores, dict):
            raise ValueProblem(f"expected an object, got {shown(scores)}", ".scores")
        for name in scores:
            if name not in names:
                raise ValueProblem(
                    f"unknown criterion '{name}'; this rubric has: {', '.join(names)}",
                    f".scores.{name}",
                )
        clean: dict[str, int] = {}
        for c in self.criteria:
            if c.name not in scores or scores[c.name] is None:
                raise ValueProblem(
                    f"criterion '{c.name}' is not scored; score every criterion",
                    f".scores.{c.name}",
                )
            point = as_int(scores[c.name])
            if point is None or not c.min <= point <= c.max:
                raise ValueProblem(
                    f"score {shown(scores[c.name])} is outside the scale; use a whole number "
                    f"from {c.min} to {c.max}",
                    f".scores.{c.name}",
                )
            clean[c.name] = point
        notes = value.get("justifications") or {}
        if not isinstance(notes, dict):
            raise ValueProblem(f"expected an object, got {shown(notes)}", ".justifications")
        justified: dict[str, str] = {}
        for name, text in notes.items():
            where = f".justifications.{name}"
            if name not in names:
                raise ValueProblem(
                    f"unknown criterion '{name}'; this rubric has: {', '.join(names)}", where
                )
            if text is None or text == "":
                continue
            if not isinstance(text, str):
                raise ValueProblem(f"expected text, got {shown(text)}", where)
            if len(text) > MAX_JUSTIFICATION:
                raise ValueProblem(
                    f"a justification has at most {MAX_JUSTIFICATION} characters, got {len(text)}",
                    where,
                )
            justified[name] = text
        return {
            "scores": clean,
            "justifications": justified,
            **aggregate(self.criteria, clean),
            **self.stamp(),
        }

    def stamp(self) -> dict[str, int]:
        """The rubric version a value was scored under, so exported scores from several
        projects say which of them are comparable."""
        return {"rubric_id": self.rubric_id, "rubric_version": self.version}

    # Quality: two answers agree by how close their scores are, criterion by criterion;
    # the consensus is the weighted (lower) median of each criterion, its aggregate computed
    # again. Per-criterion α is in the quality report (quality_report/rubrics.py).
    def agreement_kind(self) -> str:
        return "rubric"

    def scores_of(self, value: Any) -> dict[str, int] | None:
        """The stored scores of a value that still fits the criteria, else ``None``."""
        if not isinstance(value, dict) or not isinstance(value.get("scores"), dict):
            return None
        out = {}
        for c in self.criteria:
            point = as_int(value["scores"].get(c.name))
            if point is None or not c.min <= point <= c.max:
                return None
            out[c.name] = point
        return out if self.criteria else None

    def compare(self, a: Any, b: Any) -> float:
        sa, sb = self.scores_of(a), self.scores_of(b)
        if sa is None or sb is None:
            return 1.0 if a == b else 0.0
        closeness = [1.0 - abs(sa[c.name] - sb[c.name]) / (c.max - c.min) for c in self.criteria]
        return sum(closeness) / len(closeness)

    def merge(
        self,
        values: Sequence[Any],
        weights: Sequence[float] | None = None,
        *,
        data: dict[str, Any] | None = None,
    ) -> tuple[Any, float]:
        """Per criterion the weighted lower median (a real scale point); the confidence is
        the mean share of weight that gave exactly each median."""
        w = vote_weights(values, weights)
        kept = [(s, x) for v, x in zip(values, w, strict=True) if (s := self.scores_of(v))]
        total = sum(x for _, x in kept)
        if not kept or total <= 0:
            return None, 0.0
        merged: dict[str, int] = {}
        shares = []
        for c in self.criteria:
            ordered = sorted((s[c.name], x) for s, x in kept)
            running = 0.0
            median = ordered[-1][0]
            for point, x in ordered:
                running += x
                if running >= total / 2 - 1e-12:
                    median = point
                    break
            merged[c.name] = median
            shares.append(sum(x for point, x in ordered if point == median) / total)
        value = {
            "scores": merged,
            "justifications": {},
            **aggregate(self.criteria, merged),
            **self.stamp(),
        }
        return value, sum(shares) / len(shares)
