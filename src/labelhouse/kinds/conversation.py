"""Conversations in task data: a list of chat messages, checked once and drawn as a chat.

A conversation is the OpenAI / Hugging Face chat shape: ``[{"role": "system" | "user" |
"assistant" | "tool", "content": "…"}, …]``, where ``content`` is a string or a list of
content parts ``{"type": "text", "text": "…"}`` (other part types, such as images, are
refused: nothing here could show them). Other keys of a message (``name``,
``tool_call_id``, ``tool_calls``, ids, metadata) are kept in the data and ignored.

Every kind that reads task data uses this module, so a conversation is validated with the
same sentences (message index and what to fix) at import, and drawn the same way on the
annotate, review and task pages: :func:`render_html` builds the chat on the server from
escaped roles and Markdown cleaned by nh3 (with code highlighting), so a widget only ever
inserts that HTML (DESIGN.md rule 11). Long messages fold into ``<details>`` (no script);
the system prompt is shown, folded or hidden as the field's ``system_prompt`` says.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Literal

from labelhouse.kinds._common import shown

ROLES = ("system", "user", "assistant", "tool")
ROLE_NAMES = {"system": "System prompt", "user": "User", "assistant": "Assistant", "tool": "Tool"}
MAX_MESSAGES = 500
MAX_PARTS = 100
LONG_MESSAGE = 2_000  # characters: a longer message is folded (except the last one)
PREVIEW = 160  # characters of a folded message shown in its summary

SystemPrompt = Literal["show", "collapse", "hide"]


@dataclass(frozen=True, slots=True)
class Message:
    role: str
    text: str


def looks_like_conversation(value: Any) -> bool:
    """A non-empty list whose first item is an object with a ``role``: what the data
    readers treat as a conversation (and then validate in full)."""
    return (
        isinstance(value, list)
        and bool(value)
        and isinstance(value[0], dict)
        and "role" in value[0]
    )


def content_text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise ValueError(
            f"{where} 'content' must be a string or a list of parts like "
            f'[{{"type": "text", "text": "…"}}], got {shown(content)}'
        )
    if len(content) > MAX_PARTS:
        raise ValueError(f"{where} has {len(content)} content parts; at most {MAX_PARTS}")
    texts = []
    for j, part in enumerate(content):
        if not isinstance(part, dict):
            raise ValueError(f"{where} content part [{j}] must be an object, got {shown(part)}")
        kind = part.get("type")
        if kind != "text":
            raise ValueError(
                f"{where} content part [{j}] has type {shown(kind)}; only 'text' parts are "
                "supported (put images in their own data key)"
            )
        text = part.get("text")
        if not isinstance(text, str):
            raise ValueError(f"{where} content part [{j}] needs a 'text' string, got {shown(text)}")
        texts.append(text)
    return "\n\n".join(texts)


def parse_message(raw: Any, where: str = "message") -> Message:
    """One message; ``ValueError`` (a sentence starting with ``where``) when malformed."""
    if not isinstance(raw, dict):
        raise ValueError(
            f'{where} must be an object like {{"role": "user", "content": "…"}}, got {shown(raw)}'
        )
    role = raw.get("role")
    if role not in ROLES or not isinstance(role, str):
        raise ValueError(f"{where} has role {shown(role)}; use one of: {', '.join(ROLES)}")
    if "content" not in raw:
        raise ValueError(f"{where} has no 'content'")
    content = raw["content"]
    if content is None and role == "assistant" and raw.get("tool_calls"):
        return Message(role, "")  # an OpenAI tool-calling turn: no text
    return Message(role, content_text(content, where))


def parse_conversation(raw: Any, key: str = "conversation") -> list[Message]:
    """The messages of ``data[key]``; ``ValueError`` naming the message index and the fix."""
    if not isinstance(raw, list):
        raise ValueError(f"'{key}' must be a list of chat messages, got {shown(raw)}")
    if not raw:
        raise ValueError(f"'{key}' is an empty conversation; it needs at least one message")
    if len(raw) > MAX_MESSAGES:
        raise ValueError(f"'{key}' has {len(raw)} messages; at most {MAX_MESSAGES} are allowed")
    return [parse_message(m, f"'{key}' message [{i}]") for i, m in enumerate(raw)]


def conversation_problems(data: dict[str, Any], key: str) -> list[str]:
    """Problems of a data value that looks like a conversation (nothing otherwise)."""
    value = data.get(key)
    if not looks_like_conversation(value):
        return []
    try:
        parse_conversation(value, key)
    except ValueError as exc:
        return [str(exc)]
    return []


def pick_message(messages: list[Message], index: int, key: str) -> Message:
    """``messages[index]`` (negative counts from the end); ``ValueError`` if out of range."""
    if not -len(messages) <= index < len(messages):
        raise ValueError(
            f"'{key}' has {len(messages)} messages, so it has no message [{index}] "
            "(indices count from 0; -1 is the last message)"
        )
    return messages[index]


def text_of(value: Any, message: int | None, key: str) -> str:
    """The text a field reads from ``data[key]``: the string itself, or with ``message``
    set, that message of the conversation. ``ValueError`` when the data does not fit."""
    if message is None:
        if not isinstance(value, str):
            raise ValueError(f"'{key}' must be a string, got {shown(value)}")
        return value
    return pick_message(parse_conversation(value, key), message, key).text


def _message_html(m: Message, index: int, *, folded: bool) -> str:
    from labelhouse.markdown import render  # only pages need it

    role = html.escape(m.role)
    name = html.escape(ROLE_NAMES[m.role])
    body = f'<div class="lh-msg-body lh-markdown">{render(m.text, highlight=True)}</div>'
    attrs = f'class="lh-msg lh-msg-{role}" data-role="{role}" data-index="{index}"'
    if not folded:
        return f'<section {attrs}><div class="lh-msg-role">{name}</div>{body}</section>'
    preview = " ".join(m.text[:PREVIEW].split())
    more = "…" if len(m.text) > PREVIEW else ""
    summary = (
        f'<summary><span class="lh-msg-role">{name}</span> '
        f'<span class="lh-msg-preview muted">{html.escape(preview)}{more} '
        f"({len(m.text):,} characters)</span></summary>"
    )
    return f"<details {attrs}>{summary}{body}</details>"


def render_html(messages: list[Message], system_prompt: SystemPrompt = "collapse") -> str:
    """The conversation as a chat: one block per message, roles named, Markdown sanitized.

    Built from escaped text and :func:`labelhouse.markdown.render` output only, so it is
    as safe as that. ``data-index`` is the message's index in the data (spans and edit
    fields name messages by it), also when the system prompt is hidden.
    """
    parts = ['<div class="lh-chat">']
    last = len(messages) - 1
    for i, m in enumerate(messages):
        if m.role == "system" and system_prompt == "hide":
            continue
        folded = (m.role == "system" and system_prompt == "collapse") or (
            len(m.text) > LONG_MESSAGE and i != last
        )
        parts.append(_message_html(m, i, folded=folded))
    parts.append("</div>")
    return "".join(parts)


def render_value(value: Any, key: str, system_prompt: SystemPrompt = "collapse") -> str | None:
    """Chat HTML for a data value that is a valid conversation, else ``None``."""
    if not looks_like_conversation(value):
        return None
    try:
        messages = parse_conversation(value, key)
    except ValueError:
        return None
    return render_html(messages, system_prompt)
