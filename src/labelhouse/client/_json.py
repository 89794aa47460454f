"""Reading optional numbers of the API's JSON (null stays None)."""

from __future__ import annotations

from typing import Any


def opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def opt_float(value: Any) -> float | None:
    return None if value is None else float(value)
