"""Inputs every database can store: ids that fit a BIGINT, text without NUL characters.

PostgreSQL cannot hold U+0000 in ``text``/``varchar`` or ``jsonb`` (SQLite can), so a NUL in
a task, an answer, a name or a search term used to pass on SQLite and fail on PostgreSQL
with a 500. Inputs are checked where they enter (API bodies and query strings, import
files, schemas) and refused the same way on both databases, naming where the NUL is.
"""

from __future__ import annotations

import re
from typing import Any

# The largest id either database holds: a larger number names nothing, and would fail in
# the driver (a 500) if it reached a query.
ID_MAX = 2**63 - 1
NUL = "\x00"
PROBLEM = "contains a NUL character (\\u0000), which cannot be stored; remove it"
ENCODED_NUL = b"\\u0000"  # the escape orjson writes for U+0000 (six bytes)
# A ``\u0000`` escape in JSON text that orjson wrote: one not preceded by an escaped
# backslash (``\\u0000`` is the six characters ``\u0000``, which are fine).
_ENCODED_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def find_nul(value: Any, where: str = "") -> str | None:
    """Where the first NUL in a decoded JSON value is (``a.b[2]``, ``""`` for the value
    itself), in a key or a string; None if there is none."""
    if isinstance(value, str):
        return where if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and NUL in key:
                return inner
            found = find_nul(item, inner)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = find_nul(item, f"{where}[{i}]")
            if found is not None:
                return found
    return None


def encoded_json_has_nul(encoded: bytes) -> bool:
    """Whether JSON text from orjson holds a NUL (a fast substring test first: this runs for
    every imported row)."""
    return ENCODED_NUL in encoded and _ENCODED_NUL.search(encoded) is not None
