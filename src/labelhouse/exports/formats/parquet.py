"""Parquet: one row per answer, a typed column per label field (``columns.py``), written
with pyarrow's ParquetWriter one row group at a time and streamed as it is written, so
memory stays at one row group however large the project."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from labelhouse.exports.formats import options as opts
from labelhouse.exports.formats import provenance
from labelhouse.exports.formats.columns import TableShape
from labelhouse.exports.formats.options import OptionHelp
from labelhouse.exports.formats.values import VALUE_SOURCES

VALUES = OptionHelp(
    "values",
    "raw: one row per annotator's answer; consensus: one merged row per task (a reviewed "
    "task's reviewed value); reviewed: only what review settled",
    VALUE_SOURCES,
)
OPTIONS = (VALUES, *provenance.OPTIONS)


class _Sink:
    """A write-only file for ParquetWriter that hands back what was written so far; it
    counts the position itself (the writer asks for it to record offsets)."""

    closed = False

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def write(self, data: Any) -> int:
        self.parts.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def drain(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def parquet_bytes(batches: Iterable[Any], schema: Any) -> Iterator[bytes]:
    """A Parquet file of Arrow ``batches`` (each a row group), streamed row group by row
    group."""
    import pyarrow.parquet as pq

    sink = _Sink()
    writer = pq.ParquetWriter(sink, schema, compression="zstd")
    try:
        for batch in batches:
            writer.write_batch(batch)
            yield sink.drain()
    finally:
        writer.close()
    yield sink.drain()


def parse_table_options(schema: Any, options: Mapping[str, str]) -> dict[str, Any]:
    """``values``, ``provenance`` and ``annotators`` (Parquet and Hugging Face)."""
    opts.check_names(options, OPTIONS)
    return {"values": opts.choice(options, "values", VALUE_SOURCES)} | provenance.parse(options)


def shape_of(
    schema: Any, data_keys: list[str], field_names: list[str], options: Mapping[str, Any]
) -> TableShape:
    return TableShape(
        schema=schema,
        data_keys=data_keys,
        source=options.get("values", "raw"),
        provenance=provenance.Provenance.from_options(field_names, options),
    )


def write_parquet(
    records: Iterable[dict[str, Any]],
    *,
    schema: Any,
    data_keys: list[str],
    field_names: list[str],
    options: Mapping[str, Any],
    **_: Any,
) -> Iterator[bytes]:
    shape = shape_of(schema, data_keys, field_names, options)
    arrow_schema = shape.arrow_schema()
    return parquet_bytes(shape.batches(records, arrow_schema), arrow_schema)


# writers.FORMATS["parquet"] = Format(**SPEC)
SPEC: dict[str, Any] = dict(
    write=write_parquet,
    media_type="application/vnd.apache.parquet",
    extension="parquet",
    raw_json=False,
    parse_options=parse_table_options,
    description="Parquet: one row per answer, a typed column per label field (choice as a "
    "dictionary string, multi-choice and ranking as lists, spans and boxes as lists of "
    "structs), data columns as text, provenance as a struct; for pandas, Polars, DuckDB, Spark",
    option_help=OPTIONS,
)
