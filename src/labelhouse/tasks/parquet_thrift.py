"""Just enough of the Thrift compact protocol to read Parquet page headers.

pyarrow does not expose page headers, and they are what it allocates by: each says how
large its page is once decompressed and how many values it holds. A header is a struct of
a few dozen bytes; :func:`read_header` returns its integer, boolean and struct fields by
field id and skips the rest (statistics, which can be large). Malformed or hostile input
raises :class:`BadHeader`; nothing here loops longer than the bytes it was given.
"""

from __future__ import annotations

from typing import Any, BinaryIO

MAX_PAGE_HEADER = 16 * 1024 * 1024  # as pyarrow


class BadHeader(Exception):
    pass


class _Short(Exception):
    """The header runs past the bytes read so far."""


def read_header(stream: BinaryIO, pos: int, end: int) -> tuple[dict[int, Any], int]:
    """The header at ``pos`` (which must end before ``end``) and its length in bytes."""
    want = 1024  # a header is tens of bytes, more with statistics
    while True:
        stream.seek(pos)
        available = min(want, end - pos)
        buf = stream.read(available)
        try:
            return _struct(buf, 0, 0)
        except (_Short, IndexError):
            if len(buf) < available or available >= min(end - pos, MAX_PAGE_HEADER):
                raise BadHeader("truncated") from None
            want *= 4


def field(fields: Any, number: int, default: int | None = None) -> int:
    """An int field of a parsed struct, which must be a non-negative 32-bit integer."""
    value = fields.get(number, default) if isinstance(fields, dict) else default
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**31:
        raise BadHeader(f"field {number} is missing or out of range")
    return value


def varint(buf: bytes, pos: int) -> tuple[int, int]:
    """An unsigned LEB128 integer (also the run headers of Parquet's RLE encoding)."""
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise BadHeader("malformed integer")


def _int(buf: bytes, pos: int) -> tuple[int, int]:
    raw, pos = varint(buf, pos)
    return (raw >> 1) ^ -(raw & 1), pos


def _struct(buf: bytes, pos: int, depth: int) -> tuple[dict[int, Any], int]:
    """A struct's integer, boolean and struct fields by field id; the rest is skipped."""
    if depth > 8:
        raise BadHeader("nested too deeply")
    fields: dict[int, Any] = {}
    last = 0
    while True:
        head = buf[pos]
        pos += 1
        if head == 0:
            if pos > len(buf):
                raise _Short
            return fields, pos
        kind, delta = head & 0x0F, head >> 4
        if delta:
            last += delta
        else:
            last, pos = _int(buf, pos)
        if kind in (1, 2):
            fields[last] = kind == 1
        elif kind in (4, 5, 6):
            fields[last], pos = _int(buf, pos)
        elif kind == 12:
            fields[last], pos = _struct(buf, pos, depth + 1)
        else:
            pos = _skip(buf, pos, kind, depth)
        if pos > len(buf):
            raise _Short


def _skip(buf: bytes, pos: int, kind: int, depth: int) -> int:
    if kind == 3:
        return pos + 1
    if kind in (4, 5, 6):
        return varint(buf, pos)[1]
    if kind == 7:
        return pos + 8
    if kind == 8:
        length, pos = varint(buf, pos)
        return pos + length
    if kind in (9, 10):  # list, set
        head = buf[pos]
        pos += 1
        size, element = head >> 4, head & 0x0F
        if size == 15:
            size, pos = varint(buf, pos)
        for _ in range(size):
            pos = _skip_element(buf, pos, element, depth)
        return pos
    if kind == 11:  # map
        size, pos = varint(buf, pos)
        if size:
            types = buf[pos]
            pos += 1
            for _ in range(size):
                pos = _skip_element(buf, pos, types >> 4, depth)
                pos = _skip_element(buf, pos, types & 0x0F, depth)
        return pos
    if kind == 12:
        return _struct(buf, pos, depth + 1)[1]
    raise BadHeader(f"unknown field type {kind}")


def _skip_element(buf: bytes, pos: int, kind: int, depth: int) -> int:
    if pos >= len(buf):
        raise _Short  # every element takes a byte: a huge count cannot loop for long
    if kind in (1, 2):  # booleans in a container are one byte each
        return pos + 1
    return _skip(buf, pos, kind, depth)
