"""Every page type under axe-core (no serious or critical violation, colour contrast
included) and at phone width (390×844: no page scrolls sideways).

One walk per check, one page load per page: a lab with one project that has all it takes to
fill every page (tasks from a file with a long name, annotations by three annotators of two
vendor workforces, one of them flagged, review pending), a project per field kind for the
annotate page, and the people who see each page.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from labelhouse.annotations import service as annotations
from labelhouse.people import my_workforce, project_members, teams, workforces
from labelhouse.rubrics import service as rubrics
from labelhouse.tasks import queue
from labelhouse.tasks.importer import import_tasks
from tests.browser.a11y_support import (
    KIND_FIELDS,
    SERIOUS,
    axe_violations,
    describe_violations,
    kind_row,
    kind_schema,
    png,
    sideways_overflow,
    with_axe,
)
from tests.browser.annotate_support import make_project
from tests.browser.conftest import PASSWORD, LiveServer, screenshot
from tests.browser.page_factories import jsonl, new_project, new_user, unique

SCHEMA: dict[str, Any] = {
    "fields": [
        {
            "name": "sentiment",
            "kind": "choice",
            "reads": ["text"],
            "options": [{"value": "pos"}, {"value": "neg"}, {"value": "neu"}],
        },
        {"name": "pref", "kind": "pairwise"},
        {"name": "note", "kind": "text", "required": False},
    ]
}
TRUTH = ["pos", "neg", "neu", "pos", "neg", "pos", "neu", "neg", "pos", "neg", "pos", "neu"]
LONG_FILE = "customer-support-tickets-2026-11-export-from-the-helpdesk-deduplicated-final.jsonl"


@dataclass
class Site:
    project: int
    task: int
    kinds: dict[str, int]  # field kind → project with one field of that kind
    manager_email: str


def _rows(numbers: range) -> list[dict[str, Any]]:
    return [
        {
            "external_id": f"q{i}",
            "text": f"review number {i}",
            "prompt": f"Question {i}?",
            "responses": ["A short answer.", "A longer, more careful answer " * 3],
        }
        for i in numbers
    ]


def _work(live: LiveServer, actor, pid: int, answer, seconds: float) -> int:
    last = 0
    while True:
        with live.db.session() as s:
            lease = queue.claim_next(s, actor, pid)
            if lease is None:
                return last
            i = int(lease.task.external_id[1:])
            value = {"sentiment": answer(i), "pref": {"choice": "B", "strength": None}}
            annotations.save(s, actor, lease.task.id, value=value, lead_time_ms=int(seconds * 1000))
            last = lease.task.id


@pytest.fixture(scope="module")
def site(live_server: LiveServer) -> Site:
    live = live_server
    pid = new_project(
        live, rows=_rows(range(10)), schema=SCHEMA, name=unique("A11y lab"), overlap=3
    )
    with live.db.session() as s:
        queue.update_project(s, live.owner, pid, {"review_mode": "all"})
        more = io.BytesIO(jsonl(_rows(range(10, len(TRUTH)))))
        import_tasks(s, live.owner, pid, more, filename=LONG_FILE)
    careful = [new_user(live) for _ in range(2)]
    sloppy = new_user(live)
    with live.db.session() as s:
        team_ids = []
        for name, members in (("Acme", [*careful]), ("Rapid", [sloppy])):
            team = teams.create_team(s, live.owner, name=unique(name))
            teams.add_members(s, live.owner, team.id, emails=[email for _, email in members])
            workforces.update_workforce(
                s, live.owner, team.id, kind="vendor", price_per_task=0.1, currency="USD"
            )
            project_members.add_team(s, live.owner, pid, team_id=team.id, role="annotator")
            team_ids.append(team.id)
        my_workforce.set_manager(
            s, live.owner, team_ids[0], user_id=careful[0][0].user_id, manager=True
        )
    task = _work(live, careful[0][0], pid, lambda i: TRUTH[i], 9.0)
    _work(live, careful[1][0], pid, lambda i: TRUTH[i] if i % 4 else "neu", 14.0)
    _work(live, sloppy[0], pid, lambda i: "pos", 1.2)
    kinds = {
        kind: make_project(live, kind_schema(kind), [kind_row("k1")], images={"a11y.png": png()})
        for kind in KIND_FIELDS
    }
    with live.db.session() as s:  # the rubric kind names a rubric of the organization
        rubric = rubrics.create_rubric(s, live.owner, name=unique("Reply quality"), criteria=RUBRIC)
    field = {"name": "grade", "kind": "rubric", "rubric_id": rubric.rubric.id, "version": 1}
    kinds["rubric"] = make_project(
        live, {"fields": [{**field, "reads": ["text"]}]}, [kind_row("k1")]
    )
    return Site(project=pid, task=task, kinds=kinds, manager_email=careful[0][1])


RUBRIC = [
    {"name": "helpfulness", "min": 1, "max": 5, "anchors": {"1": "Useless", "5": "Complete"}},
    {"name": "safety", "scale": "pass_fail", "critical": True},
]


def _pages(site: Site) -> list[tuple[str, str]]:
    """(who, path) for every page type; who: anonymous, owner, reviewer, annotator, manager."""
    p = site.project
    return [
        ("anonymous", "/login"),
        ("anonymous", "/invite#token=not-a-real-token"),
        ("owner", "/"),
        ("owner", f"/projects/{p}"),
        ("owner", f"/projects/{p}/tasks"),
        ("owner", f"/tasks/{site.task}"),
        ("owner", f"/projects/{p}/import"),
        ("owner", f"/projects/{p}/export"),
        ("owner", f"/projects/{p}/settings"),
        ("owner", f"/projects/{p}/quality"),
        ("owner", f"/projects/{p}/workforces"),
        ("owner", "/people"),
        ("owner", "/rubrics"),
        ("owner", "/audit"),
        ("owner", "/account"),
        ("owner", "/projects/999999"),  # the error page
        ("reviewer", f"/projects/{p}/review"),
        ("manager", "/workforce"),
        *(("annotator", f"/projects/{pid}/annotate") for pid in site.kinds.values()),
    ]


class Visitors:
    """One logged-in browser context per kind of person, each with axe in every page."""

    def __init__(self, browser: Browser, args: dict[str, Any], live: LiveServer, site: Site):
        self.browser, self.args = browser, args
        self.emails = {
            "owner": live.owner_email,
            "reviewer": live.reviewer_email,
            "annotator": live.annotator_email,
            "manager": site.manager_email,
        }
        self.pages: dict[str, Page] = {}
        self.contexts: list[BrowserContext] = []
        self.errors: list[str] = []
        self.in_flight: dict[Page, set[Any]] = {}

    def page(self, who: str) -> Page:
        if who not in self.pages:
            context = with_axe(self.browser.new_context(**self.args))
            self.contexts.append(context)
            page = context.new_page()
            self.in_flight[page] = set()
            page.on("request", lambda r, p=page: self.in_flight[p].add(r))
            page.on("requestfinished", lambda r, p=page: self.in_flight[p].discard(r))
            page.on("requestfailed", lambda r, p=page: self.in_flight[p].discard(r))
            page.on("pageerror", lambda exc: self.errors.append(f"{who}: {exc}"))
            page.on(
                "console",
                lambda m: self.errors.append(f"{who}: {m.text}") if m.type == "error" else None,
            )
            if who != "anonymous":
                page.goto("/login")
                page.get_by_label("E-mail").fill(self.emails[who])
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Log in").click()
                expect(page).not_to_have_url(re.compile(r"/login"))
            self.pages[who] = page
        return self.pages[who]

    def open(self, who: str, path: str) -> Page:
        page = self.page(who)
        page.goto(path)
        self.settle(page)
        if path.endswith("/annotate"):
            expect(page.locator("#an-task-ref")).to_contain_text("Task #")
            page.wait_for_function(
                "() => !document.querySelector('.lh-boxes') || document.querySelector('.lh-boxes.is-loaded')"
            )
        return page

    def settle(self, page: Page) -> None:
        """Wait until the page's scripts have fetched what they draw (no request in flight
        for two frames running): quicker than "networkidle", which waits half a second."""
        quiet = 0
        for _ in range(500):
            page.evaluate("() => new Promise((done) => requestAnimationFrame(() => done()))")
            quiet = quiet + 1 if not self.in_flight[page] else 0
            if quiet >= 2:
                return
        raise AssertionError(f"{page.url} never stopped loading: {self.in_flight[page]}")

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def visitors(
    browser: Browser, browser_context_args: dict, live_server: LiveServer, site: Site
) -> Iterator[Visitors]:
    v = Visitors(browser, browser_context_args, live_server, site)
    yield v
    v.close()


def _name(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "projects"


def test_no_page_has_serious_axe_violations(visitors: Visitors, site: Site):
    failures = []
    checked = 0
    for who, path in _pages(site):
        page = visitors.open(who, path)
        found = [v for v in axe_violations(page) if v["impact"] in SERIOUS]
        checked += 1
        if found:
            failures.append(describe_violations(f"{who} {path}", found))
    assert checked == len(_pages(site))
    assert not failures, "axe found serious or critical problems:\n" + "\n".join(failures)
    # the 404 page is requested on purpose; nothing else may log an error
    assert [e for e in visitors.errors if "status of 404" not in e] == []


@pytest.fixture
def phone_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": {"width": 390, "height": 844}}


def test_no_page_scrolls_sideways_on_a_phone(
    browser: Browser, phone_args: dict, live_server: LiveServer, site: Site
):
    visitors = Visitors(browser, phone_args, live_server, site)
    failures = []
    try:
        for who, path in _pages(site):
            page = visitors.open(who, path)
            wide = sideways_overflow(page)
            if wide:
                screenshot(page, f"phone-{_name(path)}")
                failures.append(
                    f"{who} {path}: {wide['scrollWidth']} px wide in a {wide['innerWidth']} px "
                    f"window; past the edge: {', '.join(wide['past'])}"
                )
            if who != "anonymous":  # the whole top bar, "Log out" included, is on screen
                logout = page.get_by_role("button", name="Log out")
                box = logout.bounding_box()
                if box is None or box["x"] < 0 or box["x"] + box["width"] > 390:
                    failures.append(f"{who} {path}: 'Log out' is cut off at {box}")
    finally:
        visitors.close()
    assert not failures, "pages wider than a 390 px phone:\n" + "\n".join(failures)
    assert [e for e in visitors.errors if "status of 404" not in e] == []


def test_quality_annotators_table_shows_its_flags(visitors: Visitors, site: Site):
    """Issue 13 item 7: at 1280 px the Annotators table clipped its Flags column."""
    page = visitors.open("owner", f"/projects/{site.project}/quality")
    table = page.locator("#scorecard-table")
    box = table.locator("xpath=..").bounding_box()
    for header in table.locator("thead th").all():
        h = header.bounding_box()
        assert h["x"] + h["width"] <= box["x"] + box["width"] + 0.5, header.inner_text()
    flagged = table.locator("tbody tr").filter(has=page.locator(".badge.flag"))
    expect(flagged).to_have_count(1)
    flag = flagged.locator(".badge.flag").first.bounding_box()
    assert flag["x"] + flag["width"] <= box["x"] + box["width"] + 0.5
    screenshot(page, "quality-annotators-1280")
