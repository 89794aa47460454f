"""Typed results of the quality calls: the project's quality report (main numbers typed,
the rest in ``raw``) and consensus rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labelhouse.client._json import opt_float as _opt_float


@dataclass(frozen=True)
class FieldAgreement:
    name: str
    kind: str
    agreement: float | None  # the headline figure (percent agreement or pairwise mean)
    tasks: int
    overlapping_tasks: int
    answers: int
    metrics: dict[str, float | None]
    raw: dict[str, Any]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> FieldAgreement:
        return cls(
            name=str(d.get("name", "")),
            kind=str(d.get("kind", "")),
            agreement=_opt_float(d.get("agreement")),
            tasks=int(d.get("tasks") or 0),
            overlapping_tasks=int(d.get("overlapping_tasks") or 0),
            answers=int(d.get("answers") or 0),
            metrics=dict(d.get("metrics") or {}),
            raw=d,
        )


@dataclass(frozen=True)
class Scorecard:
    user_id: int
    email: str
    tasks: int
    consensus_agreement: float | None
    gold_accuracy: float | None
    review_acceptance: float | None
    flags: list[str]
    raw: dict[str, Any]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Scorecard:
        return cls(
            user_id=int(d["user_id"]),
            email=str(d.get("email", "")),
            tasks=int(d.get("tasks") or 0),
            consensus_agreement=_opt_float(d.get("consensus_agreement")),
            gold_accuracy=_opt_float(d.get("gold_accuracy")),
            review_acceptance=_opt_float(d.get("review_acceptance")),
            flags=list(d.get("flags") or []),
            raw=d,
        )


@dataclass(frozen=True)
class QualityReport:
    """The project's quality report: the main numbers typed, the rest (preferences,
    hotspots, confusion matrices) in ``raw``."""

    project_id: int
    method: str
    tasks: int
    annotations: int
    annotators: int
    fields: list[FieldAgreement]
    scorecards: list[Scorecard]
    notes: list[str]
    raw: dict[str, Any]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> QualityReport:
        return cls(
            project_id=int(d.get("project_id") or 0),
            method=str(d.get("method", "")),
            tasks=int(d.get("tasks") or 0),
            annotations=int(d.get("annotations") or 0),
            annotators=int(d.get("annotators") or 0),
            fields=[FieldAgreement.from_json(f) for f in d.get("fields") or []],
            scorecards=[Scorecard.from_json(s) for s in d.get("scorecards") or []],
            notes=[str(n) for n in d.get("notes") or []],
            raw=d,
        )

    def field(self, name: str) -> FieldAgreement:
        """The summary of one field (KeyError naming the fields there are)."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"no field {name!r} in the report; it has {[f.name for f in self.fields]}")


@dataclass(frozen=True)
class ConsensusRow:
    """One task's consensus: ``fields[name]`` holds ``value`` and ``confidence``."""

    task_id: int
    external_id: str | None
    annotations: int
    fields: dict[str, dict[str, Any]]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ConsensusRow:
        return cls(
            task_id=int(d["task_id"]),
            external_id=d.get("external_id"),
            annotations=int(d.get("annotations") or 0),
            fields=dict(d.get("fields") or {}),
        )
