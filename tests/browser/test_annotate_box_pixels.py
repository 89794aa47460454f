"""Boxes drawn with the mouse at a fractional zoom, and boxes moved or resized with the
keyboard, are stored in whole image pixels (issue 13 item 9d); a predicted box the
annotator leaves alone keeps its fractions."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.annotate_support import (
    current_external_id,
    field,
    make_project,
    open_annotate,
    stored,
    submit_and_wait,
)
from tests.browser.test_annotate import BOXES, drag, image_point, png

W, H = 1000, 700  # larger than the viewport: "fit" shows it at a fractional scale
PREDICTED = {"x": 10.25, "y": 20.75, "width": 50.5, "height": 40.4, "label": "cat"}
LEFT_ALONE = {"x": 500.5, "y": 300.25, "width": 80.75, "height": 60.5, "label": "dog"}


def whole(boxes: list[dict]) -> bool:
    return all(type(b[k]) is int for b in boxes for k in ("x", "y", "width", "height"))


def test_boxes_are_stored_in_whole_pixels(page: Page, live_server, console_errors):
    rows = [
        {
            "external_id": "a-predicted",
            "data": {"image": "big.png"},
            "predictions": [{"model_version": "m", "value": {"objects": [PREDICTED, LEFT_ALONE]}}],
        },
        {"external_id": "b-drawn", "data": {"image": "big.png"}},
    ]
    pid = make_project(live_server, BOXES, rows, images={"big.png": png(W, H)})
    open_annotate(page, live_server, pid)
    objects = field(page, "objects")
    page.wait_for_function("() => document.querySelector('.lh-boxes.is-loaded')")
    scale = objects.locator(".lh-zoom-text").inner_text()
    assert scale != "100%"

    # the predicted box, moved 1 px right with the keyboard: whole pixels from then on
    assert current_external_id(page) == "a-predicted"
    page.keyboard.press("]")
    page.keyboard.press("ArrowRight")
    expect(objects.locator(".lh-box-item").first).to_contain_text("11, 21 · 51×40")
    submit_and_wait(page)

    # a box drawn with the mouse between fractional image points, then grown by a key
    assert current_external_id(page) == "b-drawn"
    page.wait_for_function("() => document.querySelector('.lh-boxes.is-loaded')")
    drag(page, image_point(page, 100.3, 50.6), image_point(page, 300.7, 200.2))
    expect(objects.locator("g.lh-box")).to_have_count(1)
    page.keyboard.press("Shift+ArrowRight")
    submit_and_wait(page)

    values = stored(live_server, pid)
    predicted = values["a-predicted"]["objects"]
    assert predicted == [{"x": 11, "y": 21, "width": 51, "height": 40, "label": "cat"}, LEFT_ALONE]
    assert whole(predicted[:1])
    (drawn,) = values["b-drawn"]["objects"]
    assert whole([drawn]), drawn
    # the mouse lands within a screen pixel of the points asked for (under 2 image px here)
    for key, want in (("x", 100.3), ("y", 50.6), ("width", 201.4), ("height", 149.6)):
        assert abs(drawn[key] - want) <= 3, (key, drawn)
    assert drawn["x"] + drawn["width"] <= W and drawn["y"] + drawn["height"] <= H
    assert console_errors == []
