"""Ranking: order several responses from best to worst (listwise preference data).

The value is one rank per response, aligned with the task's ``responses`` list (not the
display order), 1 = best. When ties are allowed, ranks are stored densely (``[1, 3, 3]``
becomes ``[1, 2, 2]``) so equal orderings are stored identically.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from labelhouse.kinds._common import ConfigBool, as_int, shown
from labelhouse.kinds._responses import ResponsesField
from labelhouse.kinds.base import ValueProblem


class RankingField(ResponsesField):
    kind: Literal["ranking"] = "ranking"
    kind_name: ClassVar[str] = "ranking"
    min_responses: ClassVar[int] = 2
    max_responses: ClassVar[int] = 20

    allow_ties: ConfigBool = False

    def is_empty(self, value: Any) -> bool:
        # An untouched widget may send one null per response.
        if isinstance(value, list):
            return all(v is None for v in value)
        return super().is_empty(value)

    def validate_value(self, value: Any, data: dict[str, Any]) -> list[int]:
        k = len(self.task_responses(data))
        if not isinstance(value, list):
            raise ValueProblem(
                f"expected a list of {k} ranks, one per response in the task's order "
                f"(1 = best), got {shown(value)}"
            )
        if len(value) != k:
            raise ValueProblem(
                f"expected {k} ranks, one per response in the task's order, got {len(value)}"
            )
        ranks: list[int] = []
        given: dict[int, int] = {}  # rank -> index of the first response holding it
        for i, raw in enumerate(value):
            rank = as_int(raw)
            if rank is None or not 1 <= rank <= k:
                raise ValueProblem(
                    f"a rank is a whole number from 1 (best) to {k}, got {shown(raw)}", f"[{i}]"
                )
            if not self.allow_ties and rank in given:
                raise ValueProblem(
                    f"rank {rank} is given to responses {given[rank] + 1} and {i + 1}; this "
                    f"field does not allow ties, so use each rank from 1 to {k} once",
                    f"[{i}]",
                )
            given.setdefault(rank, i)
            ranks.append(rank)
        dense = {rank: n for n, rank in enumerate(sorted(given), start=1)}
        return [dense[r] for r in ranks]
