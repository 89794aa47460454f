"""YOLO export checked by Ultralytics' rules (the package itself is too heavy to install):
values 0–1 with 6 decimals, class ids below len(names), one line per box, names as a
mapping in data.yaml, stems unique per task; raw and consensus values."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
import yaml
from sqlalchemy import select

from labelhouse.annotations.models import Annotation
from tests.exports.formats.worlds import CAT, DOG, SIZES, TASKS, boxes_world
from tests.factories import login, make_project
from tests.helpers_data import error_of

LINE = re.compile(r"^(\d+)( (?:0|1)\.\d{6}){4}$")


@pytest.fixture
def world(app, db, owner):
    return boxes_world(app, db, owner)


def export(app, world, **params):
    r = login(app, world.owner).get(
        f"/api/projects/{world.pid}/export", params={"format": "yolo", **params}
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(r.content)), r.content


def labels(archive):
    """{stem: [(class, cx, cy, w, h), ...]} from labels/*.txt, every line checked."""
    data = yaml.safe_load(archive.read("data.yaml"))
    out = {}
    for name in archive.namelist():
        if not name.startswith("labels/"):
            continue
        assert name.endswith(".txt")
        rows = []
        for line in archive.read(name).decode().splitlines():
            assert LINE.match(line), line
            cls, *numbers = line.split()
            assert int(cls) < len(data["names"])
            values = [float(n) for n in numbers]
            assert all(0 <= v <= 1 for v in values)
            cx, cy, w, h = values
            assert w > 0 and h > 0
            assert cx - w / 2 >= -1e-6 and cx + w / 2 <= 1 + 1e-6
            assert cy - h / 2 >= -1e-6 and cy + h / 2 <= 1 + 1e-6
            rows.append((int(cls), *values))
        out[name.removeprefix("labels/").removesuffix(".txt")] = rows
    return data, out


def expected(box, size):
    w, h = size
    x1, y1 = min(w, box["x"] + box["width"]), min(h, box["y"] + box["height"])
    bw, bh = x1 - box["x"], y1 - box["y"]
    cls = [CAT, DOG].index(box["label"])
    return (cls, (box["x"] + bw / 2) / w, (box["y"] + bh / 2) / h, bw / w, bh / h)


def test_raw_labels_one_file_per_answer_with_task_ids_in_the_stems(app, world):
    archive, body = export(app, world, images="list")
    data, found = labels(archive)
    assert data["names"] == {0: CAT, 1: DOG}
    assert (data["path"], data["train"], data["val"]) == (".", "images", "images")
    assert data["labelhouse"]["not_written"] == {}
    assert archive.namelist()[-2:] == ["images.txt", "data.yaml"]
    images = {ext: image for ext, image in TASKS}
    answers = answer_ids(world)
    stems = {}
    for annotator, given in world.answers.items():
        for ext, boxes in given.items():
            task = world.task_ids[ext]
            stem = f"{task}_{images[ext].removesuffix('.png')}_a{answers[task, annotator]}"
            stems[stem] = ext
            size = SIZES[images[ext]]
            assert len(found[stem]) == len(boxes)  # one line per box; [] gives an empty file
            want = sorted(expected(b, size) for b in boxes)
            assert sorted(found[stem]) == [pytest.approx(w, abs=5e-7) for w in want]
    assert len(stems) == len(found) == 6  # 3 answered tasks × 2 annotators, i3 left out
    # two tasks show a.png: their files differ by task id
    assert len({s for s, ext in stems.items() if images[ext] == "a.png"}) == 4
    listed = archive.read("images.txt").decode().splitlines()
    assert sorted(line.split("\t")[0] for line in listed) == sorted(
        f"images/{stem}.png" for stem in found
    )
    assert {line.split("\t")[1] for line in listed} == {"a.png", "b.png"}
    assert export(app, world, images="list")[1] == body  # the same bytes every time


def answer_ids(world):
    """{(task id, annotator id): annotation id}"""
    with world.owner.db.read_session() as s:
        rows = s.execute(
            select(Annotation.task_id, Annotation.user_id, Annotation.id).where(
                Annotation.project_id == world.pid
            )
        )
        return {(task, user): aid for task, user, aid in rows}


def test_consensus_labels_one_file_per_task(app, world):
    archive, _ = export(app, world, values="consensus")
    data, found = labels(archive)
    assert "images.txt" not in archive.namelist()
    by_task = {int(stem.split("_", 1)[0]): rows for stem, rows in found.items()}
    assert set(by_task) == {world.task_ids[k] for k in ("i0", "i1", "i2")}
    assert by_task[world.task_ids["i1"]] == []
    merged = {"x": 5, "y": 5.5, "width": 10, "height": 10, "label": DOG}
    assert by_task[world.task_ids["i2"]] == [pytest.approx(expected(merged, (40, 30)), abs=5e-7)]
    assert data["labelhouse"]["values"] == "consensus"


def test_bad_options_and_a_schema_without_boxes_are_422(app, db, world):
    c = login(app, world.owner)
    r = c.get(f"/api/projects/{world.pid}/export", params={"format": "yolo", "images": "all"})
    assert r.status_code == 422
    assert error_of(r)["details"][0]["field"] == "images"
    pid = make_project(db, world.owner)
    r = c.get(f"/api/projects/{pid}/export", params={"format": "yolo"})
    assert r.status_code == 422
    assert error_of(r)["details"][0]["field"] == "field"
