"""COCO export: loaded by pycocotools, and every reference checked by our own rules
(pycocotools loads dangling ids without a word); raw and consensus values."""

from __future__ import annotations

import orjson
import pytest

from tests.exports.formats.worlds import BOXES, CAT, DOG, boxes_world
from tests.factories import login, make_project
from tests.helpers_data import error_of

COCO = pytest.importorskip("pycocotools.coco").COCO


@pytest.fixture
def world(app, db, owner):
    return boxes_world(app, db, owner)


def export(app, world, **params):
    r = login(app, world.owner).get(
        f"/api/projects/{world.pid}/export", params={"format": "coco", **params}
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.headers["content-disposition"].endswith('.coco.json"')
    return r.content


def check_references(doc):
    """Unique ids, every reference resolves, every box inside its image."""
    images = {i["id"]: i for i in doc["images"]}
    categories = {c["id"] for c in doc["categories"]}
    assert len(images) == len(doc["images"])
    assert len(categories) == len(doc["categories"])
    ids = [a["id"] for a in doc["annotations"]]
    assert len(set(ids)) == len(ids)
    for a in doc["annotations"]:
        image = images[a["image_id"]]
        assert a["category_id"] in categories
        x, y, w, h = a["bbox"]
        assert w > 0 and h > 0 and x >= 0 and y >= 0
        assert x + w <= image["width"] and y + h <= image["height"]
        assert a["area"] == pytest.approx(w * h)
        assert a["iscrowd"] == 0


def test_raw_boxes_load_in_pycocotools_with_their_annotators(app, world, tmp_path):
    body = export(app, world)
    path = tmp_path / "instances.json"
    path.write_bytes(body)
    coco = COCO(str(path))
    doc = orjson.loads(body)
    check_references(doc)
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == [CAT, DOG]
    # i3 was never answered; i1 is a negative image (no boxes), still listed
    assert sorted(coco.getImgIds()) == sorted(world.task_ids[k] for k in ("i0", "i1", "i2"))
    i0, i2 = world.task_ids["i0"], world.task_ids["i2"]
    assert coco.loadImgs(i0)[0]["file_name"] == coco.loadImgs(i2)[0]["file_name"] == "a.png"
    assert (coco.loadImgs(i0)[0]["width"], coco.loadImgs(i0)[0]["height"]) == (40, 30)
    assert coco.getAnnIds(imgIds=[world.task_ids["i1"]]) == []
    by_annotator: dict[int, list] = {}
    for a in coco.loadAnns(coco.getAnnIds(imgIds=[i0])):
        by_annotator.setdefault(a["annotator_id"], []).append(a)
    assert by_annotator.keys() == world.answers.keys()
    names = {c["id"]: c["name"] for c in doc["categories"]}
    for annotator, given in world.answers.items():
        want = sorted(
            (
                b["label"],
                b["x"],
                b["y"],
                min(b["width"], 40 - b["x"]),
                min(b["height"], 30 - b["y"]),
            )
            for b in given["i0"]
        )
        got = sorted((names[a["category_id"]], *a["bbox"]) for a in by_annotator[annotator])
        assert got == want_rounded(want)
    assert doc["info"]["labelhouse"]["not_written"] == {}


def want_rounded(boxes):
    return [(label, *(round(v, 2) for v in rest)) for label, *rest in boxes]


def test_consensus_boxes_have_one_set_per_image_and_a_confidence(app, world, tmp_path):
    body = export(app, world, values="consensus")
    path = tmp_path / "instances.json"
    path.write_bytes(body)
    coco = COCO(str(path))
    doc = orjson.loads(body)
    check_references(doc)
    i2 = world.task_ids["i2"]
    (merged,) = coco.loadAnns(coco.getAnnIds(imgIds=[i2]))
    assert "annotator_id" not in merged
    assert merged["method"] == "overlap_vote"
    assert merged["confidence"] == 1.0
    assert merged["category_id"] == 2
    assert merged["bbox"] == [5, 5.5, 10, 10]  # median of the two drawn boxes
    assert coco.getAnnIds(imgIds=[world.task_ids["i1"]]) == []


def test_a_schema_without_boxes_is_a_422_naming_the_field(app, db, owner):
    pid = make_project(db, owner)
    r = login(app, owner).get(f"/api/projects/{pid}/export", params={"format": "coco"})
    assert r.status_code == 422
    error = error_of(r)
    assert "needs a boxes field" in error["message"]
    assert error["details"][0]["field"] == "field"


def test_unknown_option_and_unknown_field_are_named(app, world):
    c = login(app, world.owner)
    url = f"/api/projects/{world.pid}/export"
    r = c.get(url, params={"format": "coco", "colour": "red"})
    assert r.status_code == 422
    assert error_of(r)["details"][0]["field"] == "colour"
    r = c.get(url, params={"format": "coco", "field": "quality"})
    assert r.status_code == 422
    assert "use one of: objects" in error_of(r)["details"][0]["problem"]
    assert c.get(url, params={"format": "coco", "field": "objects"}).status_code == 200


def record(task_id, data, *values):
    return {
        "id": task_id,
        "external_id": None,
        "data": data,
        "annotations": [
            {"id": 100 + i, "annotator_id": 7, "value": {"objects": v}}
            for i, v in enumerate(values)
        ],
    }


def test_what_cannot_be_written_is_counted_not_dropped_unseen():
    """The writer alone (pure): tasks without an image or a size, a label the schema no
    longer has, a box wholly outside the image."""
    from labelhouse.exports.formats import coco
    from labelhouse.kinds.registry import parse_schema

    schema = parse_schema(BOXES)
    options = coco.parse_options(schema, {})
    box = {"x": 1, "y": 1, "width": 2, "height": 2, "label": CAT}
    size = {"image_width": 10, "image_height": 10}
    records = [
        record(1, {"image": "a.png", **size}, [box, {**box, "label": "horse"}]),
        record(2, {"image": "b.png"}, [box]),  # no size
        record(3, {**size}, [box]),  # no image
        record(4, {"image": "c.png", **size}, [{**box, "x": 10}]),  # outside
        record(5, {"image": "d.png", **size}),  # nobody answered: not an image of the set
    ]
    doc = orjson.loads(b"".join(coco.write_coco(records, schema=schema, options=options)))
    check_references(doc)
    assert [i["id"] for i in doc["images"]] == [1, 4]
    assert [a["bbox"] for a in doc["annotations"]] == [[1, 1, 2, 2]]
    expected = {
        "boxes_outside_image": 1,
        "boxes_with_unknown_label": 1,
        "images_without_size": 1,
        "tasks_without_image": 1,
    }
    assert doc["info"]["labelhouse"]["not_written"] == expected
    assert options["counts"] == expected


def test_two_boxes_fields_need_the_field_option():
    from labelhouse.errors import InvalidInput
    from labelhouse.exports.formats import coco
    from labelhouse.kinds.registry import parse_schema

    second = {**BOXES["fields"][0], "name": "faces", "image": "image"}
    schema = parse_schema({"fields": [BOXES["fields"][0], second]})
    with pytest.raises(InvalidInput) as caught:
        coco.parse_options(schema, {})
    assert caught.value.details[0].field == "field"
    assert "objects, faces" in caught.value.details[0].problem
    assert coco.parse_options(schema, {"field": "faces"})["field"] == "faces"
