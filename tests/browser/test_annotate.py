"""The annotate page in real Chromium: for each field kind an annotator works with the
keyboard and (on another task) with the mouse, submits, and the test compares what the
server stored with the exact expected value."""

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

CHOICE = {
    "fields": [
        {
            "name": "sentiment",
            "kind": "choice",
            "reads": ["text"],
            "options": [
                {"value": "pos", "label": "Positive"},
                {"value": "neg", "label": "Negative"},
                {"value": "neu", "label": "Neutral", "hotkey": "n"},
            ],
        }
    ]
}


def test_choice_keyboard_and_mouse(page: Page, live_server, console_errors):
    pid = make_project(
        live_server,
        CHOICE,
        [{"text": "I love it", "external_id": "a"}, {"text": "Meh", "external_id": "b"}],
        instructions="Pick the **sentiment**.",
    )
    open_annotate(page, live_server, pid)
    expect(page.locator("#an-context")).to_contain_text("I love it")
    # screen readers: a named radio group of named radios, each announcing its key
    group = page.get_by_role("radiogroup", name="sentiment")
    expect(group.get_by_role("radio", name="Positive", exact=True)).to_have_attribute(
        "aria-keyshortcuts", "1"
    )
    page.keyboard.press("2")
    expect(group.get_by_role("radio", name="Negative", exact=True)).to_be_checked()
    expect(page.get_by_role("status")).to_contain_text("Task #")
    screenshot(page, "annotate-choice")
    submit_and_wait(page)
    field(page, "sentiment").get_by_text("Neutral").click()
    submit_and_wait(page, keyboard=False)
    expect(page.locator("#an-done")).to_be_visible()
    assert stored(live_server, pid) == {"a": {"sentiment": "neg"}, "b": {"sentiment": "neu"}}
    assert console_errors == []


CHOICES = {
    "fields": [
        {
            "name": "topics",
            "kind": "choices",
            "reads": ["text"],
            "options": [{"value": "shipping"}, {"value": "support"}, {"value": "price"}],
        }
    ]
}


def test_choices_keyboard_and_mouse(page: Page, live_server, console_errors):
    pid = make_project(
        live_server,
        CHOICES,
        [{"text": "Slow and pricey", "external_id": "a"}, {"text": "Rude", "external_id": "b"}],
    )
    open_annotate(page, live_server, pid)
    page.keyboard.press("3")
    page.keyboard.press("1")
    page.keyboard.press("2")
    page.keyboard.press("2")  # toggles "support" off again
    screenshot(page, "annotate-choices")
    submit_and_wait(page)
    topics = field(page, "topics")
    topics.get_by_text("support").click()
    topics.get_by_text("price").click()
    submit_and_wait(page, keyboard=False)
    assert stored(live_server, pid) == {
        "a": {"topics": ["shipping", "price"]},
        "b": {"topics": ["support", "price"]},
    }
    assert console_errors == []


SPANS = {
    "fields": [
        {
            "name": "entities",
            "kind": "spans",
            "source": "text",
            "labels": [
                {"value": "PER", "label": "Person", "hotkey": "p", "color": "#e07a5f"},
                {"value": "LOC", "label": "Location", "hotkey": "l", "color": "#81b29a"},
            ],
        }
    ]
}


def drag_select(page: Page, container, text: str) -> None:
    """Select ``text`` inside ``container`` with a real mouse drag (press before its first
    character, release after its last)."""
    box = container.evaluate(
        """(el, needle) => {
            // the text nodes of the text itself (not the label tags), joined
            const nodes = [];
            const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
            let node, all = "";
            while ((node = walker.nextNode())) {
                if (node.parentElement.closest(".lh-span-tag")) continue;
                nodes.push([node, all.length]);
                all += node.data;
            }
            const at = all.indexOf(needle);
            if (at < 0) return null;
            const locate = (pos, end) => {
                for (const [n, base] of nodes) {
                    if (pos >= base && (pos < base + n.data.length || (end && pos === base + n.data.length))) return [n, pos - base];
                }
            };
            const r = document.createRange();
            r.setStart(...locate(at, false));
            r.setEnd(...locate(at + needle.length, true));
            const rects = [...r.getClientRects()].filter((q) => q.width > 0);
            const first = rects[0], last = rects[rects.length - 1];
            return {x1: first.left + 1, y1: first.top + first.height / 2,
                    x2: last.right - 1, y2: last.top + last.height / 2};
        }""",
        text,
    )
    assert box, f"{text!r} not found"
    page.mouse.move(box["x1"], box["y1"])
    page.mouse.down()
    page.mouse.move((box["x1"] + box["x2"]) / 2, box["y2"], steps=3)
    page.mouse.move(box["x2"], box["y2"], steps=3)
    page.mouse.up()


def test_spans_keyboard_and_mouse(page: Page, live_server, console_errors):
    pid = make_project(
        live_server,
        SPANS,
        [
            {"text": "Ada Lovelace lived in London.", "external_id": "kb"},
            # an emoji is one character to the server but two UTF-16 units in the browser
            {"text": "😀 Bob visited Paris and Rome.", "external_id": "mouse"},
        ],
    )
    open_annotate(page, live_server, pid)
    kb = page.keyboard
    kb.press("Control+Shift+ArrowRight")
    kb.press("Control+Shift+ArrowRight")
    kb.press("p")
    for _ in range(2):
        kb.press("Control+ArrowRight")
    kb.press("Control+Shift+ArrowRight")
    kb.press("l")
    entities = field(page, "entities")
    expect(entities.locator(".lh-span-tag")).to_have_count(2)
    screenshot(page, "annotate-spans")
    submit_and_wait(page)

    text = entities.locator(".lh-span-text")
    drag_select(page, text, "Bob")
    entities.locator(".lh-span-label", has_text="Person").click()
    drag_select(page, text, "Paris")
    entities.locator(".lh-span-label", has_text="Location").click()
    drag_select(page, text, "Rome")
    entities.locator(".lh-span-label", has_text="Person").click()
    expect(entities.locator(".lh-span-tag")).to_have_count(3)
    # a click on a mark removes it; overlapping is refused for this field
    entities.locator(".lh-seg.is-marked", has_text="Rome").click()
    expect(entities.locator(".lh-span-tag")).to_have_count(2)
    drag_select(page, text, "Bob visited")
    page.keyboard.press("l")
    expect(entities.locator(".lh-span-status")).to_contain_text("does not allow overlapping")
    submit_and_wait(page, keyboard=False)
    assert stored(live_server, pid) == {
        "kb": {
            "entities": [
                {"start": 0, "end": 12, "label": "PER", "text": "Ada Lovelace"},
                {"start": 22, "end": 28, "label": "LOC", "text": "London"},
            ]
        },
        "mouse": {
            "entities": [
                {"start": 2, "end": 5, "label": "PER", "text": "Bob"},
                {"start": 14, "end": 19, "label": "LOC", "text": "Paris"},
            ]
        },
    }
    assert console_errors == []


TEXT = {
    "fields": [
        {
            "name": "label",
            "kind": "choice",
            "reads": ["text"],
            "options": [{"value": "pos"}, {"value": "neg"}],
        },
        {"name": "note", "kind": "text", "max_length": 200, "placeholder": "Why?"},
    ]
}


def test_text_keyboard_and_mouse(page: Page, live_server, console_errors):
    pid = make_project(
        live_server,
        TEXT,
        [{"text": "Good", "external_id": "kb"}, {"text": "Bad", "external_id": "mouse"}],
    )
    open_annotate(page, live_server, pid)
    page.keyboard.press("1")  # picks "pos" and moves on to the text field, focusing it
    note = field(page, "note").locator("textarea")
    expect(note).to_be_focused()
    # typing digits and letters in the text box must not trigger hotkeys
    page.keyboard.type("2 reasons: fast, cheap")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("h?")
    expect(field(page, "label").locator("input[value=pos]")).to_be_checked()
    expect(page.locator("#an-history")).to_be_hidden()
    expect(field(page, "note")).to_contain_text("25 / 200")
    screenshot(page, "annotate-text")
    submit_and_wait(page)
    field(page, "label").get_by_text("neg").click()
    field(page, "note").locator("textarea").click()
    page.keyboard.type("Broke after a day")
    submit_and_wait(page, keyboard=False)
    assert stored(live_server, pid) == {
        "kb": {"label": "pos", "note": "2 reasons: fast, cheap\nh?"},
        "mouse": {"label": "neg", "note": "Broke after a day"},
    }
    assert console_errors == []


RATING = {
    "fields": [
        {
            "name": "quality",
            "kind": "rating",
            "reads": ["text"],
            "min": 1,
            "max": 5,
            "rubric": {"1": "Wrong", "2": "Weak", "3": "Fine", "4": "Good", "5": "Excellent"},
        },
        {"name": "score", "kind": "rating", "min": 0, "max": 10, "required": False},
    ]
}


def test_rating_keyboard_and_mouse(page: Page, live_server, console_errors):
    pid = make_project(
        live_server,
        RATING,
        [{"text": "An answer", "external_id": "kb"}, {"text": "Another", "external_id": "mouse"}],
    )
    open_annotate(page, live_server, pid)
    quality = field(page, "quality")
    for text in ("Wrong", "Weak", "Fine", "Good", "Excellent"):
        expect(quality.get_by_text(text)).to_be_visible()
    # screen readers: a radio group whose radios are named by their number and rubric
    expect(quality.get_by_role("radiogroup", name="quality")).to_be_visible()
    expect(quality.get_by_role("radio", name="4: Good", exact=True)).not_to_be_checked()
    page.keyboard.press("4")  # a single-digit scale: moves on to "score"
    expect(quality.get_by_role("radio", name="4: Good", exact=True)).to_be_checked()
    page.keyboard.press("1")
    page.keyboard.press("0")  # "1" then "0" quickly: 10 on a 0–10 scale
    expect(field(page, "score").locator("input[value='10']")).to_be_checked()
    screenshot(page, "annotate-rating")
    submit_and_wait(page)
    quality.get_by_text("Weak").click()
    submit_and_wait(page, keyboard=False)
    assert stored(live_server, pid) == {"kb": {"quality": 4, "score": 10}, "mouse": {"quality": 2}}
    assert console_errors == []


PAIRWISE = {
    "fields": [
        {
            "name": "preference",
            "kind": "pairwise",
            "strengths": ["slightly", "clearly", "much"],
        }
    ]
}


def pair_rows(n: int) -> list[dict]:
    return [
        {
            "external_id": f"p{i}",
            "prompt": f"Question {i}: reverse a string?",
            "responses": [
                f"FIRST answer {i}: `s[::-1]`",
                f"SECOND answer {i}:\n\n```python\n''.join(reversed(s))\n```",
            ],
        }
        for i in range(n)
    ]


def left_response(page: Page) -> int:
    return int(
        field(page, "preference")
        .locator(".lh-response[data-side=left]")
        .get_attribute("data-response-index")
    )


def test_pairwise_order_is_random_per_task_and_value_names_the_response(
    page: Page, live_server, console_errors
):
    """Keys A/B pick the left/right *side*; the stored choice names the response (A =
    responses[0]). The order is shuffled per task, stable on reload."""
    pid = make_project(live_server, PAIRWISE, pair_rows(12))
    open_annotate(page, live_server, pid)
    expected: dict[str, dict] = {}
    done_swapped_keys = done_straight_mouse = False
    seen_orders = set()
    while not (done_swapped_keys and done_straight_mouse):
        ext = page.locator("#an-task-ref").inner_text().split("·")[-1].strip()
        pref = field(page, "preference")
        left = left_response(page)
        seen_orders.add(left)
        # the left card shows the response it says it shows
        expect(pref.locator(".lh-response[data-side=left] .lh-response-body")).to_contain_text(
            "FIRST" if left == 0 else "SECOND"
        )
        if left == 1 and not done_swapped_keys:
            page.reload()  # the order is a function of the task: the same after reloading
            expect(page.locator("#an-task-ref")).to_contain_text(ext)
            assert left_response(page) == 1
            screenshot(page, "annotate-pairwise")
            page.keyboard.press("a")  # the LEFT one, which is responses[1]
            page.keyboard.press("2")
            expect(pref.locator(".lh-pair-summary")).to_have_text("A is better (clearly)")
            expected[ext] = {"preference": {"choice": "B", "strength": "clearly"}}
            done_swapped_keys = True
        elif left == 0 and not done_straight_mouse:
            pref.locator(".lh-response[data-side=right] .lh-pick").click()  # responses[1]
            pref.locator(".lh-strength", has_text="much").click()
            expected[ext] = {"preference": {"choice": "B", "strength": "much"}}
            done_straight_mouse = True
        else:
            page.keyboard.press("t")
            expected[ext] = {"preference": {"choice": "tie", "strength": None}}
        submit_and_wait(page)
    assert seen_orders == {0, 1}
    assert stored(live_server, pid) == expected
    # code blocks in responses are rendered (sanitized Markdown from the server)
    assert console_errors == []


RANKING = {"fields": [{"name": "order", "kind": "ranking", "allow_ties": True}]}


def displayed_order(page: Page) -> list[int]:
    items = field(page, "order").locator(".lh-rank-item")
    return [int(i) for i in items.evaluate_all("els => els.map(e => e.dataset.responseIndex)")]


def handle_point(page: Page, response: int, where: float = 0.5) -> tuple[float, float]:
    """A point on a response card: ``where`` is the fraction of its height from the top."""
    box = (
        field(page, "order")
        .locator(f".lh-rank-item[data-response-index='{response}']")
        .bounding_box()
    )
    handle = (
        field(page, "order")
        .locator(f".lh-rank-item[data-response-index='{response}'] .lh-rank-handle")
        .bounding_box()
    )
    return handle["x"] + handle["width"] / 2, box["y"] + box["height"] * where


def test_ranking_keyboard_and_mouse(page: Page, live_server, console_errors):
    rows = [
        {"external_id": f"r{i}", "prompt": "Summarise", "responses": ["Alpha", "Bravo", "Charlie"]}
        for i in range(2)
    ]
    pid = make_project(live_server, RANKING, rows)
    open_annotate(page, live_server, pid)
    first = page.locator("#an-task-ref").inner_text().split("·")[-1].strip()
    i0, i1, i2 = displayed_order(page)  # shuffled per task; nothing ranked yet
    page.keyboard.press("3")  # pick the third card
    page.keyboard.press("ArrowUp")  # now second
    page.keyboard.press("t")  # tied with the first
    expect(field(page, "order").locator(".lh-rank-group.is-tied")).to_have_count(1)
    screenshot(page, "annotate-ranking")
    submit_and_wait(page)
    ranks_kb = [0, 0, 0]
    ranks_kb[i0], ranks_kb[i2], ranks_kb[i1] = 1, 1, 2

    j0, j1, j2 = displayed_order(page)
    x, y = handle_point(page, j2)
    page.mouse.move(x, y)
    page.mouse.down()
    tx, ty = handle_point(page, j0, 0.1)  # the top edge of the first card: drop before it
    page.mouse.move(tx, ty + 20, steps=5)
    page.mouse.move(tx, ty, steps=5)
    page.mouse.up()
    expect(field(page, "order").locator(".lh-rank-item").first).to_have_attribute(
        "data-response-index", str(j2)
    )
    x, y = handle_point(page, j1)
    page.mouse.move(x, y)
    page.mouse.down()
    tx, ty = handle_point(page, j0, 0.5)  # the middle of a card: a tie with it
    page.mouse.move(tx, ty, steps=8)
    page.mouse.up()
    submit_and_wait(page, keyboard=False)
    ranks_mouse = [0, 0, 0]
    ranks_mouse[j2], ranks_mouse[j0], ranks_mouse[j1] = 1, 2, 2
    second = next(r["external_id"] for r in rows if r["external_id"] != first)
    assert stored(live_server, pid) == {first: {"order": ranks_kb}, second: {"order": ranks_mouse}}
    assert console_errors == []


BOXES = {
    "fields": [
        {
            "name": "objects",
            "kind": "boxes",
            "labels": [
                {"value": "cat", "hotkey": "c", "color": "#e07a5f"},
                {"value": "dog", "hotkey": "d", "color": "#3d85c6"},
            ],
        }
    ]
}


def png(width: int, height: int) -> bytes:
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (240, 240, 235))
    ImageDraw.Draw(image).ellipse((20, 10, 80, 60), fill=(224, 122, 95))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def image_point(page: Page, x: float, y: float) -> tuple[float, float]:
    """Where image pixel (x, y) is on screen, from the drawn image's own bounding box (so
    the test does not reuse the widget's coordinate math)."""
    r = (
        field(page, "objects")
        .locator("img.lh-box-img")
        .evaluate(
            "img => { const r = img.getBoundingClientRect(); return {l: r.left, t: r.top, w: r.width, h: r.height, nw: img.width, nh: img.height}; }"
        )
    )
    return r["l"] + x * r["w"] / r["nw"], r["t"] + y * r["h"] / r["nh"]


def drag(page: Page, a: tuple[float, float], b: tuple[float, float]) -> None:
    page.mouse.move(*a)
    page.mouse.down()
    page.mouse.move(*b, steps=6)
    page.mouse.up()


def test_boxes_keyboard_and_mouse(page: Page, live_server, console_errors):
    rows = [
        {
            "external_id": "kb",
            "data": {"image": "one.png"},
            "predictions": [
                {
                    "model_version": "detr-v1",
                    "score": 0.87,
                    "value": {
                        "objects": [{"x": 10, "y": 10, "width": 50, "height": 40, "label": "cat"}]
                    },
                }
            ],
        },
        {"external_id": "mouse", "data": {"image": "two.png"}},
    ]
    pid = make_project(
        live_server, BOXES, rows, images={"one.png": png(200, 100), "two.png": png(200, 100)}
    )
    open_annotate(page, live_server, pid)
    objects = field(page, "objects")
    expect(page.locator("#an-banner")).to_contain_text("Pre-annotation (model detr-v1, score 0.87)")
    expect(objects).to_contain_text("pre-annotated")
    expect(objects.locator("g.lh-box")).to_have_count(1)
    kb = page.keyboard
    kb.press("]")  # select the predicted box
    kb.press("d")  # relabel it: dog
    for _ in range(3):
        kb.press("ArrowRight")  # x + 3
    kb.press("Control+ArrowDown")  # y + 10 (Shift+arrows resize)
    kb.press("+")
    kb.press("0")
    screenshot(page, "annotate-boxes")
    submit_and_wait(page)

    expect(objects.locator("img.lh-box-img")).to_have_js_property("complete", True)
    page.wait_for_function("() => document.querySelector('.lh-boxes.is-loaded')")
    drag(page, image_point(page, 20, 10), image_point(page, 80, 60))  # draw (label: cat)
    drag(page, image_point(page, 50, 30), image_point(page, 60, 35))  # move by (10, 5)
    drag(page, image_point(page, 90, 65), image_point(page, 100, 70))  # resize the SE corner
    drag(page, image_point(page, 120, 20), image_point(page, 190, 95))  # a second box …
    objects.locator(".lh-box-label", has_text="dog").click()  # … relabelled to dog
    drag(page, image_point(page, 150, 5), image_point(page, 160, 8))  # a third, tiny box …
    page.keyboard.press("Delete")  # … deleted again
    expect(objects.locator("g.lh-box")).to_have_count(2)
    submit_and_wait(page, keyboard=False)
    assert stored(live_server, pid) == {
        "kb": {"objects": [{"x": 13.0, "y": 20.0, "width": 50.0, "height": 40.0, "label": "dog"}]},
        "mouse": {
            "objects": [
                {"x": 30.0, "y": 15.0, "width": 70.0, "height": 55.0, "label": "cat"},
                {"x": 120.0, "y": 20.0, "width": 70.0, "height": 75.0, "label": "dog"},
            ]
        },
    }
    assert console_errors == []


def test_boxes_zoom_and_pan_keep_coordinates_in_image_pixels(
    page: Page, live_server, console_errors
):
    pid = make_project(
        live_server,
        BOXES,
        [{"external_id": "big", "data": {"image": "big.png"}}],
        images={"big.png": png(1600, 800)},
    )
    open_annotate(page, live_server, pid)
    objects = field(page, "objects")
    page.wait_for_function("() => document.querySelector('.lh-boxes.is-loaded')")
    img = objects.locator("img.lh-box-img")
    fit_zoom = objects.locator(".lh-zoom-text").inner_text()
    page.mouse.move(*image_point(page, 400, 200))
    page.mouse.wheel(0, -400)  # zoom in at the cursor: the point under it stays put
    expect(objects.locator(".lh-zoom-text")).not_to_have_text(fit_zoom)
    before = img.bounding_box()
    page.keyboard.down("Space")  # Space + drag pans
    drag(page, (before["x"] + 300, before["y"] + 200), (before["x"] + 200, before["y"] + 150))
    page.keyboard.up("Space")
    after = img.bounding_box()
    assert (round(after["x"] - before["x"]), round(after["y"] - before["y"])) == (-100, -50)
    vp = objects.locator(".lh-box-viewport").bounding_box()
    page.mouse.move(vp["x"] + 300, vp["y"] + 200)
    page.mouse.down(button="middle")  # so does a middle-button drag
    page.mouse.move(vp["x"] + 340, vp["y"] + 230, steps=4)
    page.mouse.up(button="middle")
    moved = img.bounding_box()
    assert (round(moved["x"] - after["x"]), round(moved["y"] - after["y"])) == (40, 30)
    expect(objects.locator("g.lh-box")).to_have_count(0)  # panning drew nothing
    drag(page, image_point(page, 300, 150), image_point(page, 500, 350))
    drag(page, image_point(page, 300, 150), image_point(page, 290, 140))  # the NW handle
    page.keyboard.press("-")
    page.keyboard.press("0")  # back to fit: the box is drawn in the same image pixels
    expect(objects.locator(".lh-zoom-text")).to_have_text(fit_zoom)
    expect(objects.locator(".lh-box-item")).to_contain_text("290, 140 · 210×210")
    screenshot(page, "annotate-boxes-zoomed")
    submit_and_wait(page)
    assert stored(live_server, pid) == {
        "big": {
            "objects": [{"x": 290.0, "y": 140.0, "width": 210.0, "height": 210.0, "label": "cat"}]
        }
    }
    assert console_errors == []


def test_spans_may_overlap_when_the_field_allows_it(page: Page, live_server, console_errors):
    schema = {
        "fields": [
            {
                "name": "entities",
                "kind": "spans",
                "allow_overlap": True,
                "labels": [{"value": "ORG", "hotkey": "o"}, {"value": "LOC", "hotkey": "l"}],
            }
        ]
    }
    pid = make_project(
        live_server, schema, [{"text": "The New York Times sued.", "external_id": "o"}]
    )
    open_annotate(page, live_server, pid)
    entities = field(page, "entities")
    text = entities.locator(".lh-span-text")
    drag_select(page, text, "New York Times")
    page.keyboard.press("o")
    drag_select(page, text, "New York")
    page.keyboard.press("l")
    expect(entities.locator(".lh-seg.is-overlap")).to_have_count(1)
    screenshot(page, "annotate-spans-overlap")
    entities.locator(".lh-seg.is-overlap").click()  # removes the innermost mark there: LOC
    expect(entities.locator(".lh-span-tag")).to_have_text(["ORG"])
    drag_select(page, text, "York")
    page.keyboard.press("l")
    submit_and_wait(page)
    assert stored(live_server, pid) == {
        "o": {
            "entities": [
                {"start": 4, "end": 18, "label": "ORG", "text": "New York Times"},
                {"start": 8, "end": 12, "label": "LOC", "text": "York"},
            ]
        }
    }
    assert console_errors == []


def test_markdown_text_field_shows_what_it_reads_as_sanitized_markdown(
    page: Page, live_server, console_errors
):
    schema = {"fields": [{"name": "fix", "kind": "text", "reads": ["answer"], "markdown": True}]}
    row = {
        "answer": "Use **argon2id**:\n\n```python\nPasswordHasher()\n```\n<img src=x onerror=alert(1)>",
        "external_id": "m",
    }
    pid = make_project(live_server, schema, [row])
    open_annotate(page, live_server, pid)
    context = page.locator("#an-context")
    expect(context.locator("strong")).to_have_text("argon2id")
    expect(context.locator("pre code")).to_have_text("PasswordHasher()\n")
    expect(context).to_contain_text("<img src=x onerror=alert(1)>")
    expect(field(page, "fix")).to_contain_text("Markdown allowed")
    page.keyboard.type("Use **bcrypt** if argon2 is unavailable.")
    submit_and_wait(page)
    assert stored(live_server, pid) == {"m": {"fix": "Use **bcrypt** if argon2 is unavailable."}}
    assert console_errors == []
