import math
import re

import orjson
import pytest
from pydantic import ValidationError

from labelhouse.kinds.base import ValueProblem
from labelhouse.kinds.boxes import BoxesField

DATA = {"image": "https://example.org/cat.jpg", "image_width": 640, "image_height": 480}
LABELS = [{"value": "cat"}, {"value": "dog"}]


def make(**config):
    config.setdefault("labels", LABELS)
    return BoxesField.model_validate({"name": "objects", "kind": "boxes", **config})


def box(x=10, y=20, width=100, height=50, label="cat", **extra):
    return {"x": x, "y": y, "width": width, "height": height, "label": label, **extra}


def test_boxes_are_normalised_to_rounded_pixels_in_order():
    """Fractions (predictions, imports, API clients) are rounded to 1/100 px; whole numbers
    (what the annotate page sends, issue 13 item 9d) are stored as integers."""
    out = make().validate_value(
        [box(x=1.23456, y=0, width=3.0, height=4.999), box(label="dog")], DATA
    )
    assert out == [
        {"x": 1.23, "y": 0, "width": 3, "height": 5, "label": "cat"},
        {"x": 10, "y": 20, "width": 100, "height": 50, "label": "dog"},
    ]
    assert [type(out[0][k]) for k in ("x", "y", "width", "height")] == [float, int, int, int]
    assert all(type(out[1][k]) is int for k in ("x", "y", "width", "height"))


def test_whole_pixel_boxes_stay_integers_in_stored_json():
    out = make().validate_value([box(x=10.0, y=20.004, width=100, height=49.999)], DATA)
    assert orjson.dumps(out) == b'[{"x":10,"y":20,"width":100,"height":50,"label":"cat"}]'


def test_huge_whole_numbers_stay_floats():
    # no image size: any extent; an integer past 2**53 would not survive JSON writers
    out = make().validate_value([box(x=1e300, width=3e20)], {"image": "a.png"})
    assert (type(out[0]["x"]), type(out[0]["width"])) == (float, float)
    assert orjson.dumps(out)


def test_negative_zero_is_normalised():
    assert math.copysign(1, make().validate_value([box(x=-0.0)], DATA)[0]["x"]) == 1


@pytest.mark.parametrize(
    "value",
    [
        box(x=540, width=100),  # exactly to the right edge
        box(x=540, width=100.5),  # within the 0.5 px tolerance
        box(y=430, height=50.4),
        box(x=0, y=0, width=640, height=480),
    ],
)
def test_boxes_at_the_image_edge_are_accepted(value):
    assert make().validate_value([value], DATA)


def test_without_image_size_any_extent_is_accepted():
    out = make().validate_value([box(x=5000, width=5000)], {"image": "a.png"})
    assert out[0]["x"] == 5000.0


def test_only_the_known_dimension_is_checked():
    assert make().validate_value([box(y=5000)], {"image": "a.png", "image_width": 640})
    with pytest.raises(ValueProblem, match=r"right edge of the 640x\? px image"):
        make().validate_value([box(x=600)], {"image": "a.png", "image_width": 640})


def test_empty_list_is_an_answer():
    assert not make().is_empty([])
    assert make().validate_value([], DATA) == []


@pytest.mark.parametrize(
    ("config", "value", "where", "fragment"),
    [
        ({}, box(), "", "expected a list of boxes"),
        ({}, [[1, 2, 3, 4]], "[0]", "expected a box object"),
        ({}, [box(label="bird")], "[0].label", "unknown label 'bird'; use one of: 'cat', 'dog'"),
        ({}, [box(label=None)], "[0].label", "expected a string, got null"),
        (
            {},
            [box(rotation=0)],
            "[0]",
            "unknown key 'rotation'; allowed keys: x, y, width, height, label",
        ),
        ({}, [{"x": 1, "y": 1, "width": 5, "label": "cat"}], "[0].height", "missing 'height'"),
        ({}, [box(x=float("nan"))], "[0].x", "x must be a finite number of pixels, got nan"),
        ({}, [box(width=float("inf"))], "[0].width", "got inf"),
        ({}, [box(y="20")], "[0].y", "got '20'"),
        ({}, [box(x=True)], "[0].x", "got true"),
        ({}, [box(x=10**400)], "[0].x", "finite number"),
        ({}, [box(x=-1)], "[0].x", "x must be 0 or more"),
        ({}, [box(y=-0.1)], "[0].y", "y must be 0 or more"),
        ({}, [box(width=0.5)], "[0].width", "width must be at least 1 px, got 0.5"),
        ({"min_size": 4}, [box(height=3)], "[0].height", "height must be at least 4 px, got 3"),
        (
            {},
            [box(), box(x=600)],
            "[1]",
            "box (x=600, y=20, width=100, height=50) extends past the right edge of the 640x480 px image; keep x + width ≤ 640",
        ),
        ({}, [box(x=540, width=100.6)], "[0]", "right edge"),
        (
            {},
            [box(y=431, height=50)],
            "[0]",
            "extends past the bottom edge of the 640x480 px image; keep y + height ≤ 480",
        ),
        (
            {"max_boxes": 2},
            [box(), box(), box()],
            "",
            "too many boxes: 3; this field allows at most 2",
        ),
    ],
)
def test_rejected_values(config, value, where, fragment):
    with pytest.raises(ValueProblem) as exc:
        make(**config).validate_value(value, DATA)
    assert fragment in exc.value.problem
    assert exc.value.where == where


def test_check_data():
    field = make()
    assert field.data_keys() == ("image",)
    assert field.check_data(DATA) == []
    assert field.check_data({"image": "uploads/1.png"}) == []
    assert field.check_data({}) == ["missing key 'image' (read by field 'objects')"]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (
            {"image": ""},
            "'image' must be an image URL or uploaded file reference (a non-empty string)",
        ),
        ({"image": "  "}, "non-empty string"),
        ({"image": 5}, "got 5"),
        (
            {"image": "a.png", "image_width": 0},
            "'image_width' must be a positive whole number of pixels, got 0",
        ),
        ({"image": "a.png", "image_height": -3}, "'image_height' must be a positive"),
        ({"image": "a.png", "image_width": 10.5}, "got 10.5"),
        ({"image": "a.png", "image_width": True}, "got true"),
        ({"image": "a.png", "image_height": "480"}, "got '480'"),
    ],
)
def test_check_data_problems(data, fragment):
    problems = make().check_data(data)
    assert len(problems) == 1
    assert fragment in problems[0]


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"labels": []}, "at least 1 item"),
        ({"labels": [{"value": "cat"}, {"value": "cat"}]}, "duplicate option value 'cat'"),
        ({"min_size": 0}, "greater than 0"),
        ({"min_size": True}, "valid number"),
        ({"min_size": float("nan")}, "finite number"),
        ({"max_boxes": 0}, "greater than or equal to 1"),
        ({"max_boxes": 10.0}, "valid integer"),
        ({"image": ""}, "at least 1 character"),
    ],
)
def test_bad_config_is_rejected(config, fragment):
    with pytest.raises(ValidationError, match=re.escape(fragment)):
        make(**config)
