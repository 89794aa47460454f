"""TRL preference pairs (DPO, reward modelling): ``prompt``, ``chosen``, ``rejected``.

From a pairwise field (``chosen`` is the preferred response) or a ranking field (pairs from
the order: ``pairs=best`` the best response against each other one, ``pairs=all`` every
pair). The prompt and the responses are the task data keys the field reads (``prompt``,
``responses``), the prompt key overridable with the ``prompt`` option (e.g. a key holding
chat messages). A field without a prompt key gives TRL's implicit-prompt rows (``chosen``
and ``rejected`` only). Ties are dropped, or with ``ties=keep`` written in the task's order
with ``tie: true`` (a ``tie`` column then appears on every row).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from labelhouse.exports.formats import options as opts
from labelhouse.exports.formats import trl
from labelhouse.exports.formats.options import OptionHelp
from labelhouse.exports.formats.values import Answer

KINDS = ("pairwise", "ranking")
PAIRS = ("best", "all")
TIES = ("drop", "keep")
OPTIONS = (
    *trl.common_options(
        "the pairwise or ranking field whose judgments make the pairs",
        "the task data key holding the prompt (text or chat messages)",
    ),
    OptionHelp(
        "pairs",
        "ranking fields: best (the best response against each other one) or all (every pair)",
        PAIRS,
    ),
    OptionHelp("ties", "drop tied pairs, or keep them (with a tie column)", TIES),
)


def parse_options(schema: Any, options: Mapping[str, str]) -> dict[str, Any]:
    opts.check_names(options, OPTIONS)
    field = opts.schema_field(schema, options, KINDS)
    return trl.parse_common(options) | {
        "field": field.name,
        "prompt": opts.data_key(options, "prompt", field.prompt),
        "pairs": opts.choice(options, "pairs", PAIRS),
        "ties": opts.choice(options, "ties", TIES),
    }


class PreferenceRows(trl.Rows):
    def __init__(self, schema: Any, field_names: list[str], options: Mapping[str, Any]) -> None:
        super().__init__(field_names, options)
        self.field = schema.field(options["field"])
        self.prompt_key = options.get("prompt")
        self.keep_ties = options.get("ties") == "keep"
        self.best_only = options.get("pairs", "best") == "best"
        self.columns = ("prompt",) * (self.prompt_key is not None) + ("chosen", "rejected")
        self.columns += ("tie",) * self.keep_ties

    def examples(self, data: Mapping[str, Any], answer: Answer) -> Iterator[dict[str, Any]]:
        value = answer.value.get(self.field.name)
        if value is None:
            return
        try:
            texts = [r.text for r in self.field.read_responses(dict(data))]
        except ValueError:
            return  # a broken task: nothing to pair
        prompt = trl.prompt_of(data, self.prompt_key)
        if self.prompt_key is not None and prompt is None:
            return  # no prompt in this task's data
        chat = isinstance(prompt, list)
        preferences = self.field.preferences(value)
        if self.best_only and self.field.kind == "ranking":
            ranks = self.field.ranks_of(value) or []
            top = min(ranks, default=0)
            preferences = [p for p in preferences if ranks[p.winner] == top]
        for p in preferences:
            if p.tie and not self.keep_ties:
                continue
            if max(p.winner, p.loser) >= len(texts):
                continue
            row: dict[str, Any] = {} if self.prompt_key is None else {"prompt": prompt}
            row["chosen"] = trl.reply(texts[p.winner], chat)
            row["rejected"] = trl.reply(texts[p.loser], chat)
            if self.keep_ties:
                row["tie"] = p.tie
            yield row


SPEC: dict[str, Any] = trl.format_spec(
    PreferenceRows,
    "dpo",
    parse_options=parse_options,
    option_help=OPTIONS,
    description="TRL preference pairs (DPO, reward models): prompt, chosen, rejected, as text "
    "or chat messages, from a pairwise or ranking field",
)
