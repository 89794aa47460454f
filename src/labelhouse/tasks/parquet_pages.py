"""What pyarrow will decompress and decode for each column chunk of a Parquet file, read
from the chunk's page headers before any page is decompressed.

The footer states sizes, but it is written by whoever made the file; pyarrow allocates what
each *page header* says. :class:`ChunkWalk` reads the headers (Thrift compact protocol, a
few bytes each) over the same byte range pyarrow reads, refuses a page that decompresses to
more than :data:`MAX_PAGE_BYTES`, and describes each page by what decoding its values can
take: fixed-width values their width, plain strings the page's own bytes, dictionary-encoded
strings their dictionary's largest entry (the repeated-long-string bomb).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, BinaryIO, NoReturn

from labelhouse.tasks.parquet_thrift import BadHeader, field, read_header, varint

MB = 1024 * 1024
MAX_PAGE_BYTES = 64 * MB  # real writers make pages of about 1 MB
MAX_PAGES = 100_000  # each costs a header parse here; real files have one per ~1 MB
VALUE_OVERHEAD = 16  # levels, offsets and validity pyarrow keeps per decoded value
SCAN_DICTIONARY_OVER = 4096  # a bound on entries this small costs 128 rows only 512 KB

_WIDTH = {"BOOLEAN": 1, "INT32": 4, "FLOAT": 4, "INT64": 8, "DOUBLE": 8, "INT96": 12}
_DATA_PAGE, _DICTIONARY_PAGE, _DATA_PAGE_V2 = 0, 2, 3
_DICTIONARY_ENCODINGS = {2, 8}  # PLAIN_DICTIONARY, RLE_DICTIONARY
_LITERAL_ENCODINGS = {0, 6}  # PLAIN, DELTA_LENGTH_BYTE_ARRAY: the page holds the bytes
_RLE = 3
_CODECS = {
    "SNAPPY": "snappy",
    "GZIP": "gzip",
    "BROTLI": "brotli",
    "ZSTD": "zstd",
    "LZ4_RAW": "lz4_raw",
}
_U32 = struct.Struct("<I").unpack_from


class Refused(Exception):
    """The file cannot be read within the budget; ``where`` names the row group."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


def megabytes(size: float) -> str:
    return f"{size / MB:,.1f} MB"


@dataclass(slots=True)
class Page:
    size: int  # decompressed bytes: what pyarrow allocates to read it
    values: int
    rows: int  # rows that start in this page (0 when that cannot be told: conservative)
    per_value: int = 0  # the most bytes one decoded value of it may take
    literal: bool = False  # the page holds its values' bytes: they total at most ``size``


@dataclass(slots=True)
class ChunkPages:
    name: str
    repeated: bool  # a list column: a row may span pages
    dictionary: int = 0  # bytes its decoded dictionary takes
    pages: list[Page] = dataclass_field(default_factory=list)


class PageCount:
    """Pages read so far in the file, refused past MAX_PAGES (a chunk of a 1 GB file could
    otherwise hold a hundred million ten-byte pages)."""

    def __init__(self) -> None:
        self.seen = 0


class ChunkWalk:
    """The pages of one column chunk, as pyarrow will read them."""

    def __init__(
        self,
        stream: BinaryIO,
        file_size: int,
        column: Any,
        info: Any,
        where: str,
        count: PageCount,
    ) -> None:
        self.stream = stream
        self.count = count
        self.column = column
        self.name = info.path
        self.where = where
        self.physical = column.physical_type
        self.repeated = info.max_repetition_level > 0
        self.rep_width = info.max_repetition_level.bit_length()
        self.width = info.length if self.physical == "FIXED_LEN_BYTE_ARRAY" else None
        self.codec = column.compression
        start = column.data_page_offset
        if column.has_dictionary_page and 0 < column.dictionary_page_offset < start:
            start = column.dictionary_page_offset
        self.start = start
        self.end = start + column.total_compressed_size
        if start < 0 or self.end > file_size or column.total_compressed_size < 0:
            self.refuse("its column chunk lies outside the file")
        self.dictionary_page: tuple[int, int, int, int] | None = None  # at, size, stored, n

    def refuse(self, problem: str) -> NoReturn:
        raise Refused(self.where, f"column '{self.name}': {problem}")

    def read(self) -> ChunkPages:
        try:
            return self._read()
        except BadHeader as exc:
            self.refuse(f"a malformed page header: {exc}")

    def _read(self) -> ChunkPages:
        chunk = ChunkPages(self.name, self.repeated)
        for kind, header, at, stored in self._headers():
            size = header[2]
            if size > MAX_PAGE_BYTES:
                self.refuse(
                    f"a page decompresses to {megabytes(size)}, more than the "
                    f"{megabytes(MAX_PAGE_BYTES)} Labelhouse decodes at once"
                )
            if kind == _DICTIONARY_PAGE:
                entries = field(header.get(7), 1)
                chunk.dictionary = size + entries * VALUE_OVERHEAD
                self.dictionary_page = (at, size, stored, entries)
                continue
            page_header = header[5 if kind == _DATA_PAGE else 8]  # checked by _headers
            values = field(page_header, 1)
            encoding = field(page_header, 2 if kind == _DATA_PAGE else 4)
            page = Page(size, values, values)
            if self.repeated:
                if kind == _DATA_PAGE_V2:
                    page.rows = field(page_header, 3)
                elif page_header.get(4) == _RLE:  # the repetition levels' encoding
                    page.rows = self._row_starts(at, stored, size, values)
                else:
                    page.rows = 0
            if self.physical in _WIDTH or self.width is not None:
                page.per_value = self.width or _WIDTH[self.physical]
            elif encoding in _DICTIONARY_ENCODINGS:
                page.per_value = -1  # its dictionary's largest entry: resolve_dictionary
            else:
                # A literal page holds its values; a DELTA_BYTE_ARRAY value shares a prefix
                # with the one before, but is still no longer than the page.
                page.per_value = size
                page.literal = encoding in _LITERAL_ENCODINGS
            chunk.pages.append(page)
        return chunk

    def resolve_dictionary(self, chunk: ChunkPages) -> None:
        """Give dictionary-encoded string pages their dictionary's largest entry as the
        size of a value. Each entry has a 4-byte length, so none is longer than the page
        less 4 bytes per entry; only when that is not small enough is the page read (a
        1 MB dictionary of 70,000 ids takes some 50 ms; a few labels, nothing)."""
        if not any(page.per_value < 0 for page in chunk.pages):
            return
        if self.dictionary_page is None:
            self.refuse("its pages refer to a dictionary that it does not have")
        at, size, stored, entries = self.dictionary_page
        # (A page claiming more entries than it has room for is not read by pyarrow either.)
        largest = size - 4 * entries if 4 * entries <= size else size
        if largest > SCAN_DICTIONARY_OVER:
            largest = self._largest_entry(at, stored, size, entries)
        for page in chunk.pages:
            if page.per_value < 0:
                page.per_value = largest

    def _largest_entry(self, at: int, stored: int, size: int, entries: int) -> int:
        data = self._page_bytes(at, stored, size)
        if data is None:  # a codec we cannot run: no entry is longer than the page
            return size
        largest = pos = 0
        end = len(data) - 4
        unpack = _U32
        for _ in range(entries):
            if pos > end:
                break
            length = unpack(data, pos)[0]
            if length > largest:
                largest = length
            pos += 4 + length
        return min(largest, size)

    def _headers(self) -> Iterator[tuple[int, dict[int, Any], int, int]]:
        """(page type, header fields, where its data starts, its stored size) for each page
        up to the end of the chunk. pyarrow stops after the values the footer promises, so
        bytes after those that are not a page header are left alone, as it does."""
        pos, end = self.start, self.end
        expected = self.column.num_values
        seen = 0
        while pos < end:
            try:
                header, length = read_header(self.stream, pos, end)
                kind = field(header, 1)
                field(header, 2)  # the decompressed size, which read() bounds
                stored = field(header, 3)
                if kind in (_DATA_PAGE, _DATA_PAGE_V2):
                    seen += field(header.get(5 if kind == _DATA_PAGE else 8), 1)
            except BadHeader as exc:
                if seen >= expected:
                    return
                self.refuse(f"unreadable page header at byte {pos:,}: {exc}")
            self.count.seen += 1
            if self.count.seen > MAX_PAGES:
                self.refuse(f"the file has more than {MAX_PAGES:,} pages")
            if kind in (_DATA_PAGE, _DICTIONARY_PAGE, _DATA_PAGE_V2):
                yield kind, header, pos + length, stored
            pos += length + stored

    def _page_bytes(self, at: int, stored: int, size: int) -> bytes | None:
        """A page's data, decompressed (``size`` was bounded first), or None if the codec
        cannot be run here."""
        import pyarrow as pa

        self.stream.seek(at)
        data = self.stream.read(min(stored, max(0, self.end - at)))
        if self.codec == "UNCOMPRESSED":
            return data
        codec = _CODECS.get(self.codec)
        if codec is None:
            return None
        try:
            return pa.decompress(data, decompressed_size=size, codec=codec, asbytes=True)
        except (pa.ArrowException, OSError):
            return None

    def _row_starts(self, at: int, stored: int, size: int, values: int) -> int:
        """How many rows start in a version 1 page of a list column: its repetition levels
        that are 0. Unknown counts as 0, which only makes the windows wider."""
        data = self._page_bytes(at, stored, size)
        if data is None or len(data) < 4:
            return 0
        (length,) = _U32(data, 0)
        try:
            return _count_zeros(data, 4, min(4 + length, len(data)), self.rep_width, values)
        except (BadHeader, IndexError):  # malformed levels: pyarrow will say so
            return 0


def _count_zeros(data: bytes, pos: int, end: int, width: int, count: int) -> int:
    """Zeros among the first ``count`` values of an RLE / bit-packed hybrid run."""
    zeros = seen = 0
    value_bytes = (width + 7) // 8
    while seen < count and pos < end:
        header, pos = varint(data, pos)
        if header & 1:  # bit-packed: groups of 8 values of ``width`` bits, low bits first
            stop = min(pos + (header >> 1) * width, end)
            while pos < stop and seen < count:  # 64 KB at a time
                packed = data[pos : min(stop, pos + 8192 * width)]
                pos += len(packed)
                take = min(len(packed) * 8 // width, count - seen)
                zeros += take - _nonzero(packed, width, take)
                seen += take
            pos = max(pos, stop)
        else:  # a run of one value
            take = min(header >> 1, count - seen)
            if not any(data[pos : pos + value_bytes]):
                zeros += take
            pos += value_bytes
            seen += take
    return zeros


def _nonzero(packed: bytes, width: int, count: int) -> int:
    """How many of the first ``count`` ``width``-bit values packed low bits first are not 0:
    OR each value's bits into its lowest one, then count the lowest bits."""
    bits = int.from_bytes(packed, "little") & ((1 << (count * width)) - 1)
    any_bit = bits
    for shift in range(1, width):
        any_bit |= bits >> shift
    lowest = ((1 << (count * width)) - 1) // ((1 << width) - 1)  # bit 0 of every value
    return (any_bit & lowest).bit_count()
