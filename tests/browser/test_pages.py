"""Project pages in real Chromium: projects list and creation, overview, roles, and safe
rendering of untrusted text. (Settings: test_pages_settings.py; import, tasks and export:
test_pages_data.py; account: test_pages_account.py.)"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from labelhouse.projects.models import Project
from tests.browser.conftest import login, screenshot
from tests.browser.page_factories import (
    annotate,
    new_project,
    new_user,
    text_rows,
    unexpected,
    unique,
)


def test_projects_list_and_create_project(page: Page, live_server, console_errors):
    pid = new_project(live_server, rows=text_rows(4), name=unique("Listed"), overlap=1)
    annotate(live_server, live_server.annotator, pid, {"item-0": {"label": "pos"}})
    login(page, live_server.owner_email)

    card = page.locator("li.project").filter(has=page.locator(f"a[href='/projects/{pid}']"))
    expect(card.get_by_role("img")).to_have_attribute(
        "aria-label", "1 of 4 tasks done, 0 in progress"
    )
    expect(card.locator(".legend")).to_contain_text("3 remaining")
    screenshot(page, "projects")

    # A bad schema is reported next to the form, naming the field and the problem.
    name = unique("Created")
    form = page.locator("form[data-api='POST /api/projects']")
    form.get_by_label("Name", exact=True).fill(name)
    form.get_by_label("Label schema").fill("fields:\n  - {name: x, kind: nonsense}\n")
    form.get_by_role("button", name="Create project").click()
    expect(form.locator(".form-result")).to_contain_text("unknown kind")

    form.get_by_label("Label schema").fill(
        'fields:\n  - {name: label, kind: choice, reads: [text], options: [{value: "yes"}, {value: "no"}]}\n'
    )
    form.get_by_label("Annotators per task").fill("2")
    form.get_by_role("button", name="Create project").click()
    expect(page).to_have_url(re.compile(r"/projects/\d+/settings$"))
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    new_id = int(page.url.split("/")[-2])
    with live_server.db.read_session() as s:
        created = s.get(Project, new_id)
        assert (created.name, created.overlap) == (name, 2)

    page.goto("/")
    expect(page.get_by_role("link", name=name)).to_be_visible()
    assert unexpected(console_errors, 422) == []  # the bad schema's answer


def test_a_taken_project_name_is_reported_next_to_the_form(page: Page, live_server, console_errors):
    """Names are unique within an organization, ignoring case: the 409 names the project."""
    name = unique("Taken")
    pid = new_project(live_server, name=name)
    login(page, live_server.owner_email)
    form = page.locator("form[data-api='POST /api/projects']")
    form.get_by_label("Name", exact=True).fill(f"  {name.upper()} ")
    form.get_by_role("button", name="Create project").click()
    expect(form.locator(".form-result")).to_have_text(
        f"Project {pid} is already named '{name}' (names are compared ignoring case): choose "
        f"another name, or rename project {pid} first."
    )
    expect(page).to_have_url(re.compile(r"/$|/projects$"))  # no new project to go to
    with live_server.db.read_session() as s:
        assert s.scalar(select(func.count()).where(func.lower(Project.name) == name.lower())) == 1
    assert unexpected(console_errors, 409) == []


def test_overview_progress_chart_and_activity(page: Page, live_server, console_errors):
    pid = new_project(live_server, rows=text_rows(5), overlap=2)
    other, other_email = new_user(live_server)
    annotate(
        live_server, live_server.annotator, pid, {f"item-{i}": {"label": "pos"} for i in range(3)}
    )
    annotate(live_server, other, pid, {"item-0": {"label": "neg"}})
    login(page, live_server.owner_email)
    page.goto(f"/projects/{pid}")

    stats = page.get_by_role("region", name="Progress")
    expect(stats.locator(".stat-value").first).to_have_text("5")
    expect(stats.locator(".stat.done .stat-value")).to_have_text("1")  # item-0 has 2 of 2
    expect(stats.locator(".stat.busy .stat-value")).to_have_text("2")
    rows = page.locator("#annotator-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(live_server.annotator_email)
    expect(rows.nth(0).locator("td").nth(1)).to_have_text("3")
    expect(rows.nth(1)).to_contain_text(other_email)

    chart = page.locator("svg.chart")
    expect(chart).to_have_attribute("aria-label", re.compile("per day"))
    expect(chart.locator("g.bar")).to_have_count(30)
    today = datetime.now(UTC).date().isoformat()
    assert chart.locator("g.bar title").last.text_content() == f"{today}: 4 annotations"

    expect(page.locator("#recent-annotations li")).to_have_count(4)
    expect(page.locator("#recent-annotations")).to_contain_text("item number 0")
    events = page.locator("#project-events")
    expect(events).to_contain_text("imported tasks: format jsonl, rows 5, created 5")
    expect(events).to_contain_text("created the project")
    expect(page.get_by_role("navigation", name="Project").get_by_role("link")).to_have_text(
        ["Overview", "Annotate", "Tasks", "Review", "Import", "Export", "Quality", "Settings"]
    )
    screenshot(page, "overview")
    assert console_errors == []


def test_roles_see_only_what_they_may(page: Page, live_server, console_errors):
    pid = new_project(live_server, rows=text_rows(2))

    login(page, live_server.annotator_email)
    expect(page.locator(f"a.project-name[href='/projects/{pid}/annotate']")).to_be_visible()
    for path in (f"/projects/{pid}", f"/projects/{pid}/tasks", f"/projects/{pid}/settings"):
        response = page.goto(path)
        assert response.status == 403, path
        expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
        expect(page.get_by_role("link", name="Annotate this project")).to_have_attribute(
            "href", f"/projects/{pid}/annotate"
        )
    screenshot(page, "forbidden")
    page.get_by_role("button", name="Log out").click()

    login(page, live_server.reviewer_email)
    page.goto(f"/projects/{pid}")
    expect(page.get_by_role("navigation", name="Project").get_by_role("link")).to_have_text(
        ["Overview", "Annotate", "Tasks", "Review", "Quality", "Settings"]
    )
    assert page.goto(f"/projects/{pid}/import").status == 403
    assert page.goto(f"/projects/{pid}/export").status == 403
    page.goto(f"/projects/{pid}/settings")  # read-only for reviewers
    expect(page.get_by_text("You can read these settings")).to_be_visible()
    expect(page.get_by_label("Annotators per task")).to_be_disabled()
    expect(page.get_by_role("button", name="Save settings")).to_have_count(0)
    expect(page.get_by_role("button", name="Save as new version")).to_have_count(0)
    expect(page.locator("#member-table")).to_have_count(0)
    assert page.goto("/projects/999999").status == 404
    assert unexpected(console_errors, 403, 404) == []  # the refused pages themselves


XSS_TEXT = '<img src=x onerror="alert(1)"></script><script>alert(2)</script>'
XSS_MARKDOWN = (
    "# Guide\n\n"
    '<img src=x onerror="alert(3)"> and <script>alert(4)</script>\n\n'
    "[click me](javascript:alert(5)) **bold**\n"
)


def test_untrusted_text_never_executes(page: Page, live_server, console_errors):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    schema = {
        "fields": [
            {
                "name": "label",
                "kind": "choice",
                "reads": ["text"],
                "description": XSS_TEXT,
                "options": [{"value": "pos", "label": XSS_TEXT}, {"value": "neg"}],
            },
            {"name": "note", "kind": "text", "required": False},
        ]
    }
    pid = new_project(
        live_server,
        rows=[{"external_id": "</script><b>x</b>", "text": XSS_TEXT}],
        instructions=XSS_MARKDOWN,
        name=unique('<img src=x onerror="alert(6)">'),
        schema=schema,
    )
    done = annotate(
        live_server,
        live_server.annotator,
        pid,
        {"</script><b>x</b>": {"label": "pos", "note": XSS_TEXT}},
    )
    task_id = done["</script><b>x</b>"]
    login(page, live_server.owner_email)

    page.goto(f"/projects/{pid}/tasks")
    expect(page.locator("#task-table")).to_contain_text(XSS_TEXT)
    expect(page.locator("#task-table")).to_contain_text("</script><b>x</b>")
    page.goto(f"/tasks/{task_id}")
    expect(page.locator(".task-data .long-text")).to_have_text(XSS_TEXT)
    expect(page.locator(".annotation .answer")).to_contain_text(XSS_TEXT)
    page.locator(".history summary").click()
    expect(page.locator(".revisions")).to_contain_text("onerror")
    screenshot(page, "xss-task")
    page.goto(f"/projects/{pid}")
    instructions = page.locator("#instructions")
    expect(instructions.locator("h1")).to_have_text("Guide")
    expect(instructions.locator("strong")).to_have_text("bold")
    expect(instructions).to_contain_text('<img src=x onerror="alert(3)">')
    expect(instructions).to_contain_text("<script>alert(4)</script>")
    expect(page.locator("#recent-annotations")).to_contain_text("onerror")
    page.goto(f"/projects/{pid}/settings")  # instructions preview + JSON config block
    expect(page.locator("#instructions-preview strong")).to_have_text("bold")
    expect(page.locator("#schema-status")).to_contain_text("Valid")
    expect(page.locator("#schema-preview .preview-field").first).to_contain_text(XSS_TEXT)
    assert page.locator("img[src='x']").count() == 0
    screenshot(page, "xss-settings")
    scripts = page.locator("#main script")  # the schema editor's and the routing's data
    expect(scripts).to_have_count(2)
    for script in scripts.all():
        expect(script).to_have_attribute("type", "application/json")

    for path in (
        "/",
        f"/projects/{pid}",
        f"/projects/{pid}/tasks",
        f"/tasks/{task_id}",
        f"/projects/{pid}/import",
        f"/projects/{pid}/export",
    ):
        page.goto(path)
        assert page.locator("img[src='x']").count() == 0, path
        assert page.locator("a[href^='javascript']").count() == 0, path
        assert page.locator("#main script").count() == 0, path
    assert dialogs == []
    assert console_errors == []
