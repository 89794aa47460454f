"""Multiple choice: the annotator picks a set of options (multi-label classification).

Values are stored in the order of the schema's options, so two annotators who picked the
same set store the same list and agreement/consensus can compare values directly.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from labelhouse.kinds._common import ConfigInt, Options, ReadsData, pick_option, plural
from labelhouse.kinds.base import ValueProblem, vote_weights


class ChoicesField(ReadsData):
    kind: Literal["choices"] = "choices"
    kind_name: ClassVar[str] = "choices"

    options: Options
    min_selected: ConfigInt = Field(default=1, ge=0)
    max_selected: Annotated[int, Field(strict=True, ge=1)] | None = None

    @model_validator(mode="after")
    def _check_bounds(self) -> ChoicesField:
        n = len(self.options)
        if self.min_selected > n:
            raise ValueError(
                f"min_selected ({self.min_selected}) is more than the number of options ({n}); "
                "lower it or add options"
            )
        if self.max_selected is not None:
            if self.max_selected > n:
                raise ValueError(
                    f"max_selected ({self.max_selected}) is more than the number of options "
                    f"({n}); lower it or leave it out for no limit"
                )
            if self.max_selected < self.min_selected:
                raise ValueError(
                    f"max_selected ({self.max_selected}) is less than min_selected "
                    f"({self.min_selected}); make max_selected at least min_selected"
                )
        return self

    def is_empty(self, value: Any) -> bool:
        # Selecting nothing is a real answer when the schema allows zero selections.
        if value == [] and self.min_selected == 0:
            return False
        return super().is_empty(value)

    def validate_value(self, value: Any, data: dict[str, Any]) -> list[str]:
        if not isinstance(value, list):
            raise ValueProblem('expected a list of option values, e.g. ["a", "b"]')
        chosen: set[str] = set()
        for i, item in enumerate(value):
            picked = pick_option(item, self.options, f"[{i}]")
            if picked in chosen:
                raise ValueProblem(
                    f"'{picked}' is selected twice; select each option at most once", f"[{i}]"
                )
            chosen.add(picked)
        if len(chosen) < self.min_selected:
            raise ValueProblem(
                f"select at least {plural(self.min_selected, 'option')} (got {len(chosen)})"
            )
        if self.max_selected is not None and len(chosen) > self.max_selected:
            raise ValueProblem(
                f"select at most {plural(self.max_selected, 'option')} (got {len(chosen)})"
            )
        return [o.value for o in self.options if o.value in chosen]

    # A set: agreement is the Jaccard index of the two selections, consensus a vote per
    # option (kept when at least half the weight selected it); the quality report can also
    # run Dawid–Skene over the options as present/absent questions (``classes``).
    def agreement_kind(self) -> str:
        return "set"

    def classes(self) -> list[Hashable]:
        return [o.value for o in self.options]

    def options_of(self, value: Any) -> list[Hashable] | None:
        return list(value) if isinstance(value, list) else None

    def compare(self, a: Any, b: Any) -> float:
        sa, sb = set(a or ()), set(b or ())
        union = sa | sb
        return len(sa & sb) / len(union) if union else 1.0

    def merge(
        self,
        values: Sequence[Any],
        weights: Sequence[float] | None = None,
        *,
        data: dict[str, Any] | None = None,
    ) -> tuple[Any, float]:
        """Per-option majority; confidence = mean over options of the share of weight that
        agrees with the decision on that option (1.0 when everyone picked the same set)."""
        w = vote_weights(values, weights)
        kept = [(set(v), x) for v, x in zip(values, w, strict=True) if isinstance(v, list)]
        total = sum(x for _, x in kept)
        if not kept or total <= 0:
            return None, 0.0
        chosen: list[str] = []
        agreement = []
        for option in self.options:
            share = sum(x for picked, x in kept if option.value in picked) / total
            if share >= 0.5:
                chosen.append(option.value)
            agreement.append(max(share, 1.0 - share))
        return chosen, sum(agreement) / len(agreement)
