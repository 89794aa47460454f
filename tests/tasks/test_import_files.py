"""Images sent with a task file (``POST /api/projects/{id}/import`` with ``files`` parts, as
``labelhouse import --files DIR`` does from a folder): only the files rows refer to are
uploaded, the others are named in the answer. Real databases and storage."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from labelhouse.tasks.import_files import plan_media, unreferenced_sentence
from labelhouse.tasks.models import StoredFile
from tests.factories import make_project, text_rows, token_client
from tests.helpers_data import (
    BOXES_SCHEMA,
    count_rows,
    count_tasks,
    csv_bytes,
    detached,
    encode,
    error_of,
    jsonl_bytes,
    png_bytes,
    tasks_of,
)


@pytest.fixture
def boxes(db, owner):
    return make_project(db, owner, schema=BOXES_SCHEMA)


@pytest.fixture
def api(app, db, owner):
    return token_client(app, db, owner)


def post(api, project_id, tasks: bytes, filename: str, images: dict[str, bytes], **params):
    files = [("file", (filename, tasks, "application/octet-stream"))]
    files += [("files", (name, data, "application/octet-stream")) for name, data in images.items()]
    return api.post(f"/api/projects/{project_id}/import", params=params, files=files)


def test_only_referenced_files_are_uploaded_and_the_rest_are_named(db, api, boxes):
    rows = [{"image": "a.png"}, {"data": {"image": "c.png"}, "external_id": "c"}]
    images = {"a.png": png_bytes(40, 30), "b.png": png_bytes(), "notes.txt": b"not an image"}
    images["c.png"] = png_bytes(10, 10)
    r = post(api, boxes, jsonl_bytes(rows), "t.jsonl", images)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["created"] == 2
    assert body["uploaded_files"] == ["a.png", "c.png"]
    assert body["unreferenced_files"] == ["b.png", "notes.txt"]
    stored = detached(db, select(StoredFile).order_by(StoredFile.name))
    assert [s.name for s in stored] == ["a.png", "c.png"]
    assert tasks_of(db, boxes)[0].data == {"image": "a.png", "image_width": 40, "image_height": 30}


def test_a_referenced_file_that_is_not_an_image_stores_nothing(db, api, boxes):
    rows = [{"image": "a.png"}, {"image": "notes.txt"}]
    images = {"a.png": png_bytes(), "notes.txt": b"not an image"}
    r = post(api, boxes, jsonl_bytes(rows), "t.jsonl", images)
    assert r.status_code == 422
    assert "'notes.txt' is not a readable image" in error_of(r)["message"]
    assert count_rows(db, StoredFile) == 0
    assert count_tasks(db, boxes) == 0


@pytest.mark.parametrize("fmt", ["json", "csv", "parquet"])
def test_references_are_found_in_every_format(db, api, boxes, fmt):
    rows = [{"image": "a.png", "external_id": "1"}, {"image": "b.png", "external_id": "2"}]
    data = csv_bytes(rows) if fmt == "csv" else encode(rows, fmt)
    images = {"a.png": png_bytes(), "b.png": png_bytes(), "z.png": png_bytes()}
    r = post(api, boxes, data, f"t.{fmt}", images)
    assert r.status_code == 200, r.text
    assert (r.json()["uploaded_files"], r.json()["unreferenced_files"]) == (
        ["a.png", "b.png"],
        ["z.png"],
    )


def test_an_import_without_files_names_none(db, api, owner):
    pid = make_project(db, owner)
    r = api.post(f"/api/projects/{pid}/import", content=jsonl_bytes(text_rows(2)))
    assert r.status_code == 200, r.text
    assert (r.json()["uploaded_files"], r.json()["unreferenced_files"]) == ([], [])


def test_files_sent_to_a_project_without_media_are_all_unreferenced(db, api, owner):
    pid = make_project(db, owner)
    r = post(api, pid, jsonl_bytes(text_rows(2)), "t.jsonl", {"a.png": png_bytes()})
    assert r.status_code == 200, r.text
    assert (r.json()["uploaded_files"], r.json()["unreferenced_files"]) == ([], ["a.png"])
    assert count_rows(db, StoredFile) == 0


def test_plan_media_reads_the_task_file_and_rewinds_it(db, owner, boxes):
    stream = io.BytesIO(jsonl_bytes([{"image": "x y.png"}, {"text": "no image"}, [1]]))
    offered = {"x y.png": "source 1", "other.png": "source 2", "...": "source 3"}
    with db.read_session() as s:
        plan = plan_media(s, owner.actor, boxes, offered, stream, "jsonl")
    assert plan.upload == [("x y.png", "source 1")]
    assert plan.unreferenced == ["...", "other.png"]
    assert stream.tell() == 0


def test_unreferenced_sentence_lists_a_few_names():
    names = [f"f{i}.png" for i in range(25)]
    assert unreferenced_sentence(names, "DIR", shown=3) == (
        "25 files in DIR are not uploaded: no row refers to them: f0.png, f1.png, f2.png "
        "and 22 more"
    )
    assert unreferenced_sentence(["a"], "DIR") == (
        "1 file in DIR is not uploaded: no row refers to it: a"
    )


def test_too_many_files_are_refused_with_a_sentence(db, api, boxes, monkeypatch):
    from labelhouse.web.api import projects

    monkeypatch.setattr(projects, "MAX_IMPORT_FILES", 2)
    images = {f"{i}.png": png_bytes() for i in range(3)}
    r = post(api, boxes, jsonl_bytes([{"image": "0.png"}]), "t.jsonl", images)
    assert r.status_code == 400, r.text
    assert "Too many files" in error_of(r)["message"]
    assert count_rows(db, StoredFile) == 0
