"""Single choice: the annotator picks exactly one option (classification, yes/no, …).

The stored value is the option's stable ``value`` string, never its display label, so
relabelling an option in the UI does not change past annotations.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, ClassVar, Literal

from labelhouse.kinds._common import Options, ReadsData, pick_option
from labelhouse.kinds.base import vote_weights, weighted_plurality


class ChoiceField(ReadsData):
    kind: Literal["choice"] = "choice"
    kind_name: ClassVar[str] = "choice"

    options: Options

    def validate_value(self, value: Any, data: dict[str, Any]) -> str:
        return pick_option(value, self.options, "")

    # Nominal: agreement is equality (the default compare); consensus is a majority vote,
    # ties going to the option listed first, as in quality.majority_vote.
    def agreement_kind(self) -> str:
        return "nominal"

    def classes(self) -> list[Hashable]:
        return [o.value for o in self.options]

    def label_of(self, value: Any) -> Hashable | None:
        return value if isinstance(value, str) and value in self.classes() else None

    def merge(
        self,
        values: Sequence[Any],
        weights: Sequence[float] | None = None,
        *,
        data: dict[str, Any] | None = None,
    ) -> tuple[Any, float]:
        w = vote_weights(values, weights)
        kept = [(v, x) for v, x in zip(values, w, strict=True) if self.label_of(v) is not None]
        if not kept:
            return None, 0.0
        labels, kept_w = zip(*kept, strict=True)
        return weighted_plurality(labels, kept_w, self.classes())
