"""TRL supervised fine-tuning (conversational language modelling): ``messages``, from a
text field whose answers are demonstrations (what the assistant should have said).

The messages are an optional system message (the ``system`` option: a task data key), the
prompt (a task data key: its text as a user message, or its list of chat messages as they
are) and the answer as the assistant's message. Empty answers give no row.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from labelhouse.exports.formats import options as opts
from labelhouse.exports.formats import trl
from labelhouse.exports.formats.options import OptionHelp
from labelhouse.exports.formats.values import Answer

OPTIONS = (
    *trl.common_options(
        "the text field holding the demonstrations",
        "the task data key holding the prompt (text or chat messages)",
    ),
    OptionHelp("system", "a task data key holding a system message", default="none"),
)


def parse_options(schema: Any, options: Mapping[str, str]) -> dict[str, Any]:
    opts.check_names(options, OPTIONS)
    field = opts.schema_field(schema, options, ("text",))
    reads = list(field.reads)
    default = "prompt" if "prompt" in reads or not reads else reads[0]
    return trl.parse_common(options) | {
        "field": field.name,
        "prompt": opts.data_key(options, "prompt", default),
        "system": opts.data_key(options, "system", None),
    }


class SftRows(trl.Rows):
    columns = ("messages",)

    def __init__(self, schema: Any, field_names: list[str], options: Mapping[str, Any]) -> None:
        super().__init__(field_names, options)
        self.field_name = options["field"]
        self.prompt_key = options["prompt"]
        self.system_key = options.get("system")

    def examples(self, data: Mapping[str, Any], answer: Answer) -> Iterator[dict[str, Any]]:
        text = answer.value.get(self.field_name)
        prompt = trl.prompt_of(data, self.prompt_key)
        if not isinstance(text, str) or not text.strip() or prompt is None:
            return
        messages: list[dict[str, str]] = []
        system = data.get(self.system_key) if self.system_key else None
        if isinstance(system, str) and system:
            messages.append({"role": "system", "content": system})
        if isinstance(prompt, list):
            messages += prompt
        else:
            messages.append({"role": "user", "content": prompt})
        messages.append({"role": "assistant", "content": text})
        yield {"messages": messages}


SPEC: dict[str, Any] = trl.format_spec(
    SftRows,
    "sft",
    parse_options=parse_options,
    option_help=OPTIONS,
    description="TRL supervised fine-tuning: chat messages (system, prompt, the annotator's "
    "demonstration as the assistant's reply) from a text field",
)
