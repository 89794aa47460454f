"""Free text: a written answer (a correction, a rationale, a reference completion).

The text is stored exactly as typed — no stripping — because whitespace can matter (code,
poetry, formatting of reference answers). Lengths count Unicode code points. NUL characters
are refused because PostgreSQL text columns cannot store them.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from labelhouse.kinds._common import ConfigBool, ConfigInt, ReadsData, plural, shown
from labelhouse.kinds.base import ValueProblem
from labelhouse.markdown import render as render_markdown

_TOKEN = re.compile(r"\w+", re.UNICODE)


def token_f1(a: str, b: str) -> float:
    """Token-overlap F1 (SQuAD style, case-folded words): 1.0 for the same words, 0.0 for
    none in common, both empty counting as identical."""
    ta, tb = _TOKEN.findall(a.casefold()), _TOKEN.findall(b.casefold())
    if not ta and not tb:
        return 1.0
    common = sum((Counter(ta) & Counter(tb)).values())
    return 2.0 * common / (len(ta) + len(tb)) if common else 0.0


class TextField(ReadsData):
    kind: Literal["text"] = "text"
    kind_name: ClassVar[str] = "text"

    min_length: ConfigInt = Field(default=0, ge=0)
    max_length: ConfigInt = Field(default=100_000, ge=1, le=1_000_000)
    placeholder: str | None = Field(default=None, max_length=500)
    markdown: ConfigBool = False

    @model_validator(mode="after")
    def _check_lengths(self) -> TextField:
        if self.min_length > self.max_length:
            raise ValueError(
                f"min_length ({self.min_length}) is more than max_length ({self.max_length}); "
                "lower min_length or raise max_length"
            )
        return self

    def display(self, data: dict[str, Any]) -> dict[str, Any]:
        """With ``markdown`` set, the task text this field reads (e.g. a response to correct)
        is shown as sanitized Markdown instead of plain text."""
        if not self.markdown:
            return {}
        html = {k: render_markdown(data[k]) for k in self.reads if isinstance(data.get(k), str)}
        return {"data": html} if html else {}

    # Free text has no agreement statistic by default: the report shows the mean pairwise
    # similarity from this hook (token F1; override for embeddings) and no consensus.
    def agreement_kind(self) -> str:
        return "text"

    def compare(self, a: Any, b: Any) -> float:
        if not isinstance(a, str) or not isinstance(b, str):
            return 1.0 if a == b else 0.0
        return token_f1(a, b)

    def validate_value(self, value: Any, data: dict[str, Any]) -> str:
        if not isinstance(value, str):
            raise ValueProblem(f"expected text (a string), got {shown(value)}")
        nul = value.find("\x00")
        if nul >= 0:
            raise ValueProblem(
                f"the text contains a NUL character (\\u0000) at position {nul}; remove it"
            )
        if len(value) < self.min_length:
            raise ValueProblem(
                f"too short: write at least {plural(self.min_length, 'character')} "
                f"(got {len(value)})"
            )
        if len(value) > self.max_length:
            raise ValueProblem(
                f"too long: at most {plural(self.max_length, 'character')} allowed "
                f"(got {len(value)}); shorten it"
            )
        return value
