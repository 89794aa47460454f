"""Test data builders shared by the import, annotation, export and CLI tests."""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image
from sqlalchemy import func, select

from labelhouse.db.engine import Database
from labelhouse.tasks.models import Prediction, Task, TaskImport

# A label and optional tags over "text": the export tests' project.
LABEL_AND_TAGS_SCHEMA = {
    "fields": [
        {
            "name": "label",
            "kind": "choice",
            "reads": ["text"],
            "options": [{"value": "pos"}, {"value": "neg"}, {"value": "neu"}],
        },
        {
            "name": "tags",
            "kind": "choices",
            "reads": ["text"],
            "options": [{"value": "a"}, {"value": "b"}],
            "required": False,
        },
    ]
}


BOXES_SCHEMA = {
    "fields": [
        {
            "name": "objects",
            "kind": "boxes",
            "image": "image",
            "labels": [{"value": "cat"}, {"value": "dog"}],
        }
    ]
}

# One field of every kind but boxes (which needs uploaded images), all reading one task.
MULTI_SCHEMA = {
    "fields": [
        {
            "name": "label",
            "kind": "choice",
            "reads": ["text"],
            "options": [{"value": "pos"}, {"value": "neg"}],
        },
        {
            "name": "tags",
            "kind": "choices",
            "reads": ["text"],
            "options": [{"value": "a"}, {"value": "b"}, {"value": "c"}],
            "required": False,
        },
        {
            "name": "entities",
            "kind": "spans",
            "source": "text",
            "labels": [{"value": "PER"}, {"value": "LOC"}],
            "required": False,
        },
        {"name": "note", "kind": "text", "max_length": 20, "required": False},
        {"name": "quality", "kind": "rating", "min": 1, "max": 5, "required": False},
        {"name": "preference", "kind": "pairwise", "required": False},
        {"name": "order", "kind": "ranking", "required": False},
    ]
}
MULTI_TASK = {
    "text": "Ada met Bob in Paris",  # 20 characters
    "prompt": "Say hi",
    "responses": ["hi", "hello"],
}


def jsonl_bytes(rows: list[Any]) -> bytes:
    return b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows)


def json_bytes(rows: list[Any]) -> bytes:
    return orjson.dumps(rows)


def csv_bytes(rows: list[dict[str, Any]], json_columns: tuple[str, ...] = ()) -> bytes:
    """CSV with a header from the first row's keys; ``json_columns`` become ``key:json``."""
    out = io.StringIO()
    keys = list(rows[0])
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([f"{k}:json" if k in json_columns else k for k in keys])
    for r in rows:
        writer.writerow(
            [orjson.dumps(r.get(k)).decode() if k in json_columns else r.get(k, "") for k in keys]
        )
    return out.getvalue().encode()


def parquet_bytes(rows: list[dict[str, Any]]) -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), out)
    return out.getvalue()


def encode(rows: list[dict[str, Any]], fmt: str) -> bytes:
    return {"jsonl": jsonl_bytes, "json": json_bytes, "csv": csv_bytes, "parquet": parquet_bytes}[
        fmt
    ](rows)


def png_bytes(
    width: int = 8, height: int = 6, color: tuple[int, int, int] = (200, 10, 10)
) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def count_tasks(db: Database, project_id: int | None = None) -> int:
    query = select(func.count()).select_from(Task)
    if project_id is not None:
        query = query.where(Task.project_id == project_id)
    with db.read_session() as s:
        return s.scalar(query)


def count_rows(db: Database, model: Any) -> int:
    with db.read_session() as s:
        return s.scalar(select(func.count()).select_from(model))


def detached(db: Database, query: Any) -> list[Any]:
    """Rows loaded and detached, so they stay readable after the read session's rollback."""
    with db.read_session() as s:
        items = list(s.scalars(query))
        s.expunge_all()
    return items


def tasks_of(db: Database, project_id: int) -> list[Task]:
    return detached(db, select(Task).where(Task.project_id == project_id).order_by(Task.id))


def imports_of(db: Database, project_id: int) -> list[TaskImport]:
    return detached(
        db, select(TaskImport).where(TaskImport.project_id == project_id).order_by(TaskImport.id)
    )


def predictions_of(db: Database, task_id: int) -> list[Prediction]:
    return detached(
        db, select(Prediction).where(Prediction.task_id == task_id).order_by(Prediction.id)
    )


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert "error" in body, body
    return body["error"]


def flat(text: str) -> str:
    """Collapse whitespace (rich wraps long console lines)."""
    return " ".join(text.split())
