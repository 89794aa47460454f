"""A Hugging Face dataset (``datasets.load_from_disk``), downloaded as a zip of the
``save_to_disk`` directory (``dataset/``).

The rows are those of the Parquet export (``columns.py``) with ``datasets`` features: a
choice field is a ``ClassLabel`` with the schema's option values as names (so ``int2str``
gives the label back), a multi-choice field a list of ``ClassLabel``, a pairwise choice a
``ClassLabel`` of ``A``/``B``/``tie``, spans and boxes lists of dicts. Record batches are
written to an Arrow file in a temporary directory as they come (memory stays at one batch),
loaded memory-mapped and saved with ``save_to_disk``; the directory is streamed as a zip and
then removed. ``datasets`` is optional: the ``ml`` extra.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from labelhouse.errors import InvalidInput, Problem
from labelhouse.exports.archive import zip_stream
from labelhouse.exports.formats.columns import TableShape, column_of
from labelhouse.exports.formats.parquet import OPTIONS, parse_table_options, shape_of

FOLDER = "dataset"
READ_CHUNK = 1024 * 1024


def parse_options(schema: Any, options: Mapping[str, str]) -> dict[str, Any]:
    if importlib.util.find_spec("datasets") is None:
        raise InvalidInput(
            "The hf_dataset format needs the Hugging Face datasets library on the server: "
            "pip install 'labelhouse[ml]'.",
            [Problem("format", "install labelhouse[ml], or export parquet instead")],
        )
    return parse_table_options(schema, options)


def _class_index(names: list[str]) -> Callable[[Any], int | None]:
    index = {name: i for i, name in enumerate(names)}
    return lambda value: index.get(value) if isinstance(value, str) else None


def _class_indices(to_index: Callable[[Any], int | None]) -> Callable[[Any], Any]:
    def convert(value: Any) -> list[int] | None:
        if not isinstance(value, list):
            return None
        return [i for i in map(to_index, value) if i is not None]

    return convert


SIDES = ("A", "B", "tie")
_side = _class_index(list(SIDES))


def _pairwise(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    return {"choice": _side(value.get("choice")), "strength": value.get("strength")}


def _features(shape: TableShape) -> tuple[Any, dict[str, Callable[[Any], Any]]]:
    """The ``datasets`` features of the export and the converters the ClassLabel columns
    need (option value → index; a value no longer in the schema becomes null)."""
    from datasets import ClassLabel, Features, List, Value
    from datasets.features.features import generate_from_arrow_type

    features: dict[str, Any] = {"task_id": Value("int64"), "external_id": Value("string")}
    features |= {column: Value("string") for column in shape.data}
    convert: dict[str, Callable[[Any], Any]] = {}
    for field in shape.fields:
        if field.kind in ("choice", "choices"):
            names = [o.value for o in field.options]
            to_index = _class_index(names)
            if field.kind == "choice":
                features[field.name] = ClassLabel(names=names)
                convert[field.name] = to_index
            else:
                features[field.name] = List(ClassLabel(names=names))
                convert[field.name] = _class_indices(to_index)
        elif field.kind == "pairwise":
            features[field.name] = {
                "choice": ClassLabel(names=list(SIDES)),
                "strength": Value("string"),
            }
            convert[field.name] = _pairwise
        else:
            features[field.name] = generate_from_arrow_type(column_of(field).arrow)
    if shape.provenance.enabled:
        features["provenance"] = shape.provenance.hf_feature()
    return Features(features), convert


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(READ_CHUNK):
            yield chunk


def write_hf_dataset(
    records: Iterable[dict[str, Any]],
    *,
    schema: Any,
    data_keys: list[str],
    field_names: list[str],
    options: Mapping[str, Any],
    **_: Any,
) -> Iterator[bytes]:
    shape = shape_of(schema, data_keys, field_names, options)

    def stream() -> Iterator[bytes]:
        import datasets
        import pyarrow as pa

        datasets.disable_progress_bars()  # a server has no terminal to draw them on
        features, convert = _features(shape)
        arrow_schema = features.arrow_schema
        work = Path(tempfile.mkdtemp(prefix="labelhouse-hf-"))
        try:
            rows_file = work / "rows.arrow"
            with (
                pa.OSFile(str(rows_file), "wb") as sink,
                pa.ipc.new_stream(sink, arrow_schema) as writer,
            ):
                for batch in shape.batches(records, arrow_schema, convert):
                    writer.write_batch(batch)
            saved = work / FOLDER
            dataset = datasets.Dataset.from_file(
                str(rows_file), info=datasets.DatasetInfo(features=features)
            )
            dataset.save_to_disk(str(saved))
            del dataset
            _fingerprint_from_content(saved)
            members = [
                (f"{FOLDER}/{path.relative_to(saved).as_posix()}", _file_chunks(path))
                for path in sorted(saved.rglob("*"))
                if path.is_file()
            ]
            yield from zip_stream(members)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    return stream()


def _fingerprint_from_content(saved: Path) -> None:
    """``save_to_disk`` records a fingerprint drawn from the temporary file's path (random
    per export) in ``state.json``: replaced by a hash of the saved data files, so the same
    rows always give the same bytes (snapshots are rebuilt and compared byte for byte)."""
    state_path = saved / "state.json"
    state = json.loads(state_path.read_text())
    digest = hashlib.sha256()
    for entry in state.get("_data_files", []):
        digest.update((saved / entry["filename"]).read_bytes())
    state["_fingerprint"] = digest.hexdigest()[:16]
    state_path.write_text(json.dumps(state, indent=2, sort_keys=True))


SPEC: dict[str, Any] = dict(
    write=write_hf_dataset,
    media_type="application/zip",
    extension="hf.zip",
    raw_json=False,
    parse_options=parse_options,
    description="Hugging Face dataset: a zip of a save_to_disk folder (dataset/) for "
    "datasets.load_from_disk; the Parquet rows with ClassLabel names for choice fields and "
    "lists for multi-choice and spans (needs labelhouse[ml] on the server)",
    option_help=OPTIONS,
)
