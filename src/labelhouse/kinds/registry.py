"""Registry of field kinds and the label-schema document that combines them."""

from __future__ import annotations

from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from labelhouse.errors import InvalidInput, Problem
from labelhouse.kinds.base import FieldKind, ValueProblem
from labelhouse.kinds.boxes import BoxesField
from labelhouse.kinds.choice import ChoiceField
from labelhouse.kinds.choices import ChoicesField
from labelhouse.kinds.edit import EditField
from labelhouse.kinds.pairwise import PairwiseField
from labelhouse.kinds.ranking import RankingField
from labelhouse.kinds.rating import RatingField
from labelhouse.kinds.rubric import RubricField
from labelhouse.kinds.spans import SpansField
from labelhouse.kinds.text import TextField
from labelhouse.storable import PROBLEM as NUL_PROBLEM
from labelhouse.storable import find_nul

KINDS: dict[str, type[FieldKind]] = {
    cls.kind_name: cls
    for cls in (
        ChoiceField,
        ChoicesField,
        SpansField,
        TextField,
        RatingField,
        PairwiseField,
        RankingField,
        BoxesField,
        EditField,
        RubricField,
    )
}

AnyField = Annotated[
    ChoiceField
    | ChoicesField
    | SpansField
    | TextField
    | RatingField
    | PairwiseField
    | RankingField
    | BoxesField
    | EditField
    | RubricField,
    Field(discriminator="kind"),
]


class LabelSchema(BaseModel):
    """A project's label schema: an ordered list of uniquely named, typed fields."""

    model_config = ConfigDict(extra="forbid")

    fields: list[AnyField] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _unique_names(self) -> LabelSchema:
        seen: set[str] = set()
        for f in self.fields:
            if f.name in seen:
                raise ValueError(f"field name '{f.name}' is used twice")
            seen.add(f.name)
        return self

    # -- helpers used by import and annotation services ---------------------------------------
    def field(self, name: str) -> FieldKind | None:
        return next((f for f in self.fields if f.name == name), None)

    def data_keys(self) -> set[str]:
        return {key for f in self.fields for key in f.data_keys()}

    def display(self, data: dict[str, Any]) -> dict[str, Any]:
        """Per-field display HTML from each kind's ``display`` hook (fields with none omitted)."""
        return {f.name: shown for f in self.fields if (shown := f.display(data))}

    def check_task_data(self, data: dict[str, Any]) -> list[str]:
        """Every problem of one task's data against every field, as plain sentences."""
        problems: list[str] = []
        for f in self.fields:
            problems.extend(f.check_data(data))
        return problems

    def validate_annotation(
        self, value: Any, data: dict[str, Any], *, draft: bool = False
    ) -> dict[str, Any]:
        """Validate a whole annotation (``{field_name: value}``); all problems at once.

        Drafts may leave required fields empty, but every present value must be valid.
        """
        if not isinstance(value, dict):
            raise InvalidInput(
                "An annotation must be a JSON object mapping field names to values.",
                [Problem("value", "expected an object")],
            )
        problems: list[Problem] = []
        clean: dict[str, Any] = {}
        known = {f.name for f in self.fields}
        for name in value:
            if name not in known:
                problems.append(
                    Problem(name, f"unknown field; the schema has: {', '.join(sorted(known))}")
                )
        for f in self.fields:
            raw = value.get(f.name)
            if f.is_empty(raw):
                if f.required and not draft:
                    problems.append(Problem(f.name, "required"))
                continue
            try:
                clean[f.name] = f.validate_value(raw, data)
            except ValueProblem as exc:
                where = f"{f.name}{exc.where}" if exc.where else f.name
                problems.append(Problem(where, exc.problem))
        if problems:
            raise InvalidInput("The annotation is invalid.", problems)
        return clean


def _location(loc: tuple[Any, ...]) -> str:
    """Turn a pydantic error location into ``fields[2].options[0].value`` (drops union tags)."""
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif i >= 2 and loc[i - 1] != "fields" and isinstance(loc[i - 2], str) and part in KINDS:
            continue  # pydantic adds the discriminator value as a path segment
        elif part in KINDS and i > 0 and isinstance(loc[i - 1], int):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "schema"


class _NoAliasLoader(yaml.SafeLoader):
    """``yaml.safe_load`` without aliases: nine nested aliases of nine items each (a
    "billion laughs" document of 300 bytes) expand to a structure that validation walks
    for ever. A schema never needs them."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None,
                None,
                f"YAML aliases (*{event.anchor}) are not allowed in a schema; write it out",
                event.start_mark,
            )
        return super().compose_node(parent, index)


def load_yaml(text: str, *, what: str, where: str) -> Any:
    """JSON or YAML text (YAML is a superset of JSON) decoded without aliases; a syntax
    error is an InvalidInput saying that ``what`` is not valid, at its line and column
    (``where`` when the parser gives none)."""
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 (safe + no aliases)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f"line {mark.line + 1}, column {mark.column + 1}"
        raise InvalidInput(
            f"{what} not valid JSON or YAML.",
            [Problem(where, str(getattr(exc, "problem", exc)))],
        ) from None


def parse_schema(document: str | bytes | dict[str, Any] | list[Any]) -> LabelSchema:
    """Parse a schema from JSON/YAML text or an already-decoded object.

    Raises :class:`InvalidInput` listing *every* problem with its location. A bare list is
    accepted as shorthand for ``{"fields": [...]}``.
    """
    if isinstance(document, bytes):
        document = document.decode("utf-8", errors="replace")
    if isinstance(document, str):
        document = load_yaml(document, what="The schema is", where="schema")
    if isinstance(document, list):
        document = {"fields": document}
    if not isinstance(document, dict):
        raise InvalidInput(
            "A schema is an object with a 'fields' list.",
            [Problem("schema", 'expected an object like {"fields": [...]}')],
        )
    where = find_nul(document)
    if where is not None:
        raise InvalidInput("The schema is invalid.", [Problem(where, NUL_PROBLEM)])
    try:
        return LabelSchema.model_validate(document)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "union_tag_invalid":
                msg = f"unknown kind; use one of: {', '.join(KINDS)}"
            elif err["type"] == "union_tag_not_found":
                msg = f"missing 'kind'; use one of: {', '.join(KINDS)}"
            problems.append(Problem(_location(tuple(err["loc"])), msg))
        raise InvalidInput("The schema is invalid.", problems) from None
