"""Dataclasses to JSON and back, guided by their type hints: a stored report is read into
the same objects the page and the API render (``as_json`` is the way out)."""

from __future__ import annotations

import dataclasses
import types
import typing
from functools import cache
from typing import Any, Union, get_args, get_origin, get_type_hints


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def from_json(tp: Any, data: Any) -> Any:
    """``data`` (from ``as_json``) as a value of type ``tp``: dataclasses rebuilt, dict keys
    typed ``int`` turned back into ints (JSON keys are strings)."""
    if data is None:
        return None
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        return tp(
            **{
                f.name: from_json(hints[f.name], data[f.name])
                for f in dataclasses.fields(tp)
                if f.init and f.name in data
            }
        )
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        for arg in args:
            if isinstance(arg, type) and dataclasses.is_dataclass(arg) and isinstance(data, dict):
                return from_json(arg, data)
        return data
    if origin is list:
        return [from_json(args[0], x) for x in data] if args else list(data)
    if origin is dict and args:
        key = int if args[0] is int else (lambda k: k)
        return {key(k): from_json(args[1], v) for k, v in data.items()}
    if tp is typing.Any:
        return data
    return data
