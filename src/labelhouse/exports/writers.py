"""Format writers: each turns an iterator of export records into an iterator of bytes.

Pure functions over plain data, so they stream and are testable without a database.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

# Format modules import only exports/formats/ modules (never this one: it imports them
# for its registry).
from labelhouse.exports.formats import (
    coco,
    conll,
    hf_dataset,
    parquet,
    spacy_docbin,
    trl_kto,
    trl_preference,
    trl_sft,
    voc,
    yolo,
)
from labelhouse.exports.formats.options import OptionHelp

CHUNK = 256 * 1024


def _chunked(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Coalesce small pieces into ~256 KB chunks (fewer syscalls and HTTP frames)."""
    buffer: list[bytes] = []
    size = 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= CHUNK:
            yield b"".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield b"".join(buffer)


def write_jsonl(records: Iterable[dict[str, Any]], **_: Any) -> Iterator[bytes]:
    dumps = orjson.dumps
    newline = orjson.OPT_APPEND_NEWLINE
    return _chunked(dumps(r, option=newline) for r in records)


def write_json(records: Iterable[dict[str, Any]], **_: Any) -> Iterator[bytes]:
    def pieces() -> Iterator[bytes]:
        yield b"["
        first = True
        for r in records:
            yield (b"\n" if first else b",\n") + orjson.dumps(r)
            first = False
        yield b"\n]\n"

    return _chunked(pieces())


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str | int | float):
        return value
    return orjson.dumps(value).decode()


CSV_FORMULAS = ("escape", "keep")
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV
# Injection"): task text, ids, notes and choice values are whatever people typed or imported.
FORMULA_STARTS = frozenset("=+-@\t\r")
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise_formula(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, with a ``'`` before it (which
    spreadsheets take as "this is text" and do not show); a plain number such as ``-3`` or
    ``+1.5`` is left as it is, and so is everything that is not text."""
    if type(value) is str and value[:1] in FORMULA_STARTS and not PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def _neutralised_cell(value: Any) -> Any:
    return neutralise_formula(_cell(value))


def write_csv(
    records: Iterable[dict[str, Any]],
    *,
    field_names: list[str],
    data_keys: list[str],
    consensus: bool = False,
    csv_formulas: str = "escape",
    **_: Any,
) -> Iterator[bytes]:
    """One row per annotation (tasks without annotations get one row with empty answers).

    Columns: task and data columns (``data.<key>``), annotation metadata, one column per
    schema field (JSON for structured values), ``data.extra`` for data keys outside the
    known set (so nothing is lost), ``predictions`` as JSON, then the task's reviewed value:
    ``review.decision``, ``review.reviewer_id``, ``review.reviewed_at`` and
    ``review.<field>`` per field (empty for unreviewed tasks). With ``consensus``, two more
    columns per field — ``consensus.<field>`` and ``consensus.<field>.confidence``. Review
    and consensus cells repeat on each of the task's rows (records without annotations: one
    row per task).

    Every cell of people's text (external ids, data values, answers, reviewed and consensus
    values) that a spreadsheet would run as a formula is neutralised
    (:func:`neutralise_formula`) unless ``csv_formulas`` is ``"keep"``, for programs that
    read the file and want the values exactly. The other cells cannot start so: numbers,
    times, statuses, JSON objects and lists, and headers built from field names.
    """
    text = _cell if csv_formulas == "keep" else _neutralised_cell
    review_header = ["review.decision", "review.reviewer_id", "review.reviewed_at"] + [
        f"review.{name}" for name in field_names
    ]

    def review_cells(record: dict[str, Any]) -> list[Any]:
        reviewed = record.get("review")
        if not reviewed:
            return [""] * len(review_header)
        value = reviewed["value"] or {}
        return [
            reviewed["decision"],
            _cell(reviewed["reviewer_id"]),
            reviewed["reviewed_at"],
        ] + [text(value.get(name)) for name in field_names]

    consensus_header = (
        [
            column
            for name in field_names
            for column in (f"consensus.{name}", f"consensus.{name}.confidence")
        ]
        if consensus
        else []
    )

    def consensus_cells(record: dict[str, Any]) -> list[Any]:
        if not consensus:
            return []
        merged = record.get("consensus") or {}
        cells: list[Any] = []
        for name in field_names:
            c = merged.get(name)
            cells += [text(c["value"]), _cell(c["confidence"])] if c else ["", ""]
        return cells

    def rows() -> Iterator[bytes]:
        out = io.StringIO()
        write = csv.writer(out, lineterminator="\n").writerow
        # Python's csv module quotes a cell holding a lone CR only if the line terminator has
        # one (else the cell would end the row for a reader): such rows are written with CRLF
        # and end in LF again.
        cr_out = io.StringIO()
        write_cr = csv.writer(cr_out, lineterminator="\r\n").writerow

        def writerow(row: list[Any]) -> None:
            if any(type(c) is str and "\r" in c for c in row):
                cr_out.seek(0)
                cr_out.truncate()
                write_cr(row)
                out.write(cr_out.getvalue()[:-2] + "\n")
            else:
                write(row)

        header = (
            ["task_id", "external_id"]
            + [f"data.{k}" for k in data_keys]
            + ["data.extra", "annotation_id", "annotator_id", "status", "schema_version"]
            + ["lead_time_ms", "created_at", "updated_at"]
            + field_names
            + ["predictions"]
            + review_header
            + consensus_header
        )
        writerow(header)
        known = set(data_keys)
        for r in records:
            data = r["data"]
            extra = {k: v for k, v in data.items() if k not in known}
            base = [r["id"], text(r["external_id"])] + [text(data.get(k)) for k in data_keys]
            base.append(_cell(extra) if extra else "")
            predictions = _cell(r["predictions"]) if r["predictions"] else ""
            annotations = r.get("annotations") or [None]
            merged = review_cells(r) + consensus_cells(r)
            for a in annotations:
                if a is None:
                    writerow(base + [""] * 7 + [""] * len(field_names) + [predictions] + merged)
                    continue
                value = a["value"]
                writerow(
                    base
                    + [a["id"], a["annotator_id"], a["status"], a["schema_version"]]
                    + [a["lead_time_ms"], a["created_at"], a["updated_at"]]
                    + [text(value.get(name)) for name in field_names]
                    + [predictions]
                    + merged
                )
            if out.tell() >= CHUNK:
                yield out.getvalue().encode()
                out.seek(0)
                out.truncate()
        yield out.getvalue().encode()

    return rows()


Writer = Callable[..., Iterator[bytes]]
# Checks a format's own options (and whether the project's schema suits the format) and
# returns them typed; raises InvalidInput naming the option or field. Options arrive as
# text (query parameters, CLI ``--option name=value``).
OptionParser = Callable[[Any, Mapping[str, str]], dict[str, Any]]


def no_options(schema: Any, options: Mapping[str, str]) -> dict[str, Any]:
    """The option parser of formats that take none: any option is an error."""
    if options:
        from labelhouse.errors import InvalidInput, Problem

        raise InvalidInput(
            "This export format takes no options.",
            [Problem(name, "not an option of this format") for name in sorted(options)],
        )
    return {}


@dataclass(frozen=True)
class Format:
    """An export format. ``write(records, *, field_names, data_keys, consensus,
    csv_formulas, schema, options)`` returns the file's bytes as an iterator (a format
    of several files streams a zip archive, ``exports/archive.py``); ``options`` is what
    ``parse_options`` returned."""

    write: Writer
    media_type: str
    extension: str
    raw_json: bool  # whether the writer takes JSON values as pre-encoded orjson.Fragments
    parse_options: OptionParser = no_options
    description: str = ""
    # The options ``parse_options`` accepts, declared for the export page (it offers each
    # format's options generically) and the docs.
    option_help: tuple[OptionHelp, ...] = ()
    # When an option changes the file's kind (e.g. ``layout=parquet``): the media type and
    # extension for the parsed options; None keeps ``media_type`` and ``extension``.
    file_kind: Callable[[Mapping[str, Any]], tuple[str, str]] | None = None

    def media_type_for(self, options: Mapping[str, Any]) -> str:
        return self.file_kind(options)[0] if self.file_kind else self.media_type

    def extension_for(self, options: Mapping[str, Any]) -> str:
        return self.file_kind(options)[1] if self.file_kind else self.extension


FORMATS: dict[str, Format] = {
    "jsonl": Format(write_jsonl, "application/x-ndjson", "jsonl", raw_json=True),
    "json": Format(write_json, "application/json", "json", raw_json=True),
    "csv": Format(write_csv, "text/csv; charset=utf-8", "csv", raw_json=False),
    # training formats (exports/formats)
    "parquet": Format(**parquet.SPEC),
    "hf_dataset": Format(**hf_dataset.SPEC),
    "trl_preference": Format(**trl_preference.SPEC),
    "trl_kto": Format(**trl_kto.SPEC),
    "trl_sft": Format(**trl_sft.SPEC),
    # vision and NLP formats (exports/formats)
    "coco": Format(
        coco.write_coco,
        "application/json",
        "coco.json",
        raw_json=False,
        parse_options=coco.parse_options,
        description=coco.DESCRIPTION,
        option_help=coco.OPTION_HELP,
    ),
    "yolo": Format(
        yolo.write_yolo,
        "application/zip",
        "yolo.zip",
        raw_json=False,
        parse_options=yolo.parse_options,
        description=yolo.DESCRIPTION,
        option_help=yolo.OPTION_HELP,
    ),
    "voc": Format(
        voc.write_voc,
        "application/zip",
        "voc.zip",
        raw_json=False,
        parse_options=voc.parse_options,
        description=voc.DESCRIPTION,
        option_help=voc.OPTION_HELP,
    ),
    "spacy": Format(
        spacy_docbin.write_spacy,
        "application/octet-stream",
        "spacy",
        raw_json=False,
        parse_options=spacy_docbin.parse_options,
        description=spacy_docbin.DESCRIPTION,
        option_help=spacy_docbin.OPTION_HELP,
        file_kind=spacy_docbin.file_kind,
    ),
    "conll": Format(
        conll.write_conll,
        "text/plain; charset=utf-8",
        "conll",
        raw_json=False,
        parse_options=conll.parse_options,
        description=conll.DESCRIPTION,
        option_help=conll.OPTION_HELP,
    ),
}

# Label Studio (interop)
from labelhouse.interop.label_studio import writer as _ls  # noqa: E402

FORMATS["label_studio"] = Format(
    _ls.write_label_studio, "application/json", "json", False, _ls.parse_options
)
