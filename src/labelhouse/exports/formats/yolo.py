"""YOLO (Ultralytics) detection labels from a boxes field, as a zip archive.

Members, in this order:

- ``labels/<stem>.txt`` per labelled image: one line per box, ``class x_center y_center
  width height``, normalised to 0–1 by the image's size, 6 decimals. An image answered
  with no boxes gets an empty file (a background image for Ultralytics). The stem starts
  with the task id (``17_cat``), so two tasks showing images of the same name never share a
  file. With raw values each answer is its own labelled image (``17_cat_a42``: annotation
  42), as Ultralytics has no notion of several annotators; consensus and reviewed values
  give one file per task.
- ``images.txt`` (option ``images=list``): one line per label file, the path its image
  must have in the dataset (``images/17_cat.png``, Ultralytics finds labels by swapping
  ``images`` for ``labels``), a tab, and the image's reference in Labelhouse (tab, newline
  and backslash written as ``\\t``, ``\\n``, ``\\\\``).
- ``data.yaml``: ``path`` (the folder the archive is unpacked in), ``train`` and ``val``
  (both ``images``: splitting is the trainer's choice), ``names`` as a mapping ``{0: cat,
  1: dog}`` in the field's label order. Written last, with ``labelhouse.not_written``
  counting what could not be written (see ``_vision.py``).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import yaml

from labelhouse.exports.archive import zip_stream
from labelhouse.exports.formats import options as opts
from labelhouse.exports.formats._options import FIELD_HELP, VALUES_HELP, common
from labelhouse.exports.formats._vision import Box, Image, label_names, labelled
from labelhouse.exports.formats.options import OptionHelp
from labelhouse.exports.formats.values import VALUE_SOURCES

DESCRIPTION = (
    "YOLO (Ultralytics) detection labels: a zip of labels/<image>.txt with normalised "
    "boxes and data.yaml"
)
IMAGES = ("none", "list")
SPOOL_BYTES = 4 * 1024 * 1024
OPTION_HELP: tuple[OptionHelp, ...] = (
    OptionHelp("field", FIELD_HELP),
    OptionHelp("values", VALUES_HELP, choices=VALUE_SOURCES),
    OptionHelp(
        "images",
        "list: add images.txt, where each image goes and its reference (default none)",
        choices=("none", "list"),
    ),
)


def parse_options(schema: Any, options: Mapping[str, str]) -> dict[str, Any]:
    parsed = common(schema, options, "boxes", "YOLO", ("images",))
    parsed["images"] = opts.choice(options, "images", IMAGES)
    return parsed


def line(box: Box, image: Image) -> str:
    """One label line: class and the box's centre and size as fractions of the image."""
    cx = (box.x + box.width / 2) / image.width
    cy = (box.y + box.height / 2) / image.height
    w, h = box.width / image.width, box.height / image.height
    return f"{box.class_index} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n"


def _escaped(reference: str) -> str:
    return (
        reference.replace("\\", "\\\\")
        .replace("\t", "\\t")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
    )


def write_yolo(
    records: Iterable[dict[str, Any]], *, schema: Any, options: Mapping[str, Any], **_: Any
) -> Iterator[bytes]:
    field = schema.field(options["field"])
    counts: Counter[str] = options.get("counts", Counter())
    wants_list = options.get("images") == "list"

    def members() -> Iterator[tuple[str, Iterable[bytes]]]:
        # images.txt comes after the labels: its lines wait in a spooled file (memory up
        # to SPOOL_BYTES, then disk), not in a list that grows with the project.
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as listed:
            yield from labels_then_list(listed)

    def labels_then_list(listed: Any) -> Iterator[tuple[str, Iterable[bytes]]]:
        written = 0
        for record in records:
            for image, answer, boxes in labelled(record, field, options["values"], counts):
                stem = image.stem
                if answer.annotation is not None:
                    stem += f"_a{answer.annotation['id']}"
                written += 1
                if wants_list:
                    where = f"images/{stem}{image.suffix}\t{_escaped(image.reference)}\n"
                    listed.write(where.encode())
                yield f"labels/{stem}.txt", ["".join(line(box, image) for box in boxes).encode()]
        if wants_list:
            listed.seek(0)
            yield "images.txt", iter(lambda: listed.read(256 * 1024), b"")
        data = {
            "path": ".",
            "train": "images",
            "val": "images",
            "names": dict(enumerate(label_names(field))),
            "labelhouse": {
                "field": field.name,
                "values": options["values"],
                "labelled_images": written,
                "not_written": dict(sorted(counts.items())),
            },
        }
        yield "data.yaml", [yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode()]

    return zip_stream(members())
