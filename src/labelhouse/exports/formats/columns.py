"""Typed columns for the table formats (Parquet, Hugging Face): one row per answer, with the
task, its data, one column per label field typed by the field's kind, and provenance.

A kind's column type is looked up in :data:`KIND_COLUMNS` (a kind without an entry, e.g. one
added later, is written as JSON text, so a new kind never breaks these exports). Values
from an older schema version that no longer fit the field's type are written as null
rather than failing a long export half-way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from labelhouse.exports.formats.provenance import Provenance
from labelhouse.exports.formats.values import answers
from labelhouse.kinds._common import as_int, as_number

FIXED = ("task_id", "external_id", "provenance")
ROWS_PER_BATCH = 16_384  # one Parquet row group / Arrow record batch


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _texts(value: Any) -> list[str] | None:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else None


def _ints(value: Any) -> list[int] | None:
    if not isinstance(value, list):
        return None
    ranks = [as_int(v) for v in value]
    return None if any(r is None for r in ranks) else ranks  # type: ignore[return-value]


def _spans(value: Any) -> list[dict[str, Any]] | None:
    if not isinstance(value, list):
        return None
    return [
        {
            "start": as_int(s.get("start")),
            "end": as_int(s.get("end")),
            "label": _text(s.get("label")),
            "text": _text(s.get("text")),
        }
        for s in value
        if isinstance(s, dict)
    ]


def _boxes(value: Any) -> list[dict[str, Any]] | None:
    if not isinstance(value, list):
        return None
    return [
        {k: as_number(b.get(k)) for k in ("x", "y", "width", "height")}
        | {"label": _text(b.get("label"))}
        for b in value
        if isinstance(b, dict)
    ]


def _pairwise(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    return {"choice": _text(value.get("choice")), "strength": _text(value.get("strength"))}


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


@dataclass(frozen=True)
class KindColumn:
    """How one kind's answers become a column: the Arrow type and the value converter."""

    arrow: Any
    convert: Callable[[Any], Any]


@functools.cache
def kind_columns() -> dict[str, KindColumn]:
    """Per kind, its column (built on first use: pyarrow loads only for these exports)."""
    import pyarrow as pa

    label = pa.dictionary(pa.int32(), pa.string())
    span = pa.struct(
        [("start", pa.int64()), ("end", pa.int64()), ("label", pa.string()), ("text", pa.string())]
    )
    box = pa.struct(
        [(k, pa.float64()) for k in ("x", "y", "width", "height")] + [("label", pa.string())]
    )
    return {
        "choice": KindColumn(label, _text),
        "choices": KindColumn(pa.list_(pa.string()), _texts),
        "rating": KindColumn(pa.int64(), as_int),
        "spans": KindColumn(pa.list_(span), _spans),
        "boxes": KindColumn(pa.list_(box), _boxes),
        "pairwise": KindColumn(
            pa.struct([("choice", label), ("strength", pa.string())]), _pairwise
        ),
        "ranking": KindColumn(pa.list_(pa.int64()), _ints),
        "text": KindColumn(pa.string(), _text),
        "": KindColumn(pa.string(), _json),  # any other kind: JSON text
    }


def column_of(field: Any) -> KindColumn:
    columns = kind_columns()
    return columns.get(field.kind, columns[""])


def data_columns(data_keys: Iterable[str], field_names: Iterable[str]) -> dict[str, str]:
    """``{column name: data key}``: a data key is its own column unless a label field or a
    fixed column has that name, then it is ``data.<key>``."""
    taken = set(field_names) | set(FIXED)
    return {(f"data.{k}" if k in taken else k): k for k in data_keys}


def data_cell(value: Any) -> str | None:
    """Task data as text: strings as they are, other values as JSON text."""
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


@dataclass
class TableShape:
    """The columns of one export: what :func:`rows` writes and the Arrow schema they fit."""

    schema: Any  # the project's LabelSchema
    data_keys: list[str]
    source: str  # values=raw|consensus|reviewed
    provenance: Provenance

    def __post_init__(self) -> None:
        self.fields = list(self.schema.fields)
        self.data = data_columns(self.data_keys, [f.name for f in self.fields])

    def arrow_schema(self, field_types: Mapping[str, Any] | None = None) -> Any:
        """Parquet's schema; ``field_types`` overrides a label field's type (Hugging Face
        stores ClassLabel indices)."""
        import pyarrow as pa

        overrides = field_types or {}
        columns = [pa.field("task_id", pa.int64(), nullable=False), ("external_id", pa.string())]
        columns += [(name, pa.string()) for name in self.data]
        columns += [(f.name, overrides.get(f.name, column_of(f).arrow)) for f in self.fields]
        if self.provenance.enabled:
            columns.append(("provenance", self.provenance.arrow_type()))
        return pa.schema(columns)

    def rows(
        self,
        records: Iterable[Mapping[str, Any]],
        convert: Mapping[str, Callable[[Any], Any]] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """One row per answer (tasks without one write none)."""
        converters = {f.name: column_of(f).convert for f in self.fields} | dict(convert or {})
        prov = self.provenance
        for record in records:
            data = record["data"] or {}
            base = {"task_id": record["id"], "external_id": record["external_id"]}
            base |= {column: data_cell(data.get(key)) for column, key in self.data.items()}
            for answer in answers(record, self.source):
                row = dict(base)
                for name, convert_value in converters.items():
                    value = answer.value.get(name)
                    row[name] = None if value is None else convert_value(value)
                if prov.enabled:
                    row["provenance"] = prov.of(record, answer)
                yield row

    def batches(
        self,
        records: Iterable[Mapping[str, Any]],
        arrow_schema: Any,
        convert: Mapping[str, Callable[[Any], Any]] | None = None,
    ) -> Iterator[Any]:
        """The rows as Arrow record batches of :data:`ROWS_PER_BATCH` rows."""
        import pyarrow as pa

        buffer: list[dict[str, Any]] = []
        for row in self.rows(records, convert):
            buffer.append(row)
            if len(buffer) >= ROWS_PER_BATCH:
                yield pa.RecordBatch.from_pylist(buffer, schema=arrow_schema)
                buffer = []
        if buffer:
            yield pa.RecordBatch.from_pylist(buffer, schema=arrow_schema)
