"""TRL unpaired preference (KTO; also a reward signal): ``prompt``, ``completion`` and
``label`` (true: desirable) from a rating field — ``label`` is ``rating >= threshold``.

The prompt and the completion are task data keys the rating field reads: by default
``prompt`` and the other key it reads (or ``completion``/``response`` among several); the
``prompt`` and ``completion`` options name them otherwise. A completion may be text or a
response object with ``text``; a chat prompt (a list of messages) makes the completion an
assistant message.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from labelhouse.errors import InvalidInput, Problem
from labelhouse.exports.formats import options as opts
from labelhouse.exports.formats import trl
from labelhouse.exports.formats.options import OptionHelp
from labelhouse.exports.formats.values import Answer
from labelhouse.kinds._common import as_int

OPTIONS = (
    *trl.common_options(
        "the rating field",
        "the task data key holding the prompt (text or chat messages)",
    ),
    OptionHelp(
        "completion",
        "the task data key holding the rated completion",
        default="the other key the field reads",
    ),
    OptionHelp(
        "threshold",
        "ratings at or above it are desirable (label true)",
        default="the first point above the middle of the scale (4 on 1–5)",
    ),
)
COMPLETION_KEYS = ("completion", "response", "answer", "output")


def _keys(field: Any, options: Mapping[str, str]) -> tuple[str, str]:
    reads = list(field.reads)
    prompt = opts.given(options, "prompt") or (
        "prompt" if "prompt" in reads or not reads else reads[0]
    )
    others = [k for k in reads if k != prompt]
    named = [k for k in others if k in COMPLETION_KEYS]
    default = named[0] if named else (others[0] if len(others) == 1 else None)
    completion = opts.data_key(options, "completion", default)
    if completion is None:
        raise InvalidInput(
            f"Say which task data key holds the completion the field '{field.name}' rates.",
            [Problem("completion", "a task data key, e.g. completion=response")],
        )
    if completion == prompt:
        raise InvalidInput(
            "The prompt and the completion are the same data key.",
            [Problem("completion", f"use a key other than '{prompt}'")],
        )
    return prompt, completion


def parse_options(schema: Any, options: Mapping[str, str]) -> dict[str, Any]:
    opts.check_names(options, OPTIONS)
    field = opts.schema_field(schema, options, ("rating",))
    prompt, completion = _keys(field, options)
    threshold = opts.number(options, "threshold")
    if threshold is None:
        threshold = math.floor((field.min + field.max) / 2) + 1
    return trl.parse_common(options) | {
        "field": field.name,
        "prompt": prompt,
        "completion": completion,
        "threshold": threshold,
    }


class KtoRows(trl.Rows):
    columns = ("prompt", "completion", "label")

    def __init__(self, schema: Any, field_names: list[str], options: Mapping[str, Any]) -> None:
        super().__init__(field_names, options)
        self.field_name = options["field"]
        self.prompt_key = options["prompt"]
        self.completion_key = options["completion"]
        self.threshold = options["threshold"]

    def examples(self, data: Mapping[str, Any], answer: Answer) -> Iterator[dict[str, Any]]:
        rating = as_int(answer.value.get(self.field_name))
        prompt = trl.prompt_of(data, self.prompt_key)
        completion = trl.text_of(data.get(self.completion_key))
        if rating is None or prompt is None or completion is None:
            return
        yield {
            "prompt": prompt,
            "completion": trl.reply(completion, isinstance(prompt, list)),
            "label": rating >= self.threshold,
        }


SPEC: dict[str, Any] = trl.format_spec(
    KtoRows,
    "kto",
    parse_options=parse_options,
    option_help=OPTIONS,
    description="TRL unpaired preference (KTO, reward signal): prompt, completion and a "
    "true/false label from a rating field and a threshold",
)
