"""Pairwise preference: which of two responses is better, optionally by how much.

This is the RLHF/DPO comparison. ``A`` and ``B`` name ``responses[0]`` and
``responses[1]`` of the task data — never the left/right side of the screen, which the
widget may randomise to fight position bias.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field, model_validator

from labelhouse.kinds._common import ConfigBool, check_keys, listing, shown, unique_strings
from labelhouse.kinds._responses import Preference, ResponsesField
from labelhouse.kinds.base import ValueProblem, vote_weights, weighted_plurality

Strength = Annotated[str, Field(min_length=1, max_length=100)]


class PairwiseField(ResponsesField):
    kind: Literal["pairwise"] = "pairwise"
    kind_name: ClassVar[str] = "pairwise"
    min_responses: ClassVar[int] = 2
    max_responses: ClassVar[int] = 2

    allow_tie: ConfigBool = True
    strengths: Annotated[list[Strength], Field(max_length=10), AfterValidator(unique_strings)] = []
    strength_required: ConfigBool = False

    @model_validator(mode="after")
    def _check_strengths(self) -> PairwiseField:
        if self.strength_required and not self.strengths:
            raise ValueError(
                "strength_required is set but no strengths are listed; add strengths "
                '(e.g. ["slightly", "clearly", "much"]) or drop strength_required'
            )
        return self

    def allowed_choices(self) -> list[str]:
        return ["A", "B", "tie"] if self.allow_tie else ["A", "B"]

    def is_empty(self, value: Any) -> bool:
        # The widget may send {"choice": null, "strength": null} before anything is picked.
        if isinstance(value, dict) and set(value) <= {"choice", "strength"}:
            return all(v is None for v in value.values())
        return super().is_empty(value)

    def validate_value(self, value: Any, data: dict[str, Any]) -> dict[str, Any]:
        self.task_responses(data)  # none yet (awaiting a model's candidates): nothing to judge
        if not isinstance(value, dict):
            raise ValueProblem(
                f'expected an object like {{"choice": "A", "strength": null}}, got {shown(value)}'
            )
        check_keys(value, required=("choice",), optional=("strength",))
        choice = value["choice"]
        if choice not in self.allowed_choices() or not isinstance(choice, str):
            hint = "" if self.allow_tie or choice != "tie" else "this field does not allow ties; "
            raise ValueProblem(
                f"{hint}choice must be one of {listing(self.allowed_choices())} ('A' is the first "
                f"response in the task data, 'B' the second), got {shown(choice)}",
                ".choice",
            )
        strength = value.get("strength")
        if choice == "tie":
            if strength is not None:
                raise ValueProblem("a tie has no strength; send null", ".strength")
        elif strength is None:
            if self.strength_required:
                raise ValueProblem(
                    f"say how strong the preference is: one of {listing(self.strengths)}",
                    ".strength",
                )
        elif not self.strengths:
            raise ValueProblem(
                f"this field has no strengths; send null, got {shown(strength)}", ".strength"
            )
        elif strength not in self.strengths or not isinstance(strength, str):
            raise ValueProblem(
                f"unknown strength {shown(strength)}; use one of {listing(self.strengths)}",
                ".strength",
            )
        return {"choice": choice, "strength": strength}

    # Categorical over A / B / tie: κ and α as for a single choice; a tie half-agrees with
    # either side; consensus is the majority choice with its supporters' majority strength.
    def agreement_kind(self) -> str:
        return "pairwise"

    def classes(self) -> list[Hashable]:
        return ["A", "B", "tie"]

    def label_of(self, value: Any) -> Hashable | None:
        choice = value.get("choice") if isinstance(value, dict) else None
        return choice if choice in ("A", "B", "tie") else None

    def from_label(self, label: Hashable, values: Sequence[Any]) -> Any:
        strengths = [v.get("strength") for v in values if self.label_of(v) == label]
        named = [s for s in strengths if s is not None]
        strength = None
        if label != "tie" and named:
            strength, _ = weighted_plurality(named, [1.0] * len(named), self.strengths)
        return {"choice": label, "strength": strength}

    def compare(self, a: Any, b: Any) -> float:
        la, lb = self.label_of(a), self.label_of(b)
        if la is None or lb is None:
            return 1.0 if a == b else 0.0
        if la == lb:
            return 1.0
        return 0.5 if "tie" in (la, lb) else 0.0

    def merge(
        self,
        values: Sequence[Any],
        weights: Sequence[float] | None = None,
        *,
        data: dict[str, Any] | None = None,
    ) -> tuple[Any, float]:
        w = vote_weights(values, weights)
        kept = [(self.label_of(v), x) for v, x in zip(values, w, strict=True)]
        kept = [(c, x) for c, x in kept if c is not None]
        if not kept:
            return None, 0.0
        labels, kept_w = zip(*kept, strict=True)
        winner, share = weighted_plurality(labels, kept_w, self.classes())
        return self.from_label(winner, values), share  # type: ignore[arg-type]

    def preferences(self, value: Any) -> list[Preference]:
        choice = self.label_of(value)
        if choice == "A":
            return [Preference(0, 1)]
        if choice == "B":
            return [Preference(1, 0)]
        if choice == "tie":
            return [Preference(0, 1, tie=True)]
        return []

    def ranks_of(self, value: Any) -> list[int] | None:
        label = self.label_of(value)
        ranks = {"A": [1, 2], "B": [2, 1], "tie": [1, 1]}
        return ranks[label] if isinstance(label, str) else None
