"""Stored answers drawn by the field widgets' display mode (issue 13: raw JSON and index
lists on the review page, pairwise keys as chips and no boxes on the task page, revisions
as JSON). One task with a field of every kind, answered by three annotators: the review
page, the task page (with a revision diff) and "My submissions" are each checked on one
page load, on the rendered elements (marks, boxes, sides, ordered items), never on JSON."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from labelhouse.tasks import queue
from tests.browser.annotate_support import make_project
from tests.browser.conftest import LiveServer, login, screenshot
from tests.browser.page_factories import annotate, new_user, resubmit
from tests.browser.test_annotate import png

SCHEMA: dict[str, Any] = {
    "fields": [
        {
            "name": "sentiment",
            "kind": "choice",
            "options": [
                {"value": "pos", "label": "Positive", "color": "#2e9d63"},
                {"value": "neg", "label": "Negative"},
                {"value": "neu", "label": "Neutral"},
            ],
        },
        {
            "name": "topics",
            "kind": "choices",
            "min_selected": 0,
            "options": [
                {"value": "ship", "label": "Shipping"},
                {"value": "price", "label": "Price"},
            ],
        },
        {
            "name": "quality",
            "kind": "rating",
            "min": 1,
            "max": 5,
            "rubric": {"2": "Mostly unhelpful", "4": "Good"},
        },
        {"name": "note", "kind": "text", "required": False},
        {
            "name": "entities",
            "kind": "spans",
            "source": "text",
            "labels": [{"value": "PER", "label": "Person"}, {"value": "LOC", "label": "Location"}],
        },
        {
            "name": "preference",
            "kind": "pairwise",
            "prompt": "prompt",
            "responses": "pair",
            "strengths": ["slightly", "clearly"],
        },
        {"name": "order", "kind": "ranking", "prompt": "prompt", "responses": "candidates"},
        {
            "name": "objects",
            "kind": "boxes",
            "image": "image",
            "labels": [{"value": "circle"}, {"value": "square", "label": "Square"}],
        },
    ]
}
TEXT = "😀 Ada Lovelace met <b>Babbage</b> in London."  # code points differ from UTF-16
NOTE = "The first response is clearly better <script>alert(1)</script>"
W, H = 400, 200
MEDIA_URL = re.compile(r"^/api/files/\d+$")  # the path-safe media route


def span(text: str, label: str) -> dict[str, Any]:
    start = TEXT.index(text)  # Python str indices: code points, as stored
    return {"start": start, "end": start + len(text), "label": label, "text": text}


def box(x: float, y: float, width: float, height: float, label: str) -> dict[str, Any]:
    return {"x": x, "y": y, "width": width, "height": height, "label": label}


FIRST = {  # annotator A's first answer, changed afterwards (revision 2 = FINAL)
    "sentiment": "neu",
    "topics": ["ship"],
    "quality": 4,
    "note": "The first response is fine.",
    "entities": [span("Ada Lovelace", "PER")],
    "preference": {"choice": "A", "strength": "clearly"},
    "order": [2, 1, 3],
    "objects": [box(42, 22, 120, 80, "circle")],
}
FINAL = {  # A's answer now, and C's: the most common one
    **FIRST,
    "sentiment": "pos",
    "note": NOTE,
    "entities": [span("Ada Lovelace", "PER"), span("London", "LOC")],
    "objects": [box(40, 20, 120, 80, "circle")],
}
OTHER = {  # B disagrees on every field but the ranking
    "sentiment": "neg",
    "topics": [],
    "quality": 2,
    "note": None,
    "entities": [span("Ada Lovelace", "PER"), span("Babbage", "PER")],
    "preference": {"choice": "B", "strength": "slightly"},
    "order": [2, 1, 3],
    "objects": [box(40, 20, 120, 80, "circle"), box(250, 100, 100, 60, "square")],
}


ROW = {  # the one task: data for every field (the image is uploaded as shapes.png)
    "external_id": "every-kind",
    "data": {
        "text": TEXT,
        "prompt": "Which answer is better?",
        "pair": ["First response", "Second response"],
        "candidates": ["alpha", "beta", "gamma"],
        "image": "shapes.png",
    },
}


@pytest.fixture(scope="module")
def answered(live_server: LiveServer) -> dict[str, Any]:
    """The project, its one task and the three annotators (A revised their answer)."""
    pid = make_project(live_server, SCHEMA, [ROW], images={"shapes.png": png(W, H)})
    with live_server.db.session() as s:
        queue.update_project(s, live_server.owner, pid, {"overlap": 3, "review_mode": "all"})
    (a, a_email), (b, b_email), (c, _) = (new_user(live_server) for _ in range(3))
    task_id = annotate(live_server, a, pid, {"every-kind": FIRST})["every-kind"]
    annotate(live_server, b, pid, {"every-kind": OTHER})
    annotate(live_server, c, pid, {"every-kind": FINAL})
    resubmit(live_server, a, task_id, FINAL)
    return {"pid": pid, "task_id": task_id, "a": a_email, "b": b_email}


def value_of(card: Locator, name: str) -> Locator:
    """A field's value in the answer shown (not in its revision history)."""
    return card.locator(f'dl.lh-answer:not(.revision-first) > dd[data-field="{name}"]')


def expect_box_drawn_at(dd: Locator, index: int, stored: dict[str, Any]) -> None:
    """The box's rectangle sits where the stored image coordinates land on the image as
    drawn (measured from the image element itself, not from the widget's own math)."""
    img = dd.locator("img.lh-d-box-img").bounding_box()
    rect = dd.locator(f'g.lh-box[data-index="{index}"] rect').bounding_box()
    assert img is not None and rect is not None
    scale = img["width"] / W
    assert abs(img["height"] - H * scale) < 1.5
    centre_x = img["x"] + (stored["x"] + stored["width"] / 2) * scale
    centre_y = img["y"] + (stored["y"] + stored["height"] / 2) * scale
    assert abs(rect["x"] + rect["width"] / 2 - centre_x) < 1
    assert abs(rect["y"] + rect["height"] / 2 - centre_y) < 1
    # the bounding box holds the outline too (2 px, whatever the scale)
    assert 0 <= rect["width"] - stored["width"] * scale <= 3
    assert 0 <= rect["height"] - stored["height"] * scale <= 3


def expect_final_answer(card: Locator) -> None:
    """A's (and C's) answer drawn by every kind's display mode."""
    choice = value_of(card, "sentiment").locator(".lh-d-option")
    expect(choice).to_have_text("Positive")  # the option's label, not its value
    expect(choice).to_have_attribute("data-value", "pos")
    expect(value_of(card, "topics").locator(".lh-d-options li")).to_have_text(["Shipping"])
    rating = value_of(card, "quality")
    expect(rating.locator(".lh-d-scale li")).to_have_count(5)
    expect(rating.locator(".lh-d-scale li.is-selected")).to_have_text("4")
    expect(rating.locator(".lh-d-rubric")).to_contain_text("Good")
    note = value_of(card, "note")
    expect(note.locator(".lh-d-text-body")).to_have_text(NOTE)  # as text: never run
    expect(note.locator("script")).to_have_count(0)

    spans = value_of(card, "entities")
    marks = spans.locator("mark.lh-d-mark")
    expect(marks).to_have_text(["Ada Lovelace", "London"])
    expect(marks.nth(0)).to_have_attribute("data-label", "PER")
    expect(marks.nth(1)).to_have_attribute("data-label", "LOC")
    # offsets are the stored code points (the emoji is one, not two)
    expect(marks.nth(1)).to_have_attribute("data-start", str(TEXT.index("London")))
    expect(spans.locator(".lh-span-tag")).to_have_text(["Person", "Location"])
    expect(spans.locator(".lh-span-text")).to_have_text(
        TEXT.replace(" London", " LondonLocation").replace("Lovelace", "LovelacePerson")
    )
    expect(spans.locator(".lh-span-text b")).to_have_count(0)

    pair = value_of(card, "preference")
    chosen = pair.locator(".lh-response.is-chosen")
    expect(chosen).to_have_count(1)
    expect(chosen).to_have_attribute("data-response-index", "0")  # "A" = responses[0]
    expect(chosen.locator(".lh-response-body")).to_have_text("First response")
    expect(chosen.locator(".lh-d-verdict")).to_have_text("Preferred · clearly")
    other = pair.locator(".lh-response.is-other")
    expect(other.locator(".lh-response-body")).to_have_text("Second response")
    # both side by side, lettered as the annotator saw them (left A, right B)
    sides = pair.locator(".lh-response")
    expect(sides.nth(0)).to_have_attribute("data-side", "left")
    expect(sides.nth(0).locator(".lh-response-letter")).to_have_text("A")
    first, second = sides.nth(0).bounding_box(), sides.nth(1).bounding_box()
    assert first and second and first["x"] + first["width"] <= second["x"] + 1
    assert abs(first["y"] - second["y"]) < 2
    letter = chosen.locator(".lh-response-letter").inner_text()
    expect(pair.locator(".lh-pair-summary")).to_have_text(f"{letter} is better (clearly)")

    order = value_of(card, "order")
    expect(order.locator(".lh-rank-item .lh-response-body")).to_have_text(
        ["beta", "alpha", "gamma"]
    )
    expect(order.locator(".lh-rank-badge")).to_have_text(["#1", "#2", "#3"])

    boxes = value_of(card, "objects")
    expect(boxes.locator("g.lh-box")).to_have_count(1)
    expect(boxes.locator("g.lh-box text")).to_have_text("circle")
    expect(boxes.locator("img.lh-d-box-img")).to_have_attribute("src", MEDIA_URL)
    expect(boxes.locator("img.lh-d-box-img")).to_have_js_property("complete", True)
    expect_box_drawn_at(boxes, 0, FINAL["objects"][0])


def test_reviewer_sees_every_kind_rendered_with_differences_marked(
    page: Page, live_server, answered, console_errors
):
    login(page, live_server.reviewer_email)
    page.goto(f"/projects/{answered['pid']}/review")
    expect(page.locator("#rv-title")).to_contain_text(f"Task {answered['task_id']}")
    cards = page.locator(".rv-annotation")
    expect(cards).to_have_count(3)
    a = cards.filter(has_text=answered["a"])
    b = cards.filter(has_text=answered["b"])
    expect_final_answer(a)
    expect(a.locator("dd.rv-differs")).to_have_count(0)
    # the data: the uploaded image itself, not its file name
    media = page.locator('#rv-context [data-key="image"] img')
    expect(media).to_have_attribute("src", MEDIA_URL)
    expect(media).to_have_js_property("naturalWidth", W)

    # B differs from the most common answer on every field but the ranking
    expect(b.locator("dd.rv-differs")).to_have_count(7)
    expect(value_of(b, "order")).not_to_have_class("rv-differs")
    expect(value_of(b, "sentiment").locator(".lh-d-option")).to_have_text("Negative")
    expect(value_of(b, "topics")).to_contain_text("none of these")
    expect(value_of(b, "quality").locator(".lh-d-scale li.is-selected")).to_have_text("2")
    expect(value_of(b, "quality").locator(".lh-d-rubric")).to_contain_text("Mostly unhelpful")
    expect(value_of(b, "note")).to_contain_text("not answered")
    # within a field, the items the most common answer lacks are marked
    extra = value_of(b, "entities").locator("mark.is-differs")
    expect(extra).to_have_text("Babbage")
    expect(value_of(b, "entities").locator("mark")).to_have_text(["Ada Lovelace", "Babbage"])
    pair = value_of(b, "preference")
    expect(pair.locator(".lh-response.is-chosen")).to_have_attribute("data-response-index", "1")
    expect(pair.locator(".is-chosen .lh-d-verdict")).to_have_text("Preferred · slightly")
    boxes = value_of(b, "objects")
    expect(boxes.locator("g.lh-box")).to_have_count(2)
    expect(boxes.locator("g.lh-box.is-differs")).to_have_attribute("data-label", "square")
    expect(boxes.locator("g.lh-box.is-differs text")).to_have_text("Square")
    expect_box_drawn_at(boxes, 1, OTHER["objects"][1])
    assert page.locator(".rv-annotation pre").count() == 0  # no JSON left
    screenshot(page, "display-review")
    assert console_errors == []


def test_task_page_draws_answers_side_by_side_and_revisions_as_diffs(
    page: Page, live_server, answered, console_errors
):
    login(page, live_server.owner_email)
    page.goto(f"/tasks/{answered['task_id']}")
    cards = page.locator("article.annotation")
    expect(cards).to_have_count(3)
    a = cards.filter(has_text=answered["a"])
    b = cards.filter(has_text=answered["b"])
    expect_final_answer(a)
    expect(a.locator("dd.lh-differs")).to_have_count(0)
    expect(b.locator("dd.lh-differs")).to_have_count(7)
    expect(value_of(b, "preference").locator(".is-chosen .lh-response-body")).to_have_text(
        "Second response"
    )
    expect(value_of(b, "objects").locator("g.lh-box.is-differs")).to_have_count(1)
    box_a, box_b = a.bounding_box(), b.bounding_box()
    assert box_a and box_b and abs(box_a["y"] - box_b["y"]) < 2  # side by side

    a.locator(".history summary").click()
    revisions = a.locator(".revisions > li")
    expect(revisions).to_have_count(2)
    latest = revisions.nth(0)
    expect(latest).to_contain_text("revision 2")
    changed = latest.locator(".lh-revision-field")
    # only the fields that changed, each as what changed
    expect(changed).to_have_count(4)
    sentiment = latest.locator('.lh-revision-field[data-field="sentiment"]')
    expect(sentiment.locator("del")).to_have_text("Neutral")
    expect(sentiment.locator("ins")).to_have_text("Positive")
    note = latest.locator('.lh-revision-field[data-field="note"] .lh-changes.is-inline')
    expect(note.locator("del")).to_have_text(["fine."])
    expect(note.locator("ins")).to_have_text(["clearly better <script>alert(1)</script>"])
    expect(note.locator("script")).to_have_count(0)
    expect(note).to_have_text("The first response is fine.clearly better <script>alert(1)</script>")
    entities = latest.locator('.lh-revision-field[data-field="entities"] li')
    expect(entities).to_have_text(["+added: “London” (Location)"])
    expect(entities.locator("ins")).to_have_text("“London” (Location)")
    objects = latest.locator('.lh-revision-field[data-field="objects"] li')
    expect(objects).to_have_attribute("data-op", "changed")
    expect(objects).to_contain_text("circle: 42, 22 · 120×80 → 40, 20 · 120×80")
    # the first revision is the whole first answer, drawn by the widgets
    first = revisions.nth(1)
    expect(first.locator("mark.lh-d-mark")).to_have_text(["Ada Lovelace"])
    expect(first.locator('dd[data-field="sentiment"] .lh-d-option')).to_have_text("Neutral")
    expect(a.locator(".revisions pre")).to_have_count(0)  # no raw JSON
    screenshot(page, "display-task")
    assert console_errors == []


def test_my_submissions_show_my_answer_drawn(page: Page, live_server, answered, console_errors):
    login(page, answered["a"])
    page.goto(f"/projects/{answered['pid']}/annotate")
    page.keyboard.press("h")
    entry = page.locator("#an-history li").first
    expect(entry).to_contain_text("every-kind")
    entry.locator("summary", has_text="My answer").click()
    view = entry.locator(".an-history-answer-body")
    expect(view.locator("dl.an-history-answer-view")).to_be_visible()
    expect(value_of(view, "sentiment").locator(".lh-d-option")).to_have_text("Positive")
    expect(value_of(view, "entities").locator("mark")).to_have_text(["Ada Lovelace", "London"])
    expect(value_of(view, "preference").locator(".is-chosen")).to_have_attribute(
        "data-response-index", "0"
    )
    expect(value_of(view, "quality").locator(".lh-d-scale li.is-selected")).to_have_text("4")
    expect(value_of(view, "objects").locator("g.lh-box")).to_have_count(1)
    expect(value_of(view, "order").locator(".lh-response-body")).to_have_text(
        ["beta", "alpha", "gamma"]
    )
    screenshot(page, "display-history")
    assert console_errors == []


def test_quality_hot_spots_show_the_answers_side_by_side(
    page: Page, live_server, answered, console_errors
):
    login(page, live_server.reviewer_email)
    page.goto(f"/projects/{answered['pid']}/quality")
    row = page.locator("#hotspot-table tbody tr").filter(has_text=f"task {answered['task_id']}")
    row.get_by_role("button", name="Show answers").click()
    cards = page.locator(".hotspot-answers .hotspot-answer")
    expect(cards).to_have_count(3)
    a = cards.filter(has_text=answered["a"])
    b = cards.filter(has_text=answered["b"])
    expect_final_answer(a)
    expect(a.locator("dd.lh-differs")).to_have_count(0)
    expect(b.locator("dd.lh-differs")).to_have_count(7)
    expect(value_of(b, "entities").locator("mark.is-differs")).to_have_text("Babbage")
    screenshot(page, "display-quality")
    page.get_by_role("button", name="Hide answers").click()
    expect(page.locator(".hotspot-answers")).to_have_count(0)
    assert console_errors == []
