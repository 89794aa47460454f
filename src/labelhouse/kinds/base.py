"""The field-kind protocol: everything that depends on a label kind lives behind it.

A kind is a Pydantic model describing one field of a project's label schema (its
configuration), with methods that say which task data keys it reads, check a task's data,
and validate a submitted value. One module per kind registers its model in
``kinds/registry.py``; nothing else in the code base switches on the kind name.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
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
        """Task data keys holding references to media: uploaded files' names or URLs
        (resolved at import; served under the task's access rule)."""
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

    # -- quality hooks: how two answers compare and how several merge into a consensus ----
    def agreement_kind(self) -> str:
        """Which agreement statistics fit this kind: ``nominal``, ``ordinal``, ``set``,
        ``spans``, ``boxes``, ``pairwise``, ``ranking``, ``text``, ``rubric`` (closeness
        over the criteria; consensus by :meth:`merge`), ``edit`` (similarity of rewritten
        texts; consensus by :meth:`merge`) or ``none``.

        Kinds reporting ``nominal``/``ordinal``/``pairwise`` also implement :meth:`classes`
        and :meth:`label_of`, so the quality report can run the vectorised categorical
        statistics (κ, α, Dawid–Skene) over all tasks at once.
        """
        return "none"

    def classes(self) -> list[Hashable] | None:
        """The categorical classes in their natural order (ties in a vote go to the first),
        or ``None`` when answers are not categorical. For ``set`` kinds: the options a value
        selects among (the report asks one present/absent question per option)."""
        return None

    def options_of(self, value: Any) -> list[Hashable] | None:
        """For ``set`` kinds: the options (see :meth:`classes`) a stored value selects;
        ``None`` for a value that is not a selection."""
        return None

    def label_of(self, value: Any) -> Hashable | None:
        """The class of a stored value (see :meth:`classes`); ``None`` if it has none, e.g.
        an option removed from the schema since."""
        return None

    def from_label(self, label: Hashable, values: Sequence[Any]) -> Any:
        """The consensus value for a winning class, given the answers that chose it (a kind
        whose values carry more than the class, e.g. a preference strength, merges those)."""
        return label

    def compare(self, a: Any, b: Any) -> float:
        """Agreement of two answers: 1.0 identical … 0.0 nothing in common."""
        return 1.0 if a == b else 0.0

    def merge(
        self,
        values: Sequence[Any],
        weights: Sequence[float] | None = None,
        *,
        data: dict[str, Any] | None = None,
    ) -> tuple[Any, float]:
        """Consensus of several annotators' answers and its confidence in [0, 1].

        ``weights`` (one per value, e.g. from gold accuracy) default to equal; ``data`` is
        the task's data for kinds whose values quote it. Kinds without a meaningful merge
        (free text) return ``(None, 0.0)``.
        """
        return None, 0.0


def vote_weights(values: Sequence[Any], weights: Sequence[float] | None) -> list[float]:
    """Equal weights by default; refuse a misaligned list rather than guess."""
    if weights is None:
        return [1.0] * len(values)
    if len(weights) != len(values):
        raise ValueError(f"got {len(weights)} weights for {len(values)} values; give one each")
    return [max(float(w), 0.0) for w in weights]


def listed_answers(
    values: Sequence[Any], weights: Sequence[float] | None
) -> tuple[list[list[Any]], list[float]]:
    """The answers that are lists (spans, boxes) and their vote weights; absent answers
    (None) drop out with their weight."""
    w = vote_weights(values, weights)
    kept = [(v, x) for v, x in zip(values, w, strict=True) if isinstance(v, list)]
    return [v for v, _ in kept], [x for _, x in kept]


def empty_share(answers: Sequence[Any]) -> float:
    """Share of annotators who marked nothing: the confidence of an empty consensus."""
    return sum(1 for v in answers if not v) / len(answers) if answers else 0.0


def weighted_plurality(
    labels: Sequence[Hashable], weights: Sequence[float], order: Sequence[Hashable]
) -> tuple[Hashable | None, float]:
    """The label with the most weight and its share; ties go to the first label in ``order``
    (then to the first seen), the same rule as ``quality.majority_vote``."""
    totals: dict[Hashable, float] = {}
    for label, weight in zip(labels, weights, strict=True):
        totals[label] = totals.get(label, 0.0) + weight
    if not totals:
        return None, 0.0
    rank = {c: i for i, c in enumerate(order)}
    seen = {c: i for i, c in enumerate(dict.fromkeys(labels))}
    best = min(totals, key=lambda c: (-totals[c], rank.get(c, len(rank)), seen[c]))
    total = sum(totals.values())
    return best, (totals[best] / total if total > 0 else 0.0)


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
