"""Small pieces shared by several kinds, so each kind module only states its own rules.

Config types here are *strict*: Python's ``bool`` is an ``int`` and pydantic's lax mode
would happily read ``max: true`` as ``1``; a schema author who writes that has made a
mistake we want to point out, not guess around. Submitted values arrive as decoded JSON,
so the value helpers speak in JSON type names in their messages.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from labelhouse.kinds.base import FieldKind, Option, ValueProblem, check_unique_options

MAX_LISTED = 20  # how many allowed values an error message lists before eliding


def unique_strings(items: list[str]) -> list[str]:
    seen: set[str] = set()
    for item in items:
        if item in seen:
            raise ValueError(f"'{item}' is listed twice; list each key once")
        seen.add(item)
    return items


ConfigInt = Annotated[int, Field(strict=True)]
ConfigFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]
ConfigBool = Annotated[bool, Field(strict=True)]
DataKey = Annotated[str, Field(min_length=1, max_length=200)]
DataKeys = Annotated[list[DataKey], Field(max_length=50), AfterValidator(unique_strings)]
Options = Annotated[
    list[Option], Field(min_length=1, max_length=200), AfterValidator(check_unique_options)
]


# How a conversation shows its system prompt (kinds/conversation.py): in full, folded
# (the default, ``None`` in a stored schema) or not at all.
SystemPromptShown = Literal["show", "collapse", "hide"]


class ReadsData(FieldKind):
    """A field shown next to task data it does not itself interpret (e.g. the text to
    classify, or a conversation to rate: then it is validated and drawn as a chat)."""

    reads: DataKeys = []
    system_prompt: SystemPromptShown | None = None

    def data_keys(self) -> tuple[str, ...]:
        return tuple(self.reads)

    def check_data(self, data: dict[str, Any]) -> list[str]:
        from labelhouse.kinds.conversation import conversation_problems

        problems = super().check_data(data)
        for key in self.reads:
            problems.extend(conversation_problems(data, key))
        return problems

    def display(self, data: dict[str, Any]) -> dict[str, Any]:
        """Conversations among the keys this field reads, as server-rendered chat HTML."""
        from labelhouse.kinds.conversation import render_value

        shown_as = self.system_prompt or "collapse"
        chats = {k: html for k in self.reads if (html := render_value(data.get(k), k, shown_as))}
        return {"data": chats} if chats else {}


# -- helpers for validating submitted values ---------------------------------------------------


def shown(value: Any) -> str:
    """A decoded JSON value as a message shows it: numbers and short strings as themselves,
    containers by their JSON type name."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:37] + "…")
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def listing(values: list[str]) -> str:
    """``'a', 'b', 'c'`` — elided after :data:`MAX_LISTED` so messages stay readable."""
    text = ", ".join(f"'{v}'" for v in values[:MAX_LISTED])
    if len(values) > MAX_LISTED:
        text += f", … ({len(values) - MAX_LISTED} more)"
    return text


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def as_int(value: Any) -> int | None:
    """An integer, or ``None``: accepts ``3`` and ``3.0`` (JSON has one number type), not
    ``True`` (a bool is an int in Python) nor ``3.5``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def as_number(value: Any) -> float | None:
    """A finite float, or ``None`` for bools, strings, NaN, infinities and huge ints."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def check_keys(
    obj: dict[Any, Any],
    *,
    required: tuple[str, ...],
    optional: tuple[str, ...] = (),
    where: str = "",
) -> None:
    """Reject unknown and missing keys of a submitted object, naming the allowed ones."""
    allowed = required + optional
    for key in obj:
        if key not in allowed:
            raise ValueProblem(f"unknown key '{key}'; allowed keys: {', '.join(allowed)}", where)
    for key in required:
        if key not in obj:
            raise ValueProblem(f"missing '{key}'", f"{where}.{key}")


def pick_option(value: Any, options: list[Option], where: str, *, what: str = "option") -> str:
    """Return ``value`` if it is the ``value`` of one of ``options``; else say which are allowed."""
    values = [o.value for o in options]
    if not isinstance(value, str):
        raise ValueProblem(
            f"expected a string, got {shown(value)}; use one of: {listing(values)}",
            where,
        )
    if value not in values:
        raise ValueProblem(f"unknown {what} '{value}'; use one of: {listing(values)}", where)
    return value
