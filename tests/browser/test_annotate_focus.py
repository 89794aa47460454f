"""Keyboard focus on the annotate page: keys in a widget keep the focus in it, Tab walks
every control of the page once per round (top bar and tools included, never looping inside
the task), and on a phone the sticky submit bar never hides the control that has the focus.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.a11y_support import (
    KIND_FIELDS,
    focused,
    kind_row,
    kind_schema,
    png,
    tab_cycle,
    tabbable,
)
from tests.browser.annotate_support import (
    field,
    make_project,
    open_annotate,
    stored,
    submit_and_wait,
)
from tests.browser.conftest import screenshot

IMAGES = {"a11y.png": png()}

IN_FIELD = "name => document.querySelector(`section.lh-field[data-field='${name}']`).contains(document.activeElement)"


def focus_in(page: Page, name: str) -> bool:
    return page.evaluate(IN_FIELD, name)


def test_ranking_keys_keep_the_focus_and_tab_moves_on(page: Page, live_server, console_errors):
    """Issue 13 item 4: after a ranking key the focus fell to the page body, so Tab went
    back into the ranking, box keys did nothing and the typed note was lost."""
    pid = make_project(
        live_server, kind_schema("ranking", "boxes", "text"), [kind_row("r")], images=IMAGES
    )
    open_annotate(page, live_server, pid)
    page.wait_for_function("() => document.querySelector('.lh-boxes.is-loaded')")
    ranking = field(page, "order")
    items = ranking.locator(".lh-rank-item")
    shown = [int(i) for i in items.evaluate_all("els => els.map(e => e.dataset.responseIndex)")]
    assert focus_in(page, "order")
    page.keyboard.press("Enter")  # keep the order as shown
    assert focus_in(page, "order"), "Enter dropped the focus"
    page.keyboard.press("3")  # pick the third response
    assert focus_in(page, "order"), "picking dropped the focus"
    page.keyboard.press("ArrowUp")  # … and move it up
    assert focus_in(page, "order"), "ArrowUp dropped the focus"
    page.keyboard.press("ArrowUp")
    assert focus_in(page, "order"), "ArrowUp dropped the focus"
    expect(items.first).to_have_attribute("data-response-index", str(shown[2]))

    # Tab goes forward out of the ranking, never back into it, to the boxes
    visited = []
    for _ in range(10):
        page.keyboard.press("Tab")
        if focus_in(page, "objects"):
            break
        assert focus_in(page, "order"), "Tab left the ranking, but not for the boxes"
        visited.append(focused(page))
    else:
        raise AssertionError(f"Tab never reached the boxes: {visited}")
    assert len(visited) == len(set(visited))
    while not page.evaluate("() => document.activeElement.classList.contains('lh-box-viewport')"):
        page.keyboard.press("Tab")
        assert focus_in(page, "objects")
    page.keyboard.press("n")  # a box with the current label
    expect(field(page, "objects").locator(".lh-box-item")).to_have_count(1)
    page.keyboard.press("Alt+ArrowDown")  # to the note
    assert focus_in(page, "note")
    page.keyboard.type("kept")
    submit_and_wait(page)
    value = stored(live_server, pid)["r"]
    ranks = [0, 0, 0]
    for rank, response in enumerate([shown[2], shown[0], shown[1]], start=1):
        ranks[response] = rank
    assert value["order"] == ranks
    assert value["note"] == "kept"
    assert [b["label"] for b in value["objects"]] == ["cat"]
    assert console_errors == []


@pytest.mark.parametrize("kind", list(KIND_FIELDS))
def test_tab_reaches_every_control_once_per_round(page: Page, live_server, console_errors, kind):
    """Issue 13 item 5: Tab looped field → Submit → Skip → field; the top bar and the tools
    were reachable only with Shift+Tab."""
    pid = make_project(live_server, kind_schema(kind), [kind_row("t")], images=IMAGES)
    open_annotate(page, live_server, pid)
    if kind == "boxes":
        page.wait_for_function("() => document.querySelector('.lh-boxes.is-loaded')")
    assert focus_in(page, KIND_FIELDS[kind]["name"])  # the page starts in the field
    expected = tabbable(page)
    cycle = tab_cycle(page)
    assert len(cycle) == len(set(cycle)), f"a control was reached twice in one round: {cycle}"
    assert sorted(cycle) == sorted(expected), (
        f"missed: {sorted(set(expected) - set(cycle))}; not expected: {sorted(set(cycle) - set(expected))}"
    )
    names = " ".join(cycle)
    for control in ("Labelhouse", "Log out", "My submissions", "Instructions", "Keys", "Submit"):
        assert control in names, f"Tab never reached {control}: {cycle}"
    assert console_errors == []


TALL = kind_schema("choice", "pairwise", "ranking", "boxes", "text")


def test_on_a_phone_the_submit_bar_never_hides_the_focus(page: Page, live_server, console_errors):
    """Issue 13 item 6: at 390×844 the sticky footer covered the form; pairwise stayed in
    two narrow columns."""
    page.set_viewport_size({"width": 390, "height": 844})
    pid = make_project(live_server, TALL, [kind_row("p")], images=IMAGES)
    open_annotate(page, live_server, pid)
    page.wait_for_function("() => document.querySelector('.lh-boxes.is-loaded')")
    width = page.evaluate("() => document.scrollingElement.scrollWidth")
    assert width <= 390
    # pairwise: the responses are stacked, each as wide as the field
    left = field(page, "preference").locator(".lh-response").nth(0).bounding_box()
    right = field(page, "preference").locator(".lh-response").nth(1).bounding_box()
    assert right["y"] >= left["y"] + left["height"], (left, right)
    assert left["width"] > 300
    screenshot(page, "annotate-phone")
    hidden = []
    for _ in range(60):
        page.keyboard.press("Tab")
        where = page.evaluate(
            """() => {
                const el = document.activeElement, bar = document.getElementById("an-actions");
                if (!el || !document.getElementById("an-task").contains(el)) return null;
                const r = el.getBoundingClientRect(), b = bar.getBoundingClientRect();
                return {what: el.outerHTML.slice(0, 70), top: r.top, bottom: Math.min(r.bottom, innerHeight), bar: b.top};
            }"""
        )
        if where is None:
            if page.evaluate("() => document.activeElement.id === 'an-submit'"):
                break
            continue
        # at least half of what has the focus shows above the bar (big regions scroll)
        visible = min(where["bottom"], where["bar"]) - where["top"]
        if visible < min(24, (where["bottom"] - where["top"]) / 2):
            hidden.append(where)
    assert hidden == [], f"the submit bar hid the focused control: {hidden}"
    assert console_errors == []
