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


MAX_JSON_DEPTH = 64  # levels of objects and arrays in one task, the task object included
TOO_DEEP = f"nested deeper than {MAX_JSON_DEPTH} levels"


def deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` (decoded JSON) nests objects and arrays more than ``limit`` deep
    (a scalar is 0 deep, ``{}`` and ``[]`` are 1). Iterative: no recursion limit to meet."""
    stack = [(value, 1)]
    while stack:
        container, depth = stack.pop()
        if type(container) is dict:
            container = container.values()
        elif type(container) is not list:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in container if type(child) in (dict, list))
    return False


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
            row = orjson.loads(stripped)
        except orjson.JSONDecodeError as exc:
            yield f"line {number}", RowError(f"not valid JSON: {exc}")
            continue
        # orjson nests up to 1,024 levels: the limit of JSON arrays holds here too. A line
        # nests at most half its length deep, and at most as deep as it has opening brackets
        # (counted in C, those in strings too): most lines are let through by one or the other.
        if (
            len(stripped) > 2 * MAX_JSON_DEPTH
            and stripped.count(b"{") + stripped.count(b"[") > MAX_JSON_DEPTH
            and deeper_than(row, MAX_JSON_DEPTH)
        ):
            row = RowError(TOO_DEEP)
        yield f"line {number}", row


class _TooDeep(Exception):
    pass


class _NotAnArray(Exception):
    pass


class _ItemTooLarge(Exception):
    pass


class _CountedReads:
    """The stream as ijson reads it (64 KB at a time), refusing to go on once the item
    being built has taken more than MAX_LINE_BYTES: an item is bounded like a JSONL line
    (one 100 MB item of short numbers took 680 MB to build)."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.consumed = 0
        self.item_start = 0  # where the item being built starts (to within one read)

    def read(self, size: int = -1) -> bytes:
        if self.consumed - self.item_start > MAX_LINE_BYTES:
            raise _ItemTooLarge
        data = self.stream.read(size)
        self.consumed += len(data)
        return data


def _array_items(stream: BinaryIO) -> Iterator[Any]:
    """The items of a top-level JSON array, built from ijson's *basic* events.

    ``ijson.items`` would be three times faster, but it builds a path string for every
    nesting level of every event: a 200 KB file of nested brackets made it allocate
    gigabytes and the server was killed. Basic events carry no path, and this builder
    refuses items nested deeper than :data:`MAX_JSON_DEPTH`.
    """
    import ijson  # only JSON arrays need it (and every command pays for imports)

    reads = _CountedReads(stream)
    events = ijson.basic_parse(reads, use_float=True)
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
                reads.item_start = reads.consumed
                yield done
            elif type(stack[-1]) is dict:
                stack[-1][key] = done
            else:
                stack[-1].append(done)
        elif not stack:
            reads.item_start = reads.consumed
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
        yield f"item {number + 1}", RowError(TOO_DEEP, fatal=True)
    except _ItemTooLarge:
        yield f"item {number + 1}", RowError(f"larger than {MAX_LINE_BYTES} bytes", fatal=True)
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


def read_csv(stream: BinaryIO, delimiter: str = ",") -> Iterator[tuple[str, Any]]:
    """CSV: the header names data keys; a column ``key:json`` is parsed as JSON into ``key``.
    (``delimiter``: tab for the tab-separated files crowd datasets come in.)"""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    try:
        yield from _read_csv_text(text, delimiter)
    finally:
        text.detach()  # the caller's stream stays open (a collected wrapper would close it)


class _LineTooLong(csv.Error):
    pass


class _Lines:
    """The text's lines for the csv module, refusing one longer than MAX_LINE_BYTES
    characters before it is all in memory, and a record whose quoted line breaks make it
    longer than that in all (``taken``: its characters so far; one 100 MB record of short
    cells took 1.3 GB). ``ended`` tells that the csv module asked for a line past the last:
    it only does so inside a quoted cell, so the record it then returns is cut short by an
    unterminated quote (Python's csv module gives it back as if it were fine)."""

    def __init__(self, text: io.TextIOWrapper) -> None:
        self.text = text
        self.taken = 0
        self.ended = False

    def __iter__(self) -> Iterator[str]:
        while line := self.text.readline(MAX_LINE_BYTES + 1):
            if len(line) > MAX_LINE_BYTES:
                raise _LineTooLong(f"a line is longer than {MAX_LINE_BYTES} characters")
            self.taken += len(line)
            if self.taken > MAX_LINE_BYTES:
                raise _LineTooLong(
                    f"a record (with quoted line breaks) is longer than {MAX_LINE_BYTES} "
                    'characters; is a quote (") on this line never closed?'
                )
            yield line
        self.ended = True


# What ends a line for ``readline`` with ``newline=""``, as the csv module saw them.
LINE_BREAK = re.compile("\r\n|\r|\n")
UNTERMINATED_QUOTE = (
    'a quote (") that opens a cell on this line is never closed, so the rest of the file '
    'would be one cell; close it, or write a quote inside a quoted cell twice ("")'
)


def _read_csv_text(text: io.TextIOWrapper, delimiter: str = ",") -> Iterator[tuple[str, Any]]:
    lines = _Lines(text)
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    except (UnicodeDecodeError, csv.Error) as exc:
        yield "line 1", RowError(f"cannot read the header: {exc}", fatal=True)
        return
    if lines.ended:
        yield _unterminated(reader.line_num, header)
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
        first_line = reader.line_num + 1
        lines.taken = 0
        try:
            cells = next(reader)
        except StopIteration:
            return
        except _LineTooLong as exc:
            yield f"line {first_line}", RowError(str(exc), fatal=True)
            return
        except (UnicodeDecodeError, csv.Error) as exc:
            yield f"line {reader.line_num}", RowError(f"malformed CSV: {exc}", fatal=True)
            return
        if lines.ended:
            yield _unterminated(reader.line_num, cells)
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
                    row[name] = value = orjson.loads(cell) if cell != "" else None
                except orjson.JSONDecodeError as exc:
                    bad = f"column '{name}:json' is not valid JSON: {exc}"
                    break
                brackets = cell.count("{") + cell.count("[")  # a bound of its depth
                if brackets >= MAX_JSON_DEPTH and deeper_than(value, MAX_JSON_DEPTH - 1):
                    bad = f"column '{name}:json' makes the task {TOO_DEEP}"
                    break
            else:
                row[name] = cell
        yield where, RowError(bad) if bad else row


def _unterminated(last_line: int, cells: list[str]) -> tuple[str, RowError]:
    """The place of an unterminated quote: its cell is the record's last, and holds the line
    break of every line from the quote's to the last (that one's only if it has one)."""
    cell = cells[-1] if cells else ""
    opened = last_line - len(LINE_BREAK.findall(cell)) + cell.endswith(("\n", "\r"))
    return f"line {opened}", RowError(UNTERMINATED_QUOTE, fatal=True)


def read_parquet(stream: BinaryIO) -> Iterator[tuple[str, Any]]:
    """Parquet, row group by row group, in batches that :mod:`.parquet_budget` sized from the
    page headers before any page was decompressed (a 1 KB file can stand for gigabytes)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from labelhouse.tasks import parquet_budget as budget

    try:
        # Pre-buffering would hold a whole row group's compressed bytes at once.
        parquet = pq.ParquetFile(stream, pre_buffer=False, buffer_size=1 << 20)
    except (pa.ArrowInvalid, OSError) as exc:
        yield "file", RowError(f"not a Parquet file: {exc}", fatal=True)
        return
    size = stream.seek(0, io.SEEK_END)
    try:
        plans = budget.plan_reading(parquet, stream, size)
        dense = budget.dense_schema(parquet.schema_arrow)
    except budget.Refused as exc:
        yield exc.where, RowError(exc.problem, fatal=True)
        return
    except (pa.ArrowException, OSError) as exc:
        yield "file", RowError(f"cannot read the Parquet file: {exc}", fatal=True)
        return
    decoded = number = 0
    # Nested types can nest deeper than a task may (Parquet allows ~100 levels of struct):
    # rows are then measured one by one (a null keeps a row shallow).
    may_be_too_deep = 1 + _json_depth(dense or parquet.schema_arrow) > MAX_JSON_DEPTH
    for plan in plans:
        where = f"row group {plan.index + 1} of {len(plans)}"
        batches = parquet.iter_batches(batch_size=plan.batch_rows, row_groups=[plan.index])
        while True:
            batch = piece = None  # let the last batch go before the next is decoded
            try:
                batch = next(batches, None)
                if batch is not None and dense is not None:
                    batch = batch.cast(dense)
            except (pa.ArrowException, OSError) as exc:
                yield where, RowError(f"cannot be read: {exc}", fatal=True)
                return
            if batch is None:
                break
            decoded += batch.nbytes
            if decoded > budget.decoded_limit(size):  # the work a tiny file can cause
                yield where, RowError(budget.too_much(batch, size), fatal=True)
                return
            for piece in budget.slices(batch):
                if isinstance(piece, str):
                    number += 1
                    yield f"row {number}", RowError(piece)
                    continue
                for row in piece.to_pylist():
                    number += 1
                    # Arrow gives datetimes, decimals, bytes…: keep only what JSON can hold.
                    try:
                        item: Any = orjson.loads(orjson.dumps(row, option=orjson.OPT_NON_STR_KEYS))
                    except orjson.JSONEncodeError as exc:
                        item = RowError(f"holds a value that JSON cannot represent: {exc}")
                    if may_be_too_deep and deeper_than(item, MAX_JSON_DEPTH):
                        item = RowError(TOO_DEEP)
                    yield f"row {number}", item


def _json_depth(arrow: Any) -> int:
    """How deep the JSON of a value of this Arrow type can nest (for a schema: its deepest
    column): structs and lists one level each, maps two (a list of [key, value] pairs)."""
    import pyarrow as pa

    t = pa.types
    if isinstance(arrow, pa.Schema):
        return max((_json_depth(f.type) for f in arrow), default=0)
    if t.is_dictionary(arrow):
        return _json_depth(arrow.value_type)
    if t.is_map(arrow):
        return 2 + max(_json_depth(arrow.key_type), _json_depth(arrow.item_type))
    if t.is_struct(arrow):
        return 1 + max(
            (_json_depth(arrow.field(i).type) for i in range(arrow.num_fields)), default=0
        )
    lists = (t.is_list, t.is_large_list, t.is_fixed_size_list, t.is_list_view, t.is_large_list_view)
    if any(is_list(arrow) for is_list in lists):
        return 1 + _json_depth(arrow.value_type)
    return 0


READERS = {"jsonl": read_jsonl, "json": read_json_array, "csv": read_csv, "parquet": read_parquet}


def read_rows(stream: BinaryIO, file_format: str) -> Iterator[tuple[str, Any]]:
    return READERS[file_format](stream)
