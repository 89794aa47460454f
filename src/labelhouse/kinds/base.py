"""The field-kind protocol: everything that depends on a label kind lives behind it.

A kind is a Pydantic model describing one field of a project's label schema (its
configuration), with methods that say which task data keys it reads, check a task's data,
and validate a submitted value. One module per kind registers its model in
``kinds/registry.py``; nothing else in the code base switches on the kind name.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"


class ValueProblem(ValueError):
    """A submitted value is invalid; ``where`` is a path inside the value (e.g. ``[2].end``)."""

    def __init__(self, problem: str, where: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.where = where


class Option(BaseModel):
    """One label/choice: a stable ``value`` stored in annotations, a human ``label``."""

    model_config = ConfigDict(extra="forbid")

    value: str = Field(min_length=1, max_length=200)
    label: str | None = Field(default=None, max_length=200)
    hotkey: str | None = Field(default=None, min_length=1, max_length=1)
    description: str | None = Field(default=None, max_length=2000)
    color: str | None = Field(default=None, pattern=r"^#[0-9a-fA-F]{6}$")

    @property
    def display(self) -> str:
        return self.label or self.value


class FieldKind(BaseModel):
    """Common part of every field; subclasses set ``kind`` (a ``Literal``) and the hooks."""

    model_config = ConfigDict(extra="forbid")

    kind_name: ClassVar[str] = ""

    name: str = Field(pattern=NAME_PATTERN)
    title: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    required: bool = True

    # -- hooks -------------------------------------------------------------------------------
    def data_keys(self) -> tuple[str, ...]:
        """Task data keys this field reads (used to validate imported rows)."""
        return ()

    def media_keys(self) -> tuple[str, ...]:
        """Task data keys holding references to uploaded media (resolved at import)."""
        return ()

    def check_data(self, data: dict[str, Any]) -> list[str]:
        """Problems with one task's data for this field, e.g. a missing key. Empty if fine."""
        problems = []
        for key in self.data_keys():
            if key not in data or data[key] is None:
                problems.append(f"missing key '{key}' (read by field '{self.name}')")
        return problems

    def validate_value(self, value: Any, data: dict[str, Any]) -> Any:
        """Return the normalised value or raise :class:`ValueProblem`."""
        raise NotImplementedError

    def is_empty(self, value: Any) -> bool:
        """Whether a value counts as 'not answered' for ``required`` checks."""
        return value is None or value == "" or value == [] or value == {}

    def display(self, data: dict[str, Any]) -> dict[str, Any]:
        """Server-rendered, sanitized HTML the browser widget shows for this task.

        Widgets insert only this HTML, never HTML built from task data, so untrusted Markdown
        (LLM responses, prompts) is rendered and cleaned here. Empty when the field shows
        nothing but plain text (the widget then uses ``textContent``).
        """
        return {}


def option_values(options: list[Option]) -> list[str]:
    return [o.value for o in options]


def check_unique_options(options: list[Option]) -> list[Option]:
    """Shared validator: option values and hotkeys must be unique within a field."""
    seen: set[str] = set()
    keys: set[str] = set()
    for o in options:
        if o.value in seen:
            raise ValueError(f"duplicate option value '{o.value}'")
        seen.add(o.value)
        if o.hotkey:
            if o.hotkey in keys:
                raise ValueError(f"duplicate hotkey '{o.hotkey}'")
            keys.add(o.hotkey)
    return options
