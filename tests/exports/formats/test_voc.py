"""Pascal VOC export parsed back with xml.etree: sizes, names (escaped: one label has ``&``
and quotes) and 1-based inclusive coordinates compared with the stored boxes; raw and
consensus values."""

from __future__ import annotations

import io
import math
import xml.etree.ElementTree as ET
import zipfile

import pytest
import yaml

from tests.exports.formats.worlds import CAT, DOG, SIZES, TASKS, boxes_world
from tests.factories import login, make_project
from tests.helpers_data import error_of


@pytest.fixture
def world(app, db, owner):
    return boxes_world(app, db, owner)


def export(app, world, **params):
    r = login(app, world.owner).get(
        f"/api/projects/{world.pid}/export", params={"format": "voc", **params}
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(r.content))


def parsed(archive):
    """{stem: (task id, (width, height), filename, [(name, xmin, ymin, xmax, ymax)])}"""
    out = {}
    for name in archive.namelist():
        if not name.startswith("Annotations/"):
            continue
        root = ET.fromstring(archive.read(name))
        assert root.tag == "annotation"
        size = root.find("size")
        width, height = int(size.findtext("width")), int(size.findtext("height"))
        assert size.findtext("depth") == "3"
        objects = []
        for obj in root.findall("object"):
            assert obj.findtext("pose") == "Unspecified"
            assert obj.findtext("difficult") == "0"
            assert obj.findtext("truncated") in ("0", "1")
            box = obj.find("bndbox")
            corners = [int(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")]
            xmin, ymin, xmax, ymax = corners
            assert 1 <= xmin <= xmax <= width and 1 <= ymin <= ymax <= height
            objects.append((obj.findtext("name"), *corners))
        task_id = int(root.find("source").findtext("task_id"))
        stem = name.removeprefix("Annotations/").removesuffix(".xml")
        assert root.findtext("filename") == f"{stem}.png"
        out[stem] = (task_id, (width, height), root.findtext("path"), sorted(objects))
    return out


def voc_box(box, size):
    """A stored box as VOC corners: the pixels it touches, 1-based, inclusive, clipped."""
    w, h = size
    return (
        box["label"],
        math.floor(box["x"]) + 1,
        math.floor(box["y"]) + 1,
        min(math.ceil(box["x"] + box["width"]), w),
        min(math.ceil(box["y"] + box["height"]), h),
    )


def test_raw_boxes_parse_back_to_the_stored_ones(app, world):
    archive = export(app, world)
    found = parsed(archive)
    images = dict(TASKS)
    assert len(found) == 6  # 3 answered tasks × 2 annotators
    for ext, task in world.task_ids.items():
        files = [v for v in found.values() if v[0] == task]
        if ext == "i3":
            assert files == []
            continue
        size = SIZES[images[ext]]
        assert {(v[1], v[2]) for v in files} == {(size, images[ext])}
        want = sorted(
            sorted(voc_box(b, size) for b in given[ext]) for given in world.answers.values()
        )
        assert sorted(v[3] for v in files) == want
    names = {o[0] for v in found.values() for o in v[3]}
    assert names == {CAT, DOG}  # '&' and quotes came back through the XML escaping
    raw_xml = b"".join(archive.read(n) for n in archive.namelist() if n.endswith(".xml"))
    assert b"dog &amp; " in raw_xml
    summary = yaml.safe_load(archive.read("labelhouse.yaml"))
    assert summary["labels"] == [CAT, DOG]
    assert summary["not_written"] == {}


def test_consensus_one_file_per_task(app, world):
    found = parsed(export(app, world, values="consensus"))
    by_task = {v[0]: v for v in found.values()}
    assert set(by_task) == {world.task_ids[k] for k in ("i0", "i1", "i2")}
    assert by_task[world.task_ids["i1"]][3] == []
    merged = {"x": 5, "y": 5.5, "width": 10, "height": 10, "label": DOG}
    assert by_task[world.task_ids["i2"]][3] == [voc_box(merged, (40, 30))]


def test_a_schema_without_boxes_is_a_422(app, db, owner):
    pid = make_project(db, owner)
    r = login(app, owner).get(f"/api/projects/{pid}/export", params={"format": "voc"})
    assert r.status_code == 422
    assert "needs a boxes field" in error_of(r)["message"]
