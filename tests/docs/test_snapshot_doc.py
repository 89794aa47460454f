"""The manifest shown in docs/export.md has the shape of a real one: the same keys at every
level, the same types."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson

from labelhouse.jobs.exports import request_snapshot
from labelhouse.jobs.models import Snapshot
from tests.factories import add_tasks, make_project, text_rows

DOC = Path(__file__).resolve().parents[2] / "docs" / "export.md"


def documented() -> dict[str, Any]:
    blocks = re.findall(r"```json\n(\{\n  \"manifest_version\".*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 1
    return orjson.loads(blocks[0])  # type: ignore[no-any-return]


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def test_the_documented_manifest_is_a_real_ones_shape(app, db, owner):
    pid = make_project(db, owner, name="Reviews")
    add_tasks(db, owner, pid, text_rows(3))
    with db.session() as s:
        snapshot, job = request_snapshot(
            s, owner.actor, pid, formats=["jsonl", "csv"], content="both", name="Round 1"
        )
    assert app.state.jobs.run(job.id) == "succeeded"
    with db.read_session() as s:
        real = s.get(Snapshot, snapshot.id).manifest
    real["counts"]["annotation_schema_versions"] = [1]  # none answered here
    doc = documented()
    assert shape(doc) == shape(real)
