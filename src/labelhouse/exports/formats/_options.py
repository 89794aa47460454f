"""Option checking shared by the vision and NLP formats (COCO, YOLO, VOC, spaCy, CoNLL).

Each of them writes one field of the schema (a ``boxes`` or a ``spans`` field), so each
checks, before the first byte goes out, that the schema has one (or which one the ``field``
option names), and refuses unknown options by name: once streaming has started an error
can no longer become a 422.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from labelhouse.errors import InvalidInput, Problem
from labelhouse.exports.formats import options as opts
from labelhouse.exports.formats.options import OptionHelp
from labelhouse.exports.formats.values import VALUE_SOURCES, parse_value_source

FIELD_HELP = "the field to export when the schema has several of its kind"
VALUES_HELP = f"which answers to write: {', '.join(VALUE_SOURCES)} (default raw)"


def pick_field(schema: Any, options: Mapping[str, str], kind: str, format_title: str) -> Any:
    """The schema's field of ``kind`` this export writes: the only one, or the one the
    ``field`` option names. Several without the option is an error rather than a guess."""
    fields = [f for f in schema.fields if f.kind == kind]
    kinds = ", ".join(f"{f.name} ({f.kind})" for f in schema.fields)
    if not fields:
        raise InvalidInput(
            f"The {format_title} export needs a {kind} field, and this project's schema has none.",
            [Problem("field", f"no {kind} field in the schema; its fields: {kinds}")],
        )
    name = options.get("field")
    if name is None:
        if len(fields) > 1:
            names = ", ".join(f.name for f in fields)
            raise InvalidInput(
                f"The schema has several {kind} fields; choose one for the {format_title} export.",
                [Problem("field", f"give field=<name>, one of: {names}")],
            )
        return fields[0]
    chosen = next((f for f in fields if f.name == name), None)
    if chosen is None:
        names = ", ".join(f.name for f in fields)
        raise InvalidInput(
            f"'{name}' is not a {kind} field of this project.",
            [Problem("field", f"use one of: {names}")],
        )
    return chosen


def common(
    schema: Any, options: Mapping[str, str], kind: str, format_title: str, allowed: Iterable[str]
) -> dict[str, Any]:
    """The parsed options every one of these formats has: ``field`` (the field's name; the
    writer looks it up in the schema, so the options stay plain data),
    ``values`` (raw, consensus or reviewed) and ``counts``, a fresh counter the writer
    fills with what it could not write (e.g. ``unaligned_spans``), so that nothing is
    dropped unseen: the caller may report it once the stream has ended."""
    opts.check_names(
        options, [OptionHelp(name, "") for name in sorted({"field", "values", *allowed})]
    )
    return {
        "field": pick_field(schema, options, kind, format_title).name,
        "values": parse_value_source(options),
        "counts": Counter(),
    }
