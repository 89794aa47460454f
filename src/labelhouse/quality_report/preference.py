"""Preference data of pairwise and ranking fields: Bradley–Terry scores and bias checks.

What is ranked: every response names a compared item through its field's
``compared_items`` hook — the ``model`` when all responses of a task carry one (scores then
rank models across the whole project), else the response ``id``, else its position
("response 1", "response 2"…, which makes the scores a check of position effects).

Position and length bias need the side each response was *shown* on; the annotate page
shuffles it per task with a seeded function that ``display_order`` replicates exactly.
Both kinds state ranks (``ranks_of``: a pairwise choice is a ranking of two), so one pass
collects, per judgment, whether the first-shown response won and the responses' lengths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labelhouse import quality
from labelhouse.kinds._responses import ResponsesField
from labelhouse.quality.data import factorize
from labelhouse.quality_report.loading import Answers

BASES = ("model", "id", "position")  # when tasks differ, the report names the most specific


@dataclass
class ItemScore:
    item: str
    score: float
    ci_low: float
    ci_high: float
    wins: float
    comparisons: int


@dataclass
class Check:
    effect: float | None
    n: int
    p_value: float | None
    biased: bool
    verdict: str
    expected: float | None = None  # the effect without bias (chance share, or 0)


@dataclass
class PreferenceAnalysis:
    field: str
    kind: str
    items_are: str  # "model", "id" or "position"
    scores: list[ItemScore]
    n_judgments: int
    n_ties: int
    position_bias: Check | None
    length_bias: Check | None
    cyclic_triads: int
    triads: int
    contradicted_pairs: int
    # per user id: reliability (agreement with the BT order), position share, cycles
    per_annotator: dict[int, dict[str, Any]] = field(default_factory=dict)


def _check(test: quality.BiasTest) -> Check:
    def clean(x: float) -> float | None:
        return float(x) if np.isfinite(x) else None

    return Check(
        clean(test.effect),
        test.n,
        clean(test.p_value),
        bool(test.biased),
        test.verdict,
        clean(test.expected),
    )


@dataclass
class _Shown:
    """What each judgment shows about display position and length (one row each)."""

    first_top: list[bool] = field(default_factory=list)
    chance: list[float] = field(default_factory=list)
    ranks: list[list[int]] = field(default_factory=list)
    lengths: list[list[int]] = field(default_factory=list)
    who: list[int] = field(default_factory=list)

    def add(self, kind: ResponsesField, task_id: int, data: dict[str, Any], ranks: list[int],
            user: int) -> None:  # fmt: skip
        k = len(ranks)
        try:
            texts = [resp.text for resp in kind.read_responses(data)]
        except ValueError:
            return
        best = min(ranks)
        n_top = ranks.count(best)
        if len(texts) != k or n_top == k:  # all tied: no side was preferred
            return
        first = kind.display_order(task_id, k)[0]
        self.first_top.append(ranks[first] == best)
        self.chance.append(n_top / k)
        # pairwise: lengths by display side (left, right) for the logistic length check
        order = kind.display_order(task_id, k) if k == 2 else list(range(k))
        self.ranks.append([ranks[i] for i in order])
        self.lengths.append([len(texts[i]) for i in order])
        self.who.append(user)

    def padded(self) -> tuple[np.ndarray, np.ndarray]:
        width = max(len(r) for r in self.ranks)
        ranks = np.full((len(self.ranks), width), np.nan)
        lengths = np.full_like(ranks, np.nan)
        for j, (r, n) in enumerate(zip(self.ranks, self.lengths, strict=True)):
            ranks[j, : len(r)] = r
            lengths[j, : len(n)] = n
        return ranks, lengths


def _bias_checks(
    kind: ResponsesField, shown: _Shown, answers: Answers, per: dict[int, dict[str, Any]]
) -> tuple[Check | None, Check | None]:
    """Position and length bias: for pairwise judgments the binomial test of the left side
    and the logistic length slope; for rankings the first-listed-ranked-best test against
    chance and the stratified Kendall test of rank against length."""
    if not shown.first_top:
        return None, None
    if kind.max_responses == 2:
        lengths = np.asarray(shown.lengths, dtype=np.float64)
        position = quality.position_bias(shown.first_top)
        length = quality.length_bias(shown.first_top, lengths[:, 0], lengths[:, 1])
        by_user = quality.position_bias_by_annotator(
            shown.first_top, shown.who, n_annotators=answers.n_users
        )
    else:
        ranks, lengths = shown.padded()
        position = quality.rank_position_bias(shown.first_top, shown.chance)
        length = quality.rank_length_bias(ranks, lengths)
        by_user = quality.rank_position_bias_by_annotator(
            shown.first_top, shown.chance, shown.who, n_annotators=answers.n_users
        )
    for u, test in enumerate(by_user):
        if test.n:
            entry = per.setdefault(int(answers.user_ids[u]), {})
            entry["first_shown_share"] = float(test.effect)
            entry["first_shown_chance"] = float(test.expected)
            entry["position_p_value"] = float(test.p_value)
    return _check(position), _check(length)


def analyse_preferences(
    kind: ResponsesField, answers: Answers, task_data: dict[int, dict[str, Any]]
) -> PreferenceAnalysis | None:
    winners: list[str] = []
    losers: list[str] = []
    who: list[int] = []
    tie_a: list[str] = []
    tie_b: list[str] = []
    shown = _Shown()
    items_are = "position"
    for r, value in enumerate(answers.values):
        if kind.name not in value:
            continue
        task_id = int(answers.task_ids[answers.task_code[r]])
        data = task_data.get(task_id)
        compared = kind.compared_items(data) if data is not None else None
        if compared is None:
            continue
        basis, keys = compared
        if BASES.index(basis) < BASES.index(items_are):
            items_are = basis
        prefs = kind.preferences(value[kind.name])
        for p in prefs:
            if p.tie:
                tie_a.append(keys[p.winner])
                tie_b.append(keys[p.loser])
            else:
                winners.append(keys[p.winner])
                losers.append(keys[p.loser])
                who.append(int(answers.user_code[r]))
        ranks = kind.ranks_of(value[kind.name])
        if ranks and data is not None:
            shown.add(kind, task_id, data, ranks, int(answers.user_code[r]))
    if not winners and not tie_a:
        return None
    codes, names = factorize(winners + losers + tie_a + tie_b, sort=True)
    n_w, n_t = len(winners), len(tie_a)
    win, lose = codes[:n_w], codes[n_w : 2 * n_w]
    ta, tb = codes[2 * n_w : 2 * n_w + n_t], codes[2 * n_w + n_t :]
    bt = quality.bradley_terry(win, lose, n_items=len(names), ties=(ta, tb))
    scores = sorted(
        (
            ItemScore(
                str(names[i]),
                float(bt.scores[i]),
                float(bt.ci_low[i]),
                float(bt.ci_high[i]),
                float(bt.wins[i]),
                int(bt.n_comparisons[i]),
            )
            for i in range(len(names))
        ),
        key=lambda s: -s.score,
    )
    who_arr = np.asarray(who, dtype=np.int64)
    reliability, n_judged = quality.annotator_reliability(
        bt.scores, win, lose, who_arr, n_annotators=answers.n_users
    )
    trans = quality.transitivity_violations(win, lose, who_arr, n_annotators=answers.n_users)
    per: dict[int, dict[str, Any]] = {}
    for u in range(answers.n_users):
        if n_judged[u]:
            per[int(answers.user_ids[u])] = {
                "bt_agreement": float(reliability[u]),
                "judgments": int(n_judged[u]),
                "cyclic_triads": int(trans.cyclic_triads[u]),
                "triads": int(trans.triads[u]),
            }
    position, length = _bias_checks(kind, shown, answers, per)
    return PreferenceAnalysis(
        field=kind.name,
        kind=kind.kind_name,
        items_are=items_are,
        scores=scores,
        n_judgments=n_w + n_t,
        n_ties=n_t,
        position_bias=position,
        length_bias=length,
        cyclic_triads=int(trans.cyclic_triads.sum()),
        triads=int(trans.triads.sum()),
        contradicted_pairs=int(trans.contradicted_pairs.sum()),
        per_annotator=per,
    )
