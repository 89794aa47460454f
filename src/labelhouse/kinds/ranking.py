"""Ranking: order several responses from best to worst (listwise preference data).

The value is one rank per response, aligned with the task's ``responses`` list (not the
display order), 1 = best. When ties are allowed, ranks are stored densely (``[1, 3, 3]``
becomes ``[1, 2, 2]``) so equal orderings are stored identically.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from labelhouse.kinds._common import ConfigBool, as_int, shown
from labelhouse.kinds._responses import Preference, ResponsesField
from labelhouse.kinds.base import ValueProblem, vote_weights


def _ranks(value: Any) -> list[int] | None:
    if not isinstance(value, list) or not value:
        return None
    ranks = [as_int(r) for r in value]
    return None if any(r is None for r in ranks) else ranks  # type: ignore[return-value]


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

    # Rankings agree by Kendall's τ-b, rescaled to [0, 1] (1 same order, 0 reversed);
    # consensus is the Borda order: responses sorted by their weighted mean rank.
    def agreement_kind(self) -> str:
        return "ranking"

    def compare(self, a: Any, b: Any) -> float:
        ra, rb = _ranks(a), _ranks(b)
        if ra is None or rb is None or len(ra) != len(rb):
            return 1.0 if a == b else 0.0
        if ra == rb:
            return 1.0
        from labelhouse.quality.agreement import kendall_tau

        tau = kendall_tau(ra, rb)
        return 0.5 if math.isnan(tau) else (tau + 1.0) / 2.0

    def merge(
        self,
        values: Sequence[Any],
        weights: Sequence[float] | None = None,
        *,
        data: dict[str, Any] | None = None,
    ) -> tuple[Any, float]:
        """Mean-rank (Borda) consensus; equal means tie when the field allows ties, else the
        earlier response goes first. Confidence: the weighted mean agreement (rescaled τ)
        of the annotators' rankings with the consensus."""
        w = vote_weights(values, weights)
        kept = [(r, x) for v, x in zip(values, w, strict=True) if (r := _ranks(v)) is not None]
        if not kept:
            return None, 0.0
        n = max(len(r) for r, _ in kept)
        kept = [(r, x) for r, x in kept if len(r) == n]
        total = sum(x for _, x in kept)
        if total <= 0:
            return None, 0.0
        means = [sum(r[i] * x for r, x in kept) / total for i in range(n)]
        order = sorted(range(n), key=lambda i: (round(means[i], 9), i))
        consensus = [0] * n
        rank = 0
        previous: float | None = None
        for position, i in enumerate(order, start=1):
            key = round(means[i], 9)
            if not self.allow_ties or key != previous:
                rank = rank + 1 if self.allow_ties else position
            consensus[i] = rank
            previous = key
        confidence = sum(self.compare(r, consensus) * x for r, x in kept) / total
        return consensus, confidence

    def ranks_of(self, value: Any) -> list[int] | None:
        return _ranks(value)

    def preferences(self, value: Any) -> list[Preference]:
        ranks = _ranks(value)
        if ranks is None:
            return []
        out = []
        for i in range(len(ranks)):
            for j in range(i + 1, len(ranks)):
                if ranks[i] < ranks[j]:
                    out.append(Preference(i, j))
                elif ranks[i] > ranks[j]:
                    out.append(Preference(j, i))
                else:
                    out.append(Preference(i, j, tie=True))
        return out
