"""The Export page offers each format's own options (declared by the format: ``Format.
option_help``), shows only the chosen format's, sends only those, and leaves empty boxes
out; a download from the page is the API's export with the same options, byte for byte."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlparse

import pyarrow.parquet as pq
from playwright.sync_api import Page, expect

from labelhouse.accounts.models import Role
from labelhouse.exports.writers import FORMATS
from tests.browser.conftest import login, screenshot
from tests.browser.page_factories import annotate, new_project, new_user, text_rows


def test_each_formats_options_are_offered_and_only_the_chosen_ones_sent(
    page: Page, live_server, console_errors
):
    pid = new_project(live_server, rows=text_rows(3))
    for choice in ("pos", "neg"):
        actor, _ = new_user(live_server, Role.annotator)
        annotate(live_server, actor, pid, {f"item-{i}": {"label": choice} for i in range(3)})
    login(page, live_server.owner_email)
    page.goto(f"/projects/{pid}/export")
    form = page.locator("#export-form")
    for name, fmt in FORMATS.items():
        options = form.locator(f"[data-format-options={name}]")
        expect(options).to_have_count(1 if fmt.option_help else 0)
        for o in fmt.option_help:
            expect(options.locator(f"[name={o.name}]")).to_have_count(1)
        expect(form.locator(f"input[name=format][value={name}]")).to_have_count(1)
    expect(form.locator("[data-format-options=parquet]")).to_be_hidden()

    form.locator("input[name=format][value=parquet]").check()
    parquet = form.locator("[data-format-options=parquet]")
    expect(parquet).to_be_visible()
    expect(form.locator("[data-format-options=trl_kto]")).to_be_hidden()
    parquet.locator("select[name=values]").select_option("consensus")
    parquet.locator("select[name=provenance]").select_option("none")
    screenshot(page, "export-parquet-options")
    expect(page.locator("#export-curl")).to_contain_text("values=consensus")
    expect(page.locator("#export-curl")).to_contain_text("export.parquet")

    with page.expect_download() as info:
        form.get_by_role("button", name="Download").click()
    query = parse_qs(urlparse(info.value.url).query)
    assert query["format"] == ["parquet"]
    assert query["values"] == ["consensus"] and query["provenance"] == ["none"]
    assert "threshold" not in query and "ties" not in query  # other formats' options
    with open(info.value.path(), "rb") as f:
        from_page = f.read()
    api = page.request.get(
        f"/api/projects/{pid}/export",
        params={
            "format": "parquet",
            "values": "consensus",
            "provenance": "none",
            "annotators": "pseudonyms",
            "content": "raw",
            "csv_formulas": "escape",
        },
    )
    assert api.ok
    table = pq.read_table(io.BytesIO(from_page))
    assert table.num_rows == 3 and "provenance" not in table.schema.names
    assert pq.read_table(io.BytesIO(api.body())).equals(table)
    # empty boxes (the format's default) are not sent
    form.locator("input[name=format][value=trl_kto]").check()
    expect(page.locator("#export-curl")).to_contain_text("format=trl_kto")
    expect(page.locator("#export-curl")).not_to_contain_text("threshold")
    form.locator("#opt-trl_kto-threshold").fill("3")
    form.locator("#opt-trl_kto-threshold").dispatch_event("change")
    expect(page.locator("#export-curl")).to_contain_text("threshold=3")
    assert console_errors == []
