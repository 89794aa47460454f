"""The fixtures Label Studio 1.23 generated (tests/fixtures/label_studio, see its README)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from labelhouse.interop.label_studio.config import Conversion, parse_config
from labelhouse.interop.label_studio.reader import Converted, ReadReport, read_export

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "label_studio"
PROJECTS = ("classification", "ner", "boxes", "pairwise", "ranker")
EMAILS = json.loads((FIXTURES / "generated_by.json").read_text())["users"]


def config_text(name: str) -> str:
    return (FIXTURES / f"{name}.config.xml").read_text()


def export_path(name: str) -> Path:
    return FIXTURES / f"{name}.export.json"


def export_json(name: str) -> list[dict[str, Any]]:
    return json.loads(export_path(name).read_text())


def conversion(name: str) -> Conversion:
    return parse_config(config_text(name))


def read(name: str, export: str | None = None) -> tuple[list[Converted], ReadReport]:
    report = ReadReport()
    with (FIXTURES / (export or f"{name}.export.json")).open("rb") as stream:
        rows = list(read_export(stream, conversion(name), report))
    return rows, report
