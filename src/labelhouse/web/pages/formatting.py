"""Template filters that turn stored values into text for people. They return plain
strings: Jinja's autoescape still applies, so nothing here can inject markup."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson


def pretty_json(value: Any) -> str:
    """Indented JSON for people (non-ASCII kept readable); autoescaped by the template."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()


def when(value: datetime | None) -> str:
    """A timestamp as the pages print it: UTC, to the minute."""
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


SNIPPET_LENGTH = 160


def snippet(data: Any, length: int = SNIPPET_LENGTH) -> str:
    """One line of a task's data for tables and activity lists: its string values joined,
    whitespace collapsed, shortened. Plain text; the template escapes it."""
    if isinstance(data, dict):
        parts = [v for v in data.values() if isinstance(v, str)] or [pretty_json(data)]
    else:
        parts = [str(data)]
    text = " · ".join(" ".join(p.split()) for p in parts)
    return text if len(text) <= length else text[: length - 1] + "…"


EVENT_TEXT = {
    "project.create": "created the project",
    "project.update": "changed settings",
    "project.schema": "saved a new schema version",
    "project.export": "exported",
    "tasks.import": "imported tasks",
}


HIDDEN = {"import_id"}  # internal ids say nothing to a reader


def describe_event(action: str, details: dict[str, Any] | None) -> str:
    """An audit event as a short sentence fragment, e.g. ``changed settings: overlap 2``."""
    text = EVENT_TEXT.get(action, action)
    shown = [
        f"{k.replace('_', ' ')} {v}"
        for k, v in (details or {}).items()
        if isinstance(v, str | int | float) and not isinstance(v, bool) and k not in HIDDEN
    ]
    return f"{text}: {', '.join(shown)}" if shown else text


def short_when(value: datetime | None) -> str:
    """A compact UTC timestamp for narrow columns, e.g. ``Nov 25 20:44``."""
    return value.strftime("%b %d %H:%M") if value else "—"
