"""Streaming readers for task files: JSONL, JSON array, CSV and Parquet.

Each reader yields ``(where, row)`` pairs one at a time, where ``where`` names the place in
the file ("line 12", "item 3", "row 7") for error messages, and ``row`` is the decoded
object or a :class:`RowError`. Nothing reads the whole file into memory.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson

FORMATS = ("jsonl", "json", "csv", "parquet")
EXTENSIONS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
MAX_LINE_BYTES = 16 * 1024 * 1024
# A CSV cell may be as long as a task may be large (the csv module's default is 128 KB).
csv.field_size_limit(max(csv.field_size_limit(), 1024 * 1024))
PARQUET_BATCH_ROWS = 128
# Bytes that are not UTF-8 decode (with ``surrogateescape``) to lone surrogates: finding one
# names the exact line, where a strict decoder fails on whichever 8 KB chunk holds it.
UNDECODABLE = re.compile("[\udc80-\udcff]")
NOT_UTF8 = "is not valid UTF-8 text; save the file as UTF-8"


@dataclass(frozen=True)
class RowError:
    problem: str
    fatal: bool = False  # the file cannot be read past this point


def detect_format(filename: str | None, explicit: str | None = None) -> str:
    if explicit:
        if explicit not in FORMATS:
            raise ValueError(f"unknown format '{explicit}'; use one of: {', '.join(FORMATS)}")
        return explicit
    name = (filename or "").lower()
    for ext, fmt in EXTENSIONS.items():
        if name.endswith(ext):
            return fmt
    raise ValueError(
        f"cannot tell the format of '{filename}'; name it .jsonl, .json, .csv or .parquet "
        "or pass the format explicitly"
    )


def read_jsonl(stream: BinaryIO) -> Iterator[tuple[str, Any]]:
    number = 0
    # readline with a limit: iterating the file would read a line of any length (a whole
    # upload without a newline) into memory before its length could be checked.
    while line := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(line) > MAX_LINE_BYTES:
            while line and not line.endswith(b"\n"):  # skip the rest of this line
                line = stream.readline(1 << 20)
            yield f"line {number}", RowError(f"line is longer than {MAX_LINE_BYTES} bytes")
            continue
        stripped = line.strip()
        if not stripped:
            continue
        try:
            yield f"line {number}", orjson.loads(stripped)
        except orjson.JSONDecodeError as exc:
            yield f"line {number}", RowError(f"not valid JSON: {exc}")


MAX_JSON_DEPTH = 64  # nesting levels inside one task of a JSON array file


class _TooDeep(Exception):
    pass


class _NotAnArray(Exception):
    pass


def _array_items(stream: BinaryIO) -> Iterator[Any]:
    """The items of a top-level JSON array, built from ijson's *basic* events.

    ``ijson.items`` would be three times faster, but it builds a path string for every
    nesting level of every event: a 200 KB file of nested brackets made it allocate
    gigabytes and the server was killed. Basic events carry no path, and this builder
    refuses items nested deeper than :data:`MAX_JSON_DEPTH`.
    """
    import ijson  # only JSON arrays need it (and every command pays for imports)

    events = ijson.basic_parse(stream, use_float=True)
    first = next(events, None)
    if first is None or first[0] != "start_array":
        raise _NotAnArray
    stack: list[Any] = []  # the containers being built, outermost first
    keys: list[Any] = []  # the key each of them will have in its parent
    key: Any = None
    for event, value in events:
        if event == "map_key":
            key = value
        elif event == "start_map" or event == "start_array":
            if len(stack) >= MAX_JSON_DEPTH:
                raise _TooDeep
            container: Any = {} if event == "start_map" else []
            stack.append(container)
            keys.append(key)
        elif event == "end_map" or event == "end_array":
            if not stack:  # the end of the top-level array: nothing may follow it
                for _ in events:  # ijson raises on anything but whitespace
                    raise _NotAnArray
                return
            done = stack.pop()
            key = keys.pop()
            if not stack:
                yield done
            elif type(stack[-1]) is dict:
                stack[-1][key] = done
            else:
                stack[-1].append(done)
        elif not stack:
            yield value  # a bare scalar item (the importer rejects it)
        elif type(stack[-1]) is dict:
            stack[-1][key] = value
        else:
            stack[-1].append(value)


def read_json_array(stream: BinaryIO) -> Iterator[tuple[str, Any]]:
    import ijson

    number = 0
    try:
        for number, item in enumerate(_array_items(stream), start=1):
            yield f"item {number}", item
    except _TooDeep:
        yield (
            f"item {number + 1}",
            RowError(f"nested deeper than {MAX_JSON_DEPTH} levels", fatal=True),
        )
    except _NotAnArray:
        yield (
            "file",
            RowError("a .json file must hold one JSON array of task objects", fatal=True),
        )
    except ijson.JSONError as exc:
        yield (
            f"item {number + 1}",
            RowError(
                f"not valid JSON (the file must be one JSON array of objects): {exc}", fatal=True
            ),
        )


def read_csv(stream: BinaryIO) -> Iterator[tuple[str, Any]]:
    """CSV: the header names data keys; a column ``key:json`` is parsed as JSON into ``key``."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    try:
        yield from _read_csv_text(text)
    finally:
        text.detach()  # the caller's stream stays open (a collected wrapper would close it)


class _LineTooLong(csv.Error):
    pass


def _bounded_lines(text: io.TextIOWrapper) -> Iterator[str]:
    """The text's lines, refusing one longer than MAX_LINE_BYTES characters before it is
    all in memory."""
    while line := text.readline(MAX_LINE_BYTES + 1):
        if len(line) > MAX_LINE_BYTES:
            raise _LineTooLong(f"a line is longer than {MAX_LINE_BYTES} characters")
        yield line


def _read_csv_text(text: io.TextIOWrapper) -> Iterator[tuple[str, Any]]:
    reader = csv.reader(_bounded_lines(text))
    try:
        header = next(reader)
    except StopIteration:
        return
    except (UnicodeDecodeError, csv.Error) as exc:
        yield "line 1", RowError(f"cannot read the header: {exc}", fatal=True)
        return
    if UNDECODABLE.search("".join(header)):
        yield "line 1", RowError(f"the header {NOT_UTF8}", fatal=True)
        return
    columns = [
        (name.strip().removesuffix(":json"), name.strip().endswith(":json")) for name in header
    ]
    names = [n for n, _ in columns]
    if len(set(names)) != len(names) or any(not n for n in names):
        yield "line 1", RowError("the header has empty or repeated column names", fatal=True)
        return
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except _LineTooLong as exc:  # raised before the reader counted the line
            yield f"line {reader.line_num + 1}", RowError(str(exc), fatal=True)
            return
        except (UnicodeDecodeError, csv.Error) as exc:
            yield f"line {reader.line_num}", RowError(f"malformed CSV: {exc}", fatal=True)
            return
        where = f"line {reader.line_num}"
        if not cells:
            continue
        if UNDECODABLE.search("".join(cells)):
            yield where, RowError(NOT_UTF8)
            continue
        if len(cells) != len(columns):
            yield where, RowError(f"has {len(cells)} cells but the header has {len(columns)}")
            continue
        row: dict[str, Any] = {}
        bad = None
        for (name, is_json), cell in zip(columns, cells, strict=True):
            if is_json:
                try:
                    row[name] = orjson.loads(cell) if cell != "" else None
                except orjson.JSONDecodeError as exc:
                    bad = f"column '{name}:json' is not valid JSON: {exc}"
                    break
            else:
                row[name] = cell
        yield where, RowError(bad) if bad else row


def read_parquet(stream: BinaryIO) -> Iterator[tuple[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(stream)
    except (pa.ArrowInvalid, OSError) as exc:
        yield "file", RowError(f"not a Parquet file: {exc}", fatal=True)
        return
    number = 0
    # Rows, not bytes, set a batch: a 1 KB file of one dictionary-encoded 1 MB string
    # repeated decodes to (rows x 1 MB), so a batch stays small (128 MB at worst).
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
        for row in batch.to_pylist():
            number += 1
            # Arrow gives datetimes, decimals, bytes…: keep only what JSON can hold.
            try:
                decoded: Any = orjson.loads(orjson.dumps(row, option=orjson.OPT_NON_STR_KEYS))
            except orjson.JSONEncodeError as exc:
                decoded = RowError(f"holds a value that JSON cannot represent: {exc}")
            yield f"row {number}", decoded


READERS = {"jsonl": read_jsonl, "json": read_json_array, "csv": read_csv, "parquet": read_parquet}


def read_rows(stream: BinaryIO, file_format: str) -> Iterator[tuple[str, Any]]:
    return READERS[file_format](stream)
