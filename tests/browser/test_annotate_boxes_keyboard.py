"""Boxes drawn and resized with the keyboard only: N adds a box (current label, 20% of the
visible part of the image, centred, whole pixels), Shift+arrows resize it (Ctrl: 10 px,
never below min_size, never past the image), a label key relabels it, Ctrl+Z undoes one
step, Ctrl+Enter submits; the stored value is compared exactly."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.annotate_support import (
    field,
    make_project,
    open_annotate,
    stored,
    submit_and_wait,
)
from tests.browser.conftest import screenshot
from tests.browser.test_annotate import png

IMAGE_W, IMAGE_H = 200, 100
MIN_SIZE = 8

SCHEMA = {
    "fields": [
        {
            "name": "objects",
            "kind": "boxes",
            "min_size": MIN_SIZE,
            "labels": [
                {"value": "cat", "hotkey": "c", "color": "#e07a5f"},
                {"value": "dog", "hotkey": "d", "color": "#3d85c6"},
            ],
        }
    ]
}


def grow(pos: int, size: int, delta: int, limit: int) -> int:
    """The new size after moving the far edge by ``delta``: not below MIN_SIZE, not past
    the image edge ``limit``."""
    return min(limit - pos, max(MIN_SIZE, size + delta))


def test_boxes_draw_and_resize_with_the_keyboard(page: Page, live_server, console_errors):
    pid = make_project(
        live_server,
        SCHEMA,
        [{"external_id": "kb", "data": {"image": "one.png"}}],
        images={"one.png": png(IMAGE_W, IMAGE_H)},
    )
    open_annotate(page, live_server, pid)
    objects = field(page, "objects")
    page.wait_for_function("() => document.querySelector('.lh-boxes.is-loaded')")
    # At "fit" the whole image is visible, so the visible part is the whole image.
    img = objects.locator("img.lh-box-img").bounding_box()
    viewport = objects.locator(".lh-box-viewport").bounding_box()
    assert img["x"] >= viewport["x"] and img["y"] >= viewport["y"]
    assert img["x"] + img["width"] <= viewport["x"] + viewport["width"] + 0.5
    assert img["y"] + img["height"] <= viewport["y"] + viewport["height"] + 0.5

    # The keys are shown in the widget and in the ? overlay.
    expect(objects.locator(".lh-box-add")).to_have_attribute("aria-keyshortcuts", "N")
    expect(objects.locator(".lh-box-add kbd")).to_have_text("N")
    expect(objects.locator(".lh-box-keys")).to_contain_text("new box")
    expect(objects.locator(".lh-box-keys")).to_contain_text("resize")
    page.keyboard.press("?")
    help_body = page.locator("#an-help .an-help-body")
    expect(help_body).to_contain_text("add a box with the current label")
    expect(help_body).to_contain_text("resize the box")
    page.keyboard.press("Escape")
    expect(page.locator("#an-help")).not_to_be_visible()

    kb = page.keyboard
    items = objects.locator(".lh-box-item")
    kb.press("n")  # a cat box (the first label is the current one)
    width, height = round(IMAGE_W * 0.2), round(IMAGE_H * 0.2)
    x, y = round((IMAGE_W - width) / 2), round((IMAGE_H - height) / 2)
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text(f"cat {x}, {y} · {width}×{height}")
    expect(objects.locator("g.lh-box.is-selected")).to_have_count(1)

    for _ in range(3):
        kb.press("Shift+ArrowRight")  # 1 px wider each
        width = grow(x, width, 1, IMAGE_W)
    for _ in range(10):
        kb.press("Control+Shift+ArrowDown")  # 10 px taller each, up to the bottom edge
        height = grow(y, height, 10, IMAGE_H)
    assert y + height == IMAGE_H
    kb.press("Shift+ArrowUp")
    height = grow(y, height, -1, IMAGE_H)
    kb.press("Shift+ArrowUp")
    expect(items.first).to_contain_text(f"{width}×{height - 1}")
    kb.press("Control+z")  # undoes the last resize step only
    expect(items.first).to_contain_text(f"cat {x}, {y} · {width}×{height}")
    for _ in range(5):
        kb.press("Control+Shift+ArrowLeft")  # 10 px narrower each, down to min_size
        width = grow(x, width, -10, IMAGE_W)
    assert width == MIN_SIZE
    expect(objects.locator(".lh-box-status")).to_contain_text("minimum size")
    kb.press("Shift+ArrowRight")
    width = grow(x, width, 1, IMAGE_W)
    kb.press("d")  # relabel the selected box
    expect(items.first).to_contain_text(f"dog {x}, {y} · {width}×{height}")
    screenshot(page, "annotate-boxes-keyboard")
    submit_and_wait(page)

    assert stored(live_server, pid) == {
        "kb": {
            "objects": [
                {
                    "x": float(x),
                    "y": float(y),
                    "width": float(width),
                    "height": float(height),
                    "label": "dog",
                }
            ]
        }
    }
    assert (x, y, width, height) == (80, 40, 9, 59)  # the rules above, worked out by hand
    assert console_errors == []
