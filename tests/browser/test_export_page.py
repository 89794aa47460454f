"""The Export page offers every export the API offers (issue 13 item 9a): each format, raw,
consensus or both, each consensus method, drafts and the CSV formula option; a download
from the page is the API's export for the same parameters, byte for byte."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Page, expect

from labelhouse.accounts.models import Role
from labelhouse.exports.service import CONTENTS
from labelhouse.exports.writers import CSV_FORMULAS, FORMATS
from labelhouse.quality_report.fields import METHODS
from tests.browser.conftest import login, screenshot
from tests.browser.page_factories import annotate, new_project, new_user, text_rows

ANSWERS = {
    "item-0": ("pos", "pos", "neg"),
    "item-1": ("neg", "neu", "neu"),
    "item-2": ("neu", "neu", "neu"),
}


def _project_with_three_annotators(live) -> int:
    pid = new_project(live, rows=text_rows(4), overlap=3)
    for n in range(3):
        actor, _ = new_user(live, Role.annotator)
        annotate(live, actor, pid, {k: {"label": v[n]} for k, v in ANSWERS.items()})
    return pid


def test_export_page_offers_every_option_the_api_takes(page: Page, live_server, console_errors):
    pid = new_project(live_server, rows=text_rows(1))
    login(page, live_server.owner_email)
    page.goto(f"/projects/{pid}/export")
    form = page.locator("#export-form")
    for name in FORMATS:
        expect(form.locator(f"input[name=format][value={name}]")).to_have_count(1)
    for content in CONTENTS:
        expect(form.locator(f"input[name=content][value={content}]")).to_have_count(1)
    method = form.get_by_label("Consensus method")
    assert method.locator("option").evaluate_all("os => os.map(o => o.value)") == list(METHODS)
    expect(form.locator("input[name=include_drafts]")).to_have_count(1)
    assert "keep" in CSV_FORMULAS
    expect(form.locator("input[name=csv_formulas][value=keep]")).to_have_count(1)
    # raw is the default; the method only matters (and is only sent) with consensus
    expect(form.locator("input[name=content][value=raw]")).to_be_checked()
    expect(method).to_be_disabled()
    form.get_by_label("Consensus only").check()
    expect(method).to_be_enabled()
    assert console_errors == []


def test_consensus_export_from_the_page_is_the_apis_export(page: Page, live_server, console_errors):
    pid = _project_with_three_annotators(live_server)
    login(page, live_server.owner_email)
    page.goto(f"/projects/{pid}/export")
    form = page.locator("#export-form")
    form.locator("input[name=format][value=json]").check()
    form.get_by_label("Consensus only").check()
    form.get_by_label("Consensus method").select_option("dawid_skene")
    screenshot(page, "export-consensus")
    # the command for scripts follows the choices
    expect(page.locator("#export-curl")).to_contain_text("content=consensus")
    expect(page.locator("#export-curl")).to_contain_text("consensus_method=dawid_skene")

    with page.expect_download() as info:
        form.get_by_role("button", name="Download").click()
    download = info.value
    query = parse_qs(urlparse(download.url).query)
    assert query["format"] == ["json"]
    assert query["content"] == ["consensus"]
    assert query["consensus_method"] == ["dawid_skene"]
    with open(download.path(), "rb") as f:
        from_page = f.read()

    api = page.request.get(
        f"/api/projects/{pid}/export",
        params={"format": "json", "content": "consensus", "consensus_method": "dawid_skene"},
    )
    assert api.ok
    assert from_page == api.body()
    records = {r["external_id"]: r for r in json.loads(from_page)}
    assert all("annotations" not in r for r in records.values())
    assert records["item-1"]["consensus"]["label"]["value"] == "neu"
    assert records["item-1"]["consensus"]["label"]["method"] == "dawid_skene"
    assert records["item-3"]["consensus"] == {}

    # both, as CSV with formulas kept: the same again
    form.locator("input[name=format][value=csv]").check()
    form.get_by_label("Annotations and consensus").check()
    form.get_by_label("Consensus method").select_option("majority")
    form.locator("input[name=csv_formulas][value=keep]").check()
    with page.expect_download() as info:
        form.get_by_role("button", name="Download").click()
    with open(info.value.path(), "rb") as f:
        from_page = f.read()
    api = page.request.get(
        f"/api/projects/{pid}/export",
        params={
            "format": "csv",
            "content": "both",
            "consensus_method": "majority",
            "csv_formulas": "keep",
        },
    )
    assert from_page == api.body()
    assert b"consensus.label" in from_page.splitlines()[0]
    assert console_errors == []
