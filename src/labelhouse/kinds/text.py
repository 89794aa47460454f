"""Free text: a written answer (a correction, a rationale, a reference completion).

The text is stored exactly as typed — no stripping — because whitespace can matter (code,
poetry, formatting of reference answers). Lengths count Unicode code points. NUL characters
are refused because PostgreSQL text columns cannot store them.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Callable
from importlib import metadata
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from labelhouse.kinds._common import ConfigBool, ConfigInt, ReadsData, plural, shown
from labelhouse.kinds.base import ValueProblem

_TOKEN = re.compile(r"\w+", re.UNICODE)


def token_f1(a: str, b: str) -> float:
    """Token-overlap F1 (SQuAD style, case-folded words): 1.0 for the same words, 0.0 for
    none in common, both empty counting as identical."""
    ta, tb = _TOKEN.findall(a.casefold()), _TOKEN.findall(b.casefold())
    if not ta and not tb:
        return 1.0
    common = sum((Counter(ta) & Counter(tb)).values())
    return 2.0 * common / (len(ta) + len(tb)) if common else 0.0


def exact_match(a: str, b: str) -> float:
    """1.0 when the texts are equal after trimming outer whitespace, else 0.0."""
    return 1.0 if a.strip() == b.strip() else 0.0


# -- the similarity hook -------------------------------------------------------------------
# What counts as two annotators agreeing on free text depends on the task (a translation,
# a rationale, a reference answer), so a field names its similarity. Built-ins are below;
# a deployment adds its own (e.g. embedding cosine) with register_similarity() at start-up
# or, without touching Labelhouse, from a package that declares an entry point in the
# "labelhouse.text_similarity" group pointing at a function (str, str) -> float in [0, 1].
Similarity = Callable[[str, str], float]
ENTRY_POINT_GROUP = "labelhouse.text_similarity"
NO_SIMILARITY = "none"
_similarities: dict[str, Similarity] = {"token_f1": token_f1, "exact": exact_match}


def register_similarity(name: str, function: Similarity) -> None:
    """Make ``function`` selectable as ``similarity: <name>`` in text fields."""
    if name == NO_SIMILARITY or not name:
        raise ValueError(f"'{NO_SIMILARITY}' and the empty name are reserved")
    _similarities[name] = function


@functools.cache
def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def similarity_names() -> list[str]:
    """Every name a text field may use, built-in, registered or from installed plugins."""
    return sorted({*_similarities, *_entry_points(), NO_SIMILARITY})


def get_similarity(name: str) -> Similarity | None:
    """The function behind a name (``None`` for ``"none"``); plugins load on first use."""
    if name == NO_SIMILARITY:
        return None
    if name not in _similarities and name in _entry_points():
        _similarities[name] = _entry_points()[name].load()
    return _similarities[name]


class TextField(ReadsData):
    kind: Literal["text"] = "text"
    kind_name: ClassVar[str] = "text"

    min_length: ConfigInt = Field(default=0, ge=0)
    max_length: ConfigInt = Field(default=100_000, ge=1, le=1_000_000)
    placeholder: str | None = Field(default=None, max_length=500)
    markdown: ConfigBool = False
    # How the quality report compares two answers: "none" (the default: free text has no
    # agreement statistic), "token_f1" (word-overlap F1), "exact", or a registered/plugin
    # name (see register_similarity).
    similarity: str = Field(default="none", min_length=1, max_length=100)

    @field_validator("similarity")
    @classmethod
    def _known_similarity(cls, name: str) -> str:
        if name not in similarity_names():
            raise ValueError(
                f"unknown similarity '{name}'; use one of {', '.join(similarity_names())} "
                f"(more can be registered by a plugin in the '{ENTRY_POINT_GROUP}' "
                "entry-point group)"
            )
        return name

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
        is shown as sanitized Markdown instead of plain text; conversations always are."""
        chats = super().display(data)
        if not self.markdown:
            return chats
        from labelhouse.markdown import render as render_markdown  # only pages need it

        html = {k: render_markdown(data[k]) for k in self.reads if isinstance(data.get(k), str)}
        html |= chats.get("data", {})
        return {"data": html} if html else {}

    # Free text has no consensus and no chance-corrected agreement: the report shows the
    # mean pairwise similarity of the field's ``similarity`` function, or nothing ("none").
    def agreement_kind(self) -> str:
        return "none" if self.similarity == NO_SIMILARITY else "text"

    def compare(self, a: Any, b: Any) -> float:
        if not isinstance(a, str) or not isinstance(b, str):
            return 1.0 if a == b else 0.0
        function = get_similarity(self.similarity)
        if function is None:
            return math.nan
        return min(max(float(function(a, b)), 0.0), 1.0)

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
