"""Agreement per annotator pair: who agrees with whom, over the tasks both answered.

Categorical fields read it off the vectorised pair-κ matrix (observed agreement and Cohen's
κ); other kinds average the kind's ``compare`` score over the tasks a pair shares, collected
while the per-task agreement is computed. The report lists the least-agreeing pairs first:
a pair far below the others points at one annotator who misread the guidelines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelhouse import quality
from labelhouse.quality.data import FloatArray, IntArray

MIN_SHARED = 2  # tasks a pair must share to be listed
LIMIT = 50  # pairs listed per field, least agreeing first


@dataclass(frozen=True)
class PairStats:
    """Aligned arrays over annotator pairs (user codes ``a < b``)."""

    a: IntArray
    b: IntArray
    tasks: IntArray
    agreement: FloatArray
    kappa: FloatArray  # nan where undefined or not categorical

    @classmethod
    def empty(cls) -> PairStats:
        none = np.zeros(0, dtype=np.int64)
        return cls(none, none, none, np.zeros(0), np.zeros(0))


def from_kappa(pk: quality.PairKappa) -> PairStats:
    a, b = np.triu_indices(pk.n_common.shape[0], k=1)
    keep = pk.n_common[a, b] >= MIN_SHARED
    a, b = a[keep], b[keep]
    return PairStats(a, b, pk.n_common[a, b], pk.agreement[a, b], pk.kappa[a, b])


class PairTally:
    """Accumulates ``compare`` scores of annotator pairs task by task."""

    def __init__(self) -> None:
        self.total: dict[tuple[int, int], float] = {}
        self.count: dict[tuple[int, int], int] = {}

    def add(self, u: int, v: int, score: float) -> None:
        key = (u, v) if u < v else (v, u)
        self.total[key] = self.total.get(key, 0.0) + score
        self.count[key] = self.count.get(key, 0) + 1

    def stats(self) -> PairStats:
        keys = [k for k, n in self.count.items() if n >= MIN_SHARED]
        if not keys:
            return PairStats.empty()
        return PairStats(
            np.asarray([k[0] for k in keys], dtype=np.int64),
            np.asarray([k[1] for k in keys], dtype=np.int64),
            np.asarray([self.count[k] for k in keys], dtype=np.int64),
            np.asarray([self.total[k] / self.count[k] for k in keys]),
            np.full(len(keys), np.nan),
        )


def lowest(stats: PairStats, limit: int = LIMIT) -> IntArray:
    """Indices of the ``limit`` least-agreeing pairs (ties: more shared tasks first)."""
    order = np.lexsort((stats.b, stats.a, -stats.tasks, stats.agreement))
    return order[:limit]
