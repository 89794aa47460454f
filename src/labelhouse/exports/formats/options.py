"""Checking a training format's options (text from query parameters or ``--option``):
unknown names, menus, numbers, and which schema field or data key an option names. Every
problem is an InvalidInput naming the option, so the API answers 422 with it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from labelhouse.errors import InvalidInput, Problem


@dataclass(frozen=True)
class OptionHelp:
    """One option a format takes, as the export page and the docs show it (``Format.
    option_help``): ``choices`` (the first is the default) make a menu, none a free text
    box (``default`` says what an empty box means). Here rather than in ``writers.py`` so
    that format modules need not import the registry that imports them."""

    name: str
    help: str
    choices: tuple[str, ...] = ()
    default: str = ""


def check_names(options: Mapping[str, str], declared: Iterable[OptionHelp]) -> None:
    """Refuse options the format does not declare, naming each one and the known ones."""
    known = [o.name for o in declared]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise InvalidInput(
            f"Unknown option{'s' if len(unknown) > 1 else ''} for this export format: "
            f"{', '.join(unknown)}.",
            [
                Problem(name, f"not an option of this format; use one of: {', '.join(known)}")
                for name in unknown
            ],
        )


def given(options: Mapping[str, str], name: str) -> str | None:
    """The option's text, or None when absent or empty (an empty box on the export page)."""
    value = options.get(name)
    return value.strip() if value is not None and value.strip() else None


def choice(options: Mapping[str, str], name: str, choices: Sequence[str]) -> str:
    """A menu option; the first choice is the default."""
    value = given(options, name)
    if value is None:
        return choices[0]
    if value not in choices:
        raise InvalidInput(
            f"Unknown {name} '{value}'.", [Problem(name, f"use one of: {', '.join(choices)}")]
        )
    return value


def number(options: Mapping[str, str], name: str) -> float | None:
    value = given(options, name)
    if value is None:
        return None
    try:
        parsed = float(value)
    except ValueError:
        parsed = float("nan")
    if parsed != parsed or parsed in (float("inf"), float("-inf")):
        raise InvalidInput(
            f"The option {name} must be a number, got '{value}'.",
            [Problem(name, "a number, e.g. 4 or 3.5")],
        )
    return parsed


def schema_field(schema: Any, options: Mapping[str, str], kinds: Sequence[str]) -> Any:
    """The field the ``field`` option names (which must be of one of ``kinds``), or the
    schema's only field of those kinds when the option is not given."""
    fitting = [f for f in schema.fields if f.kind in kinds]
    what = " or ".join(kinds)
    name = given(options, "field")
    if name is not None:
        found = next((f for f in fitting if f.name == name), None)
        if found is None:
            names = ", ".join(f.name for f in fitting) or f"none: the schema has no {what} field"
            raise InvalidInput(
                f"The field '{name}' is not a {what} field of this project.",
                [Problem("field", f"use one of: {names}")],
            )
        return found
    if not fitting:
        raise InvalidInput(
            f"This format needs a {what} field, and the project's label schema has none.",
            [Problem("field", f"add a {what} field to the schema, or use another format")],
        )
    if len(fitting) > 1:
        raise InvalidInput(
            f"The schema has several {what} fields; say which one to export.",
            [Problem("field", f"use one of: {', '.join(f.name for f in fitting)}")],
        )
    return fitting[0]


def data_key(options: Mapping[str, str], name: str, default: str | None) -> str | None:
    """A data key an option names (any key: task data is free-form), else ``default``."""
    value = given(options, name)
    return default if value is None else value
