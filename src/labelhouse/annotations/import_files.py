"""Annotation files: JSONL, JSON (one array) and CSV of the row shape, and the long format
crowd datasets use (one answer per line: item, worker, label).

The task import's streaming readers (:mod:`labelhouse.tasks.readers`) do the reading, with
their limits and their places ("line 12"); this module turns their rows into rows of
:mod:`labelhouse.annotations.import_rows`. CSV cells are text: a field's column is read the
way its kind takes it (:func:`~labelhouse.annotations.import_rows.cell_value`); a column
``name:json`` is JSON as in a task CSV.

The long format names three columns (header aliases below, any case), comma- or
tab-separated; its label is the answer of one field: the one named, or the project's only
single-valued categorical field (a choice or a rating).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from labelhouse.annotations.import_rows import KEYS, cell_value
from labelhouse.errors import InvalidInput, Problem
from labelhouse.kinds.base import FieldKind
from labelhouse.kinds.registry import LabelSchema
from labelhouse.tasks.readers import RowError, read_csv, read_rows

FORMATS = ("jsonl", "json", "csv", "long")
EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "csv"}
# Column names of the long format, by role (the first of each is the documented one).
LONG_COLUMNS = {
    "item": ("item", "external_id", "question", "task", "item_id", "orig_id"),
    "worker": ("worker", "annotator", "worker_id", "!amt_worker_ids"),
    "label": ("label", "answer", "response", "value"),
}
SINGLE_VALUED = ("nominal", "ordinal")  # agreement kinds whose answer is one class


def detect_format(filename: str | None, explicit: str | None = None) -> str:
    if explicit:
        if explicit not in FORMATS:
            raise _bad("format", f"unknown format '{explicit}'; use one of: {', '.join(FORMATS)}")
        return explicit
    name = (filename or "").lower()
    for ext, fmt in EXTENSIONS.items():
        if name.endswith(ext):
            return fmt
    raise _bad(
        "format",
        f"cannot tell the format of '{filename}'; name it .jsonl, .json or .csv, "
        "or give the format (jsonl, json, csv, long)",
    )


def _bad(field: str, problem: str) -> InvalidInput:
    return InvalidInput(problem[0].upper() + problem[1:] + ".", [Problem(field, problem)])


def long_field(schema: LabelSchema, name: str | None) -> FieldKind:
    """The field a long file's labels answer: ``name``, or the only choice/rating field."""
    if name:
        found = schema.field(name)
        if found is None:
            names = ", ".join(f.name for f in schema.fields)
            raise _bad("field", f"the schema has no field '{name}'; it has: {names}")
        return found
    fitting = [f for f in schema.fields if f.agreement_kind() in SINGLE_VALUED]
    if len(fitting) != 1:
        names = ", ".join(f.name for f in fitting) or "none"
        raise _bad(
            "field",
            "name the field the labels answer (--field NAME, or the field option): "
            f"the long format needs exactly one choice or rating field, and this schema's "
            f"are: {names}",
        )
    return fitting[0]


def _delimiter(stream: BinaryIO) -> str:
    """Tab when the header line has tabs and no commas (crowd files are often TSV)."""
    if not stream.seekable():
        return ","
    start = stream.tell()
    header = stream.readline(64 * 1024)
    stream.seek(start)
    return "\t" if b"\t" in header and b"," not in header else ","


def read_annotation_rows(
    stream: BinaryIO, file_format: str, schema: LabelSchema, *, field: str | None = None
) -> Iterator[tuple[str, Any]]:
    """``(where, row)`` pairs; a row is a dict of the import's shape or a RowError."""
    if file_format == "long":
        yield from _long_rows(stream, long_field(schema, field))
    elif file_format == "csv":
        yield from _csv_rows(stream, schema)
    else:
        yield from read_rows(stream, file_format)


def _csv_rows(stream: BinaryIO, schema: LabelSchema) -> Iterator[tuple[str, Any]]:
    fields = {f.name: f for f in schema.fields}
    checked = False
    for where, cells in read_csv(stream, _delimiter(stream)):
        if isinstance(cells, RowError):
            yield where, cells
            continue
        if not checked:
            checked = True
            unknown = sorted(k for k in cells if k not in KEYS and k not in fields)
            if unknown:
                problem = (
                    f"column(s) {', '.join(unknown)} are neither row keys ({', '.join(KEYS)}) "
                    f"nor fields of the schema ({', '.join(fields)})"
                )
                yield "line 1", RowError(problem, fatal=True)
                return
        row: dict[str, Any] = {k: cells[k] for k in KEYS if k in cells and k != "value"}
        value = {}
        for name, f in fields.items():
            cell = cells.get(name)
            answer = cell_value(f, cell) if isinstance(cell, str) else cell
            if answer is not None:
                value[name] = answer
        row["value"] = value
        yield where, row


def _long_rows(stream: BinaryIO, field: FieldKind) -> Iterator[tuple[str, Any]]:
    columns: dict[str, str] | None = None
    for where, cells in read_csv(stream, _delimiter(stream)):
        if isinstance(cells, RowError):
            yield where, cells
            continue
        if columns is None:
            columns = _long_header(list(cells))
            if isinstance(columns, str):
                yield "line 1", RowError(columns, fatal=True)
                return
        label = cells[columns["label"]]
        answer = cell_value(field, label) if isinstance(label, str) else label
        yield (
            where,
            {
                "external_id": cells[columns["item"]],
                "annotator": cells[columns["worker"]],
                "value": {} if answer is None else {field.name: answer},
            },
        )


def _long_header(names: list[str]) -> Any:
    """Which column plays which role, or the sentence that says what is missing."""
    lower = {n.strip().lower(): n for n in names}
    out: dict[str, str] = {}
    for role, aliases in LONG_COLUMNS.items():
        found = next((lower[a] for a in aliases if a in lower), None)
        if found is None:
            return (
                f"the long format needs a column '{role}' (or one of: "
                f"{', '.join(aliases[1:])}); the header has: {', '.join(names)}"
            )
        out[role] = found
    return out
