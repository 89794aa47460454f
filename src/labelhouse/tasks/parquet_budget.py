"""How many rows of a Parquet file to decode at once so that reading it stays within
:data:`DECODE_BUDGET`, worked out before any page is decompressed, and the checks made on
each batch while it is read.

Parquet compresses every page and can store a value once and repeat it (dictionary pages,
run-length encoding, shared prefixes), so a file of a few kilobytes can stand for gigabytes:
a 13 KB file of one long string repeated in a dictionary-encoded column took the server to
3 GB. From each column chunk's pages (:mod:`.parquet_pages`) this bounds, per row group, the
bytes that decoding any ``b`` consecutive rows can take — the values of the pages those rows
can touch, the page being decompressed, the chunk's dictionary — and picks the largest
``b`` up to :data:`MAX_BATCH_ROWS` that fits; a row group in which even one row may need
more than :data:`DECODE_LIMIT` is refused. An ordinary file decodes 128 rows in a few MB
and reads as before; the repeated-1-MB-string bomb is read 16 rows at a time.

While reading, a batch that decodes to more than :data:`ROW_BYTES` is turned into Python
objects row by row, a row over it is refused without being turned into anything, and the
file as a whole may decode to at most :func:`decoded_limit` bytes: the work a tiny file can
cause, even in rows that are each small enough.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from labelhouse.tasks.parquet_pages import (
    MAX_PAGE_BYTES,
    VALUE_OVERHEAD,
    ChunkPages,
    ChunkWalk,
    Page,
    PageCount,
    Refused,
    megabytes,
)

__all__ = ["Refused", "RowGroupPlan", "decoded_limit", "plan_reading", "slices", "too_much"]

# Bytes pyarrow may hold for one row (as for a page), and what a batch is sized to: the
# importer's 16 MB batch of JSON (it was twice that; halving it took ~50 MB off the peak of
# an import of a decompression bomb, whose rows then decode 4 at a time instead of 16, and
# left ordinary files alone). An ordinary file needs a few MB for 128 rows.
DECODE_LIMIT = MAX_PAGE_BYTES
DECODE_BUDGET = 16 * 1024 * 1024
MAX_BATCH_ROWS = 128
GROWTH = 2  # pyarrow builds a batch in buffers that double as they fill
# A file may decode to this many times its size, and at least DECODED_FLOOR bytes: real
# data compresses 3-20x (a constant column more), a decompression bomb a million times.
DECODED_RATIO = 1000
DECODED_FLOOR = 128 * 1024 * 1024
# A batch decoding to more than this is turned into Python objects row by row, and a row
# decoding to more is not turned into anything: Arrow's 8-byte numbers and per-value offsets
# take a few times the JSON they become, but a row of 8 MB cannot be a task of 1 MB.
ROW_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class RowGroupPlan:
    index: int
    batch_rows: int


def decoded_limit(file_size: int) -> int:
    return max(DECODED_FLOOR, DECODED_RATIO * file_size)


# -- while reading --------------------------------------------------------------------------


def dense_schema(schema: Any) -> Any | None:
    """The schema with dictionary types replaced by their values, or None if it has none.
    A file written from a dictionary (categorical) column is read back as one, and its
    batches are small in Arrow but not once turned into Python; decoded here, within the
    plan's budget (which counted every value at its largest entry), their size shows."""
    import pyarrow as pa

    def dense(t: Any) -> Any:
        if pa.types.is_dictionary(t):
            return dense(t.value_type)
        if pa.types.is_struct(t):
            return pa.struct([f.with_type(dense(f.type)) for f in t])
        if pa.types.is_map(t):
            return pa.map_(
                t.key_field.with_type(dense(t.key_type)), t.item_field.with_type(dense(t.item_type))
            )
        if pa.types.is_large_list(t):
            return pa.large_list(t.value_field.with_type(dense(t.value_type)))
        if pa.types.is_fixed_size_list(t):
            return pa.list_(t.value_field.with_type(dense(t.value_type)), t.list_size)
        if pa.types.is_list(t):
            return pa.list_(t.value_field.with_type(dense(t.value_type)))
        return t

    target = pa.schema([f.with_type(dense(f.type)) for f in schema])
    return None if target.equals(schema) else target


def slices(batch: Any) -> Iterator[Any]:
    """The batch to turn into Python objects: whole if it decodes to at most ROW_BYTES, else
    row by row (one large row in Python at a time), with a str (the problem) in place of
    each row too large to be a task."""
    if batch.nbytes <= ROW_BYTES:
        yield batch
        return
    for i in range(batch.num_rows):
        row = batch.slice(i, 1)
        if row.nbytes <= ROW_BYTES:
            yield row
            continue
        name, column_bytes = _biggest_column(row)
        yield (
            f"decodes to {megabytes(row.nbytes)} (column '{name}': "
            f"{megabytes(column_bytes)}); a task is at most 1 MB of JSON"
        )


def too_much(batch: Any, file_size: int) -> str:
    name, _ = _biggest_column(batch)
    return (
        f"the file decodes to more than {megabytes(decoded_limit(file_size))}, over "
        f"{DECODED_RATIO:,} times its {file_size:,} bytes (mostly column '{name}'); "
        "a file this compressible is refused"
    )


def _biggest_column(batch: Any) -> tuple[str, int]:
    sizes = [column.nbytes for column in batch.columns]
    biggest = max(range(len(sizes)), key=sizes.__getitem__)
    return batch.schema.names[biggest], sizes[biggest]


# -- reading plan -------------------------------------------------------------------------


def _total(chunk: ChunkPages) -> int:
    """The bytes decoding the whole chunk at once would take."""
    return chunk.dictionary + _cost(chunk, chunk.pages, None)


def _window(chunk: ChunkPages, rows: int) -> int:
    """The most bytes decoding ``rows`` consecutive rows can take in this column: over every
    page ``i``, a window from its last row to where the rows end (for a list column, to the
    page where the next row starts, as a row may run on into it)."""
    pages = chunk.pages
    needed = rows if chunk.repeated else rows - 1
    costs = [_decoded(chunk, page, rows) for page in pages]
    worst = decoded = 0
    after = 0  # rows starting in pages i+1..j
    largest: deque[int] = deque()  # pages i..j by falling size (a sliding maximum)
    j = -1
    for i in range(len(pages)):
        if j < i:  # the window is empty: start it at page i
            j, decoded, after = i, costs[i], 0
            largest.clear()
            largest.append(i)
        else:
            after -= pages[i].rows
        while after < needed and j + 1 < len(pages):
            j += 1
            decoded += costs[j]
            after += pages[j].rows
            while largest and pages[largest[-1]].size <= pages[j].size:
                largest.pop()
            largest.append(j)
        while largest[0] < i:
            largest.popleft()
        # Pages are decompressed one at a time; the values decoded from them stay.
        worst = max(worst, GROWTH * decoded + pages[largest[0]].size)
        decoded -= costs[i]
    return chunk.dictionary + worst


def _cost(chunk: ChunkPages, pages: list[Page], rows: int | None) -> int:
    decoded = sum(_decoded(chunk, page, rows) for page in pages)
    return GROWTH * decoded + max((p.size for p in pages), default=0)


def _decoded(chunk: ChunkPages, page: Page, rows: int | None) -> int:
    k = page.values if chunk.repeated or rows is None else min(page.values, rows)
    return (page.size if page.literal else k * page.per_value) + k * VALUE_OVERHEAD


def plan_reading(parquet: Any, stream: BinaryIO, file_size: int) -> list[RowGroupPlan]:
    """A batch size per row group, or :class:`Refused` naming the first that does not fit.
    ``parquet`` is the ``pyarrow.parquet.ParquetFile`` opened on ``stream``."""
    metadata = parquet.metadata
    schema = parquet.schema
    count = PageCount()
    plans = []
    groups = metadata.num_row_groups
    for g in range(groups):
        where = f"row group {g + 1} of {groups}"
        group = metadata.row_group(g)
        chunks: list[ChunkPages] = []
        walks: list[ChunkWalk] = []
        for c in range(group.num_columns):
            walk = ChunkWalk(stream, file_size, group.column(c), schema.column(c), where, count)
            walks.append(walk)
            chunks.append(walk.read())
        dictionaries = sum(chunk.dictionary for chunk in chunks)
        if dictionaries > DECODE_LIMIT:
            biggest = max(chunks, key=lambda chunk: chunk.dictionary)
            raise Refused(
                where,
                f"its dictionaries decode to {megabytes(dictionaries)} (column "
                f"'{biggest.name}': {megabytes(biggest.dictionary)}), more than the "
                f"{megabytes(DECODE_LIMIT)} Labelhouse decodes at once",
            )
        for chunk, walk in zip(chunks, walks, strict=True):
            walk.resolve_dictionary(chunk)
        plans.append(RowGroupPlan(g, _batch_rows(chunks, where)))
    return plans


def _batch_rows(chunks: list[ChunkPages], where: str) -> int:
    if sum(_total(chunk) for chunk in chunks) <= DECODE_BUDGET:
        return MAX_BATCH_ROWS  # the whole row group fits (every ordinary small file)
    rows = MAX_BATCH_ROWS
    while True:
        windows = [_window(chunk, rows) for chunk in chunks]
        if sum(windows) <= DECODE_BUDGET:
            return rows
        if rows == 1:
            if sum(windows) <= DECODE_LIMIT:
                return 1
            worst = max(range(len(chunks)), key=windows.__getitem__)
            raise Refused(
                where,
                f"one row may decode to {megabytes(sum(windows))} (column "
                f"'{chunks[worst].name}': {megabytes(windows[worst])}), more than the "
                f"{megabytes(DECODE_LIMIT)} Labelhouse decodes at once; a task is at most "
                "1 MB of JSON (if the rows are that small, write the file with smaller pages)",
            )
        rows //= 2
