"""A generic HTTP JSON endpoint: ``POST {url}`` with the selected task fields, the
prediction read from the answer through the endpoint's mapping of dotted paths.

Request body: ``{"data": {field: value, …}, "want": "predictions" | "candidates",
"n": candidates wanted}``. Mapping: ``{"predictions": {label field: path}, "score": path,
"scores": path, "candidates": path}``; a path is dot-separated keys and list indices
(``result.0.label``).
"""

from __future__ import annotations

from typing import Any

_MISSING = object()


def request_body(sent: dict[str, Any], want: str, n: int) -> dict[str, Any]:
    return {"data": sent, "want": want, "n": n}


def at_path(body: Any, path: str) -> Any:
    """The value at ``path``, or ``_MISSING``."""
    here = body
    for part in path.split("."):
        if isinstance(here, dict) and part in here:
            here = here[part]
        elif isinstance(here, list) and part.isdigit() and int(part) < len(here):
            here = here[int(part)]
        else:
            return _MISSING
    return here


def read_prediction(body: Any, mapping: dict[str, Any]) -> tuple[dict[str, Any], float | None]:
    value: dict[str, Any] = {}
    for field, path in (mapping.get("predictions") or {}).items():
        found = at_path(body, path)
        if found is _MISSING:
            raise ValueError(f"the answer has nothing at '{path}' (for field '{field}')")
        value[field] = found
    score = None
    if mapping.get("score"):
        found = at_path(body, mapping["score"])
        if found is not _MISSING and found is not None:
            if isinstance(found, bool) or not isinstance(found, int | float):
                raise ValueError(f"the score at '{mapping['score']}' is not a number")
            score = float(found)
    return value, score


def read_scores(body: Any, mapping: dict[str, Any]) -> Any:
    """What is at the mapping's ``scores`` path (class probabilities, checked by the
    caller against the schema), or None without the path or a value there."""
    if not mapping.get("scores"):
        return None
    found = at_path(body, mapping["scores"])
    return None if found is _MISSING else found


def read_candidates(body: Any, mapping: dict[str, Any]) -> list[str]:
    path = mapping.get("candidates")
    if not path:
        raise ValueError("the endpoint's mapping has no 'candidates' path")
    found = at_path(body, path)
    if not isinstance(found, list) or not all(isinstance(c, str) for c in found):
        raise ValueError(f"the answer has no list of strings at '{path}'")
    return list(found)
