"""What the TRL formats share (``trl_preference``, ``trl_kto``, ``trl_sft``): their common
options, reading prompts and responses from task data, and writing the rows as JSON lines
or one Parquet file.

Shapes follow TRL's dataset types: a *standard* row holds text (``"prompt": "…"``), a
*conversational* one lists of ``{"role", "content"}`` messages. A row is conversational when
its prompt is such a list in the task data; the answers then become assistant messages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeGuard

import orjson

from labelhouse.exports.formats import options as opts
from labelhouse.exports.formats import provenance
from labelhouse.exports.formats.options import OptionHelp
from labelhouse.exports.formats.values import VALUE_SOURCES, Answer, answers
from labelhouse.kinds._responses import parse_response
from labelhouse.kinds.conversation import looks_like_conversation, parse_conversation

LAYOUTS = ("jsonl", "parquet")
# TRL's own columns; any other column (task_id, provenance) is ours.
TEXT_COLUMNS = ("prompt", "chosen", "rejected", "completion")
ROWS_PER_GROUP = 16_384


def common_options(field_help: str, prompt_help: str) -> tuple[OptionHelp, ...]:
    return (
        OptionHelp("field", field_help, default="the schema's only such field"),
        OptionHelp(
            "values",
            "raw: every annotator's answer; consensus: one merged answer per task; "
            "reviewed: only what review settled",
            VALUE_SOURCES,
        ),
        OptionHelp("prompt", prompt_help, default="the field's prompt key"),
        OptionHelp(
            "layout",
            "jsonl: one JSON object per line; parquet: one Parquet file (the first row "
            "decides whether columns hold text or chat messages)",
            LAYOUTS,
        ),
        *provenance.OPTIONS,
    )


def parse_common(options: Mapping[str, str]) -> dict[str, Any]:
    return {
        "values": opts.choice(options, "values", VALUE_SOURCES),
        "layout": opts.choice(options, "layout", LAYOUTS),
    } | provenance.parse(options)


def file_kind(stem: str) -> Any:
    """``Format.file_kind`` of a TRL format: ``<stem>.jsonl``, or ``<stem>.parquet``."""

    def kind(options: Mapping[str, Any]) -> tuple[str, str]:
        if options.get("layout") == "parquet":
            return "application/vnd.apache.parquet", f"{stem}.parquet"
        return "application/x-ndjson", f"{stem}.jsonl"

    return kind


def is_messages(value: Any) -> TypeGuard[list[dict[str, Any]]]:
    """A chat: a non-empty list of ``{"role": str, "content": str}``."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(
            isinstance(m, dict)
            and isinstance(m.get("role"), str)
            and isinstance(m.get("content"), str)
            for m in value
        )
    )


def messages_of(value: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Only ``role`` and ``content`` of each message (the keys TRL's chat templates read)."""
    return [{"role": m["role"], "content": m["content"]} for m in value]


def prompt_of(data: Mapping[str, Any], key: str | None) -> str | list[dict[str, str]] | None:
    """The prompt in the task data: text, or a chat (messages, each message's content parts
    joined into its text, as ``kinds/conversation.py`` reads them); None if absent."""
    if key is None:
        return None
    value = data.get(key)
    if isinstance(value, str):
        return value
    if is_messages(value):
        return messages_of(value)
    if looks_like_conversation(value):
        try:
            messages = parse_conversation(value, key)
        except ValueError:
            return None  # import validated it; a broken task gives no row
        return [{"role": m.role, "content": m.text} for m in messages]
    return None


def text_of(raw: Any) -> str | None:
    """A response's text: a string, or an object with ``text``/``content``."""
    try:
        return parse_response(raw).text
    except ValueError:
        return None


def reply(text: str, chat: bool) -> str | list[dict[str, str]]:
    """An answer in the row's style: text, or one assistant message."""
    return [{"role": "assistant", "content": text}] if chat else text


class Rows:
    """Turns the records into rows of one TRL format; subclasses say which rows a task's
    answer gives (:meth:`examples`) and its TRL columns (for an empty Parquet file)."""

    columns: tuple[str, ...] = ()

    def __init__(self, field_names: list[str], options: Mapping[str, Any]) -> None:
        self.options = options
        self.source = options.get("values", "raw")
        self.provenance = provenance.Provenance.from_options(field_names, options)

    def examples(self, data: Mapping[str, Any], answer: Answer) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    def rows(self, records: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
        prov = self.provenance
        for record in records:
            data = record["data"] or {}
            for answer in answers(record, self.source):
                for row in self.examples(data, answer):
                    if prov.enabled:
                        row["task_id"] = record["id"]
                        row["provenance"] = prov.of(record, answer)
                    yield row


def format_spec(
    rows: Callable[[Any, list[str], Mapping[str, Any]], Rows],
    stem: str,
    *,
    parse_options: Callable[[Any, Mapping[str, str]], dict[str, Any]],
    option_help: tuple[OptionHelp, ...],
    description: str,
) -> dict[str, Any]:
    """The ``Format`` arguments of a TRL format whose rows ``rows(schema, field_names,
    options)`` makes: JSON lines ``<stem>.jsonl`` (or Parquet with ``layout=parquet``)."""

    def write(
        records: Iterable[dict[str, Any]],
        *,
        schema: Any,
        field_names: list[str],
        options: Mapping[str, Any],
        **_: Any,
    ) -> Iterator[bytes]:
        return write_rows(rows(schema, field_names, options), records)

    return dict(
        write=write,
        media_type="application/x-ndjson",
        extension=f"{stem}.jsonl",
        raw_json=False,
        parse_options=parse_options,
        description=description,
        option_help=option_help,
        file_kind=file_kind(stem),
    )


def write_rows(rows: Rows, records: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """The rows as JSON lines, or (``layout=parquet``) as one Parquet file."""
    produced = rows.rows(records)
    if rows.options.get("layout") != "parquet":
        dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
        return _chunked(dumps(row, option=newline) for row in produced)
    return _parquet(rows, produced)


def _chunked(pieces: Iterator[bytes], size: int = 256 * 1024) -> Iterator[bytes]:
    """Lines gathered into chunks of about ``size`` bytes (fewer writes and HTTP frames)."""
    buffer: list[bytes] = []
    held = 0
    for piece in pieces:
        buffer.append(piece)
        held += len(piece)
        if held >= size:
            yield b"".join(buffer)
            buffer, held = [], 0
    if buffer:
        yield b"".join(buffer)


def _column_type(name: str, value: Any, rows: Rows) -> Any:
    import pyarrow as pa

    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    if name == "provenance":
        return rows.provenance.arrow_type()
    if name in TEXT_COLUMNS:
        return pa.list_(message) if isinstance(value, list) else pa.string()
    if name == "messages":
        return pa.list_(message)
    if name in ("label", "tie"):
        return pa.bool_()
    return pa.int64()  # task_id


def _parquet(rows: Rows, produced: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    import pyarrow as pa

    from labelhouse.exports.formats.parquet import parquet_bytes

    first = next(produced, None)
    if first is None:  # an empty file still has the format's columns
        schema = pa.schema([(c, _column_type(c, "", rows)) for c in rows.columns])
        yield from parquet_bytes((), schema)
        return
    schema = pa.schema([(name, _column_type(name, value, rows)) for name, value in first.items()])

    def batches() -> Iterator[Any]:
        buffer = [first]
        for row in produced:
            buffer.append(row)
            if len(buffer) >= ROWS_PER_GROUP:
                yield pa.RecordBatch.from_pylist(buffer, schema=schema)
                buffer = []
        yield pa.RecordBatch.from_pylist(buffer, schema=schema)

    yield from parquet_bytes(batches(), schema)
