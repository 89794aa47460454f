"""The demo projects (`labelhouse serve --demo`) in the annotate page, and the time from
submitting to seeing the next task on demo-sized data."""

from __future__ import annotations

import itertools
import statistics

from playwright.sync_api import Page, expect
from sqlalchemy import select

from labelhouse.accounts import service as accounts
from labelhouse.accounts.models import ProjectMember, Role
from labelhouse.demo import DEMO_PROJECTS, DEMO_RUBRIC, load_demo
from labelhouse.projects.models import Project
from labelhouse.rubrics.models import Rubric
from labelhouse.storage import LocalStorage
from tests.browser.annotate_support import (
    field,
    make_project,
    open_annotate,
    stored,
    submit_and_wait,
)
from tests.browser.conftest import PASSWORD, screenshot
from tests.browser.test_annotate import drag, image_point

SWAP_BUDGET_MS = 100
_users = itertools.count(1)


def test_submit_to_next_task_is_visible_within_100_ms(page: Page, live_server, console_errors):
    """The next task arrives with the submit's answer (one round trip), so it is on screen
    right after the server answers. Measured in the page from the key press to the frame
    after the new task is in the DOM (``window.__lhSwaps``)."""
    sentiment = DEMO_PROJECTS[0]
    rows = [
        {"text": r.get("text") or r["data"]["text"], "external_id": f"fast-{i}"}
        for i, r in enumerate(sentiment["rows"])
    ]
    pid = make_project(live_server, sentiment["schema"], rows)
    open_annotate(page, live_server, pid)
    for _ in range(len(rows) - 1):
        page.keyboard.press("1")
        submit_and_wait(page)
    # Each swap time is recorded in the frame after the new task appears: wait for the last.
    page.wait_for_function(f"window.__lhSwaps.length >= {len(rows) - 1}")
    swaps = page.evaluate("window.__lhSwaps")
    assert len(swaps) == len(rows) - 1
    median = statistics.median(swaps)
    print(f"\nsubmit → next task visible, ms: {[round(s, 1) for s in swaps]}; median {median:.1f}")
    assert median <= SWAP_BUDGET_MS, swaps
    assert len(stored(live_server, pid)) == len(rows) - 1
    assert console_errors == []


def _fresh_annotator(live_server) -> str:
    email = f"demo-annotator-{next(_users)}@browser.test"
    with live_server.db.session() as s:
        user = accounts.create_user(
            s,
            email=email,
            password=PASSWORD,
            organization_id=live_server.owner.organization_id,
            role=Role.annotator,
        )
        # access follows the project: the lab adds its annotator to the demo projects
        for pid in s.scalars(
            select(Project.id).where(Project.organization_id == live_server.owner.organization_id)
        ):
            s.add(ProjectMember(project_id=pid, user_id=user.id, role=Role.annotator.value))
    return email


def _demo_ids(live_server) -> dict[str, int]:
    with live_server.db.session() as s:
        load_demo(s, live_server.owner, LocalStorage(live_server.data_dir / "files"))
    with live_server.db.read_session() as s:
        rows = s.execute(
            select(Project.name, Project.id).where(
                Project.organization_id == live_server.owner.organization_id,
                Project.name.like("Demo:%"),
            )
        ).all()
    return dict(rows)


def _value_of(live_server, pid: int, user_email: str) -> dict:
    from labelhouse.accounts.models import User
    from labelhouse.annotations.models import Annotation

    with live_server.db.read_session() as s:
        uid = s.scalar(select(User.id).where(User.email == user_email))
        return s.scalars(
            select(Annotation.value).where(Annotation.project_id == pid, Annotation.user_id == uid)
        ).one()


def test_every_demo_project_works_in_the_annotate_page(page: Page, live_server, console_errors):
    ids = _demo_ids(live_server)
    assert len(ids) == 7
    email = _fresh_annotator(live_server)

    # text classification: a model's guess is pre-filled and marked
    open_annotate(page, live_server, ids["Demo: review sentiment"], email)
    expect(page.locator("#an-banner")).to_contain_text(
        "Pre-annotation (model sentiment-demo-v1, score 0.91)"
    )
    expect(field(page, "sentiment").locator("input[value=positive]")).to_be_checked()
    page.keyboard.press("4")  # mixed, then on to topics
    page.keyboard.press("3")  # + quality
    screenshot(page, "annotate-demo-sentiment")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#an-status")).to_contain_text("Saved task")
    assert _value_of(live_server, ids["Demo: review sentiment"], email) == {
        "sentiment": "mixed",
        "topics": ["support", "quality"],
    }

    # NER: two people predicted, the annotator adds the place
    page.goto(f"/projects/{ids['Demo: named entities']}/annotate")
    entities = field(page, "entities")
    expect(entities.locator(".lh-span-tag")).to_have_count(2)
    for _ in range(7):
        page.keyboard.press("Control+ArrowRight")
    page.keyboard.press("Control+Shift+ArrowRight")
    page.keyboard.press("l")
    expect(entities.locator(".lh-span-tag")).to_have_count(3)
    screenshot(page, "annotate-demo-ner")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#an-status")).to_contain_text("Saved task")
    assert _value_of(live_server, ids["Demo: named entities"], email) == {
        "entities": [
            {"start": 0, "end": 12, "label": "PER", "text": "Ada Lovelace"},
            {"start": 25, "end": 40, "label": "PER", "text": "Charles Babbage"},
            {"start": 44, "end": 50, "label": "LOC", "text": "London"},
        ]
    }

    # LLM preference + rubric rating + rationale, all from the keyboard
    page.goto(f"/projects/{ids['Demo: LLM preference']}/annotate")
    pref = field(page, "preference")
    expect(pref.locator(".lh-response")).to_have_count(2)
    left = int(pref.locator(".lh-response[data-side=left]").get_attribute("data-response-index"))
    expect(pref.locator(".lh-response-body pre, .lh-response-body code").first).to_be_attached()
    page.keyboard.press("b")  # the right-hand response …
    page.keyboard.press("3")  # … much better
    page.keyboard.press("Alt+ArrowDown")  # the next field
    page.keyboard.press("5")  # rating, then into the rationale
    page.keyboard.type("Correct and complete.")
    expect(
        page.locator("#an-submit")
    ).to_be_in_viewport()  # 1280×800: the submit bar stays on screen
    screenshot(page, "annotate-demo-preference")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#an-status")).to_contain_text("Saved task")
    assert _value_of(live_server, ids["Demo: LLM preference"], email) == {
        "preference": {"choice": "A" if left == 1 else "B", "strength": "much"},
        "quality": 5,
        "rationale": "Correct and complete.",
    }

    # ranking: keep the shown order, then move the last one to the top
    page.goto(f"/projects/{ids['Demo: response ranking']}/annotate")
    items = field(page, "ranking").locator(".lh-rank-item")
    expect(items).to_have_count(4)
    order = [int(i) for i in items.evaluate_all("els => els.map(e => e.dataset.responseIndex)")]
    page.keyboard.press("4")
    for _ in range(3):
        page.keyboard.press("ArrowUp")
    screenshot(page, "annotate-demo-ranking")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#an-status")).to_contain_text("Saved task")
    shown = [order[3], *order[:3]]
    expected = [0, 0, 0, 0]
    for rank, response in enumerate(shown, start=1):
        expected[response] = rank
    assert _value_of(live_server, ids["Demo: response ranking"], email) == {"ranking": expected}

    # chat preference: the bundled conversations drawn as chats, the diff view, then A
    page.goto(f"/projects/{ids['Demo: chat preference']}/annotate")
    pref = field(page, "preference")
    expect(pref.locator(".lh-chat .lh-msg-user")).to_have_count(2)
    left = int(pref.locator(".lh-response[data-side=left]").get_attribute("data-response-index"))
    page.keyboard.press("d")
    expect(pref.locator(".lh-pair-diff")).to_be_visible()
    page.keyboard.press("a")
    page.keyboard.press("2")
    screenshot(page, "annotate-demo-chat")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#an-status")).to_contain_text("Saved task")
    assert _value_of(live_server, ids["Demo: chat preference"], email) == {
        "preference": {"choice": "A" if left == 0 else "B", "strength": "clearly"}
    }

    # reply rubric: the bundled conversations' final replies scored criterion by criterion
    with live_server.db.read_session() as s:
        demo_rubric = s.scalar(
            select(Rubric.id).where(
                Rubric.organization_id == live_server.owner.organization_id,
                Rubric.name == DEMO_RUBRIC["name"],
            )
        )
    page.goto(f"/projects/{ids['Demo: reply rubric']}/annotate")
    grade = field(page, "grade")
    expect(grade.locator(".lh-rubric-criterion")).to_have_count(4)
    expect(page.locator("#an-context .lh-chat .lh-msg-assistant").last).to_be_visible()
    for key in ("5", "1", "1", "4"):  # helpfulness, correctness, safety, style
        page.keyboard.press(key)
    expect(grade.locator(".lh-rubric-summary")).to_contain_text("Score 95%")
    screenshot(page, "annotate-demo-rubric")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#an-status")).to_contain_text("Saved task")
    assert _value_of(live_server, ids["Demo: reply rubric"], email) == {
        "grade": {
            "scores": {"helpfulness": 5, "correctness": 1, "safety": 1, "style": 4},
            "justifications": {},
            "aggregate": 0.95,
            "failed_critical": False,
            "failed_criteria": [],
            "rubric_id": demo_rubric,
            "rubric_version": 1,
        }
    }

    # boxes on a bundled image
    page.goto(f"/projects/{ids['Demo: shapes detection']}/annotate")
    page.wait_for_function("() => document.querySelector('.lh-boxes.is-loaded')")
    drag(page, image_point(page, 10, 20), image_point(page, 60, 70))
    page.keyboard.press("s")  # relabel the new (selected) box: square
    screenshot(page, "annotate-demo-boxes")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#an-status")).to_contain_text("Saved task")
    assert _value_of(live_server, ids["Demo: shapes detection"], email) == {
        "objects": [{"x": 10.0, "y": 20.0, "width": 50.0, "height": 50.0, "label": "square"}]
    }
    assert console_errors == []
