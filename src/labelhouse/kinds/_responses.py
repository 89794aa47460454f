"""Reading a task's prompt and list of model responses, shared by pairwise and ranking.

Both kinds compare LLM responses stored in the task data, in the order the data lists them.
Values always refer to that order (``A`` = ``responses[0]``), never to where the browser
happened to draw a response, so shuffling the display cannot flip stored preferences.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from pydantic import SerializerFunctionWrapHandler, model_serializer, model_validator

from labelhouse.kinds._common import DataKey, SystemPromptShown, shown
from labelhouse.kinds.base import FieldKind, ValueProblem
from labelhouse.kinds.conversation import (
    conversation_problems,
    looks_like_conversation,
    render_value,
)

_MASK = 0xFFFFFFFF


def hash_string(text: str) -> int:
    """32-bit FNV-1a over UTF-16 code units — ``hashString`` in static/js/widgets/lib/random.js."""
    units = text.encode("utf-16-le")
    value = 0x811C9DC5
    for i in range(0, len(units), 2):
        value ^= units[i] | (units[i + 1] << 8)
        value = (value * 0x01000193) & _MASK
    return value


def _mulberry32(seed: int) -> Any:
    """``mulberry32`` of random.js; 32-bit wrap-around arithmetic is exact modulo 2³²."""
    state = seed & _MASK

    def draw() -> float:
        nonlocal state
        state = (state + 0x6D2B79F5) & _MASK
        t = state
        t = ((t ^ (t >> 15)) * (t | 1)) & _MASK
        t ^= (t + ((t ^ (t >> 7)) * (t | 61))) & _MASK
        return ((t ^ (t >> 14)) & _MASK) / 4294967296

    return draw


def seeded_order(n: int, seed: str) -> list[int]:
    """Display position → response index, exactly as ``seededOrder`` in random.js draws it,
    so the quality report knows which response an annotator saw first (position bias)."""
    order = list(range(n))
    draw = _mulberry32(hash_string(seed))
    for i in range(n - 1, 0, -1):
        j = int(draw() * (i + 1))
        order[i], order[j] = order[j], order[i]
    return order


class Preference(NamedTuple):
    """One judgment between two responses of a task (indices in the task's order)."""

    winner: int
    loser: int
    tie: bool = False


@dataclass(frozen=True)
class Response:
    text: str
    id: str | int | None = None
    model: str | None = None


def parse_response(raw: Any) -> Response:
    """One response: a string, or an object with ``text`` (or ``content``: a string or chat
    content parts, so a candidate may be an assistant message ``{"role": "assistant",
    "content": …}``) and optional ``id``/``model``. Other keys (scores, metadata) are
    allowed and ignored."""
    if isinstance(raw, str):
        return Response(raw)
    if not isinstance(raw, dict):
        raise ValueError(f"must be a string or an object with a 'text' string, got {shown(raw)}")
    text = raw.get("text", raw.get("content"))
    if isinstance(text, list):  # chat content parts: a candidate next assistant message
        from labelhouse.kinds.conversation import content_text

        text = content_text(text, "the message")
    if not isinstance(text, str):
        raise ValueError(f"needs a 'text' (or 'content') string, got {shown(text)}")
    rid = raw.get("id")
    if rid is not None and (isinstance(rid, bool) or not isinstance(rid, str | int)):
        raise ValueError(f"'id' must be a string or a whole number, got {shown(rid)}")
    model = raw.get("model")
    if model is not None and not isinstance(model, str):
        raise ValueError(f"'model' must be a string, got {shown(model)}")
    return Response(text, rid, model)


class ResponsesField(FieldKind):
    """Base of kinds over ``data[responses]``; subclasses set the allowed count."""

    min_responses: ClassVar[int] = 2
    max_responses: ClassVar[int] = 2

    prompt: DataKey | None = "prompt"
    responses: DataKey = "responses"
    # The prompt may be a conversation (kinds/conversation.py); the responses are then the
    # candidate next assistant messages. How its system prompt shows (default: folded).
    system_prompt: SystemPromptShown | None = None

    @model_validator(mode="after")
    def _distinct_keys(self) -> ResponsesField:
        if self.prompt == self.responses:
            raise ValueError(
                f"prompt and responses both read '{self.responses}'; use two different keys"
            )
        return self

    @model_serializer(mode="wrap")
    def _keep_no_prompt(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Schemas are stored with ``exclude_none``; "no prompt" is an explicit null that
        # must survive, or the stored schema would read ``data["prompt"]`` again.
        document: dict[str, Any] = handler(self)
        if self.prompt is None:
            document["prompt"] = None
        return document

    def data_keys(self) -> tuple[str, ...]:
        return (self.responses,) if self.prompt is None else (self.prompt, self.responses)

    def _count_wanted(self) -> str:
        if self.min_responses == self.max_responses:
            return f"exactly {self.min_responses}"
        return f"{self.min_responses} to {self.max_responses}"

    def check_data(self, data: dict[str, Any]) -> list[str]:
        problems = super().check_data(data)
        if self.prompt is not None:
            prompt = data.get(self.prompt)
            if looks_like_conversation(prompt):
                problems.extend(conversation_problems(data, self.prompt))
            elif prompt is not None and not isinstance(prompt, str):
                problems.append(
                    f"'{self.prompt}' (the prompt) must be a string or a conversation (a list "
                    f'of messages like {{"role": "user", "content": "…"}}), got {shown(prompt)}'
                )
        # An empty list: candidates still to be written by a model (docs/models.md).
        if data.get(self.responses) not in (None, []):
            try:
                self.read_responses(data)
            except ValueError as exc:
                problems.append(str(exc))
        return problems

    def read_responses(self, data: dict[str, Any]) -> list[Response]:
        """The task's responses; ``ValueError`` (a plain sentence) if they are malformed."""
        raw = data.get(self.responses)
        if not isinstance(raw, list):
            raise ValueError(
                f"'{self.responses}' must be a list of {self._count_wanted()} responses "
                f"(read by field '{self.name}'), got {shown(raw)}"
            )
        if not self.min_responses <= len(raw) <= self.max_responses:
            raise ValueError(
                f"'{self.responses}' must hold {self._count_wanted()} responses for field "
                f"'{self.name}', got {len(raw)}"
            )
        out = []
        for i, item in enumerate(raw):
            try:
                out.append(parse_response(item))
            except ValueError as exc:
                raise ValueError(f"'{self.responses}'[{i}] {exc}") from None
        return out

    def display(self, data: dict[str, Any]) -> dict[str, Any]:
        """The prompt and each response as sanitized Markdown HTML (code blocks, lists…),
        in the task's order; the widget decides where each one is drawn. A prompt that is
        a conversation comes as ``conversation``: the whole chat's HTML."""
        from labelhouse.markdown import render as render_markdown  # only pages need it

        out: dict[str, Any] = {}
        if self.prompt is not None and isinstance(data.get(self.prompt), str):
            out["prompt"] = render_markdown(data[self.prompt], highlight=True)
        elif self.prompt is not None:
            chat = render_value(
                data.get(self.prompt), self.prompt, self.system_prompt or "collapse"
            )
            if chat is not None:
                out["conversation"] = chat
        # A broken task: the widget shows what it can, and a submit says what is wrong.
        with suppress(ValueError):
            out["responses"] = [
                render_markdown(r.text, highlight=True) for r in self.read_responses(data)
            ]
        return out

    # -- preference data -----------------------------------------------------------------
    def display_order(self, task_id: int, n: int) -> list[int]:
        """Response indices in the order the annotate page draws them for this task."""
        return seeded_order(n, f"{task_id}:{self.name}")

    def compared_items(self, data: dict[str, Any]) -> tuple[str, list[str]] | None:
        """What a preference ranks: ``(basis, one key per response)``. The basis is
        ``"model"`` when every response names one (Bradley–Terry then ranks models across
        tasks), else ``"id"`` (the response ids), else ``"position"`` (``"response 1"``…).
        ``None`` for a broken task."""
        try:
            responses = self.read_responses(data)
        except ValueError:
            return None
        if all(r.model for r in responses):
            return "model", [str(r.model) for r in responses]
        if all(r.id is not None for r in responses):
            return "id", [str(r.id) for r in responses]
        return "position", [f"response {i + 1}" for i in range(len(responses))]

    def preferences(self, value: Any) -> list[Preference]:
        """The judgments a stored value states, as pairs of response indices."""
        return []

    def ranks_of(self, value: Any) -> list[int] | None:
        """The rank of every response (task order; 1 = best, ties share a rank) that a
        stored value states, for position and length checks; ``None`` if it states none."""
        return None

    def task_responses(self, data: dict[str, Any]) -> list[Response]:
        """Like :meth:`read_responses`, for value validation: a broken task is a ValueProblem."""
        try:
            return self.read_responses(data)
        except ValueError as exc:
            raise ValueProblem(f"this task's data cannot be annotated: {exc}") from None
