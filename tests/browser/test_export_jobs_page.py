"""The export page's "Exports & snapshots" card: a background export started from the page
shows up queued, its progress bar fills as the job runs (the page polls; no reload), and
the file it offers is the API's export; a snapshot started there lists its files."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from labelhouse.config import Settings
from labelhouse.jobs.runtime import ConsumerThread, Jobs
from labelhouse.storage import LocalStorage
from tests.browser.conftest import login, screenshot
from tests.browser.page_factories import new_project, text_rows


@pytest.fixture
def start_consumer(live_server):
    """A job consumer for the live server's database, started when the test says so."""
    settings = Settings(data_dir=live_server.data_dir)
    started: list[ConsumerThread] = []

    def start() -> None:
        jobs = Jobs(
            settings,
            database=live_server.db,
            storage=LocalStorage(settings.resolved_storage_dir),
            heartbeat_seconds=0.2,
        )
        started.append(ConsumerThread(jobs).start())

    yield start
    for consumer in started:
        consumer.consumer.stop(graceful=True)


def test_a_background_export_fills_its_progress_bar_and_downloads(
    page: Page, live_server, console_errors, start_consumer
):
    pid = new_project(live_server, rows=text_rows(30))
    login(page, live_server.owner_email)
    page.goto(f"/projects/{pid}/export")
    page.locator("#export-form input[name=format][value=csv]").check()
    card = page.locator("#background-exports")
    card.get_by_role("button", name="Export in the background").click()
    row = card.locator("#job-list tbody tr").first
    expect(row).to_have_attribute("data-state", "queued")
    expect(row.get_by_role("button", name="Cancel")).to_be_visible()

    start_consumer()  # the page keeps polling: the same row finishes without a reload
    expect(row).to_have_attribute("data-state", "succeeded", timeout=20_000)
    bar = row.locator("progress")
    expect(bar).to_have_attribute("max", "30")
    assert bar.evaluate("b => b.value") == 30
    screenshot(page, "export-jobs")
    with page.expect_download() as info:
        row.get_by_role("link", name="Download").click()
    body = Path(info.value.path()).read_bytes()
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    api = httpx.get(f"{live_server.base_url}/api/projects/{pid}/export?format=csv", cookies=cookies)
    assert body == api.content
    assert console_errors == []


def test_a_snapshot_from_the_page_lists_its_files(
    page: Page, live_server, console_errors, start_consumer
):
    pid = new_project(live_server, rows=text_rows(5))
    start_consumer()
    login(page, live_server.owner_email)
    page.goto(f"/projects/{pid}/export")
    card = page.locator("#background-exports")
    card.get_by_label("Snapshot name").fill("<b>round 1</b>")
    card.get_by_role("button", name="Freeze as snapshot").click()
    item = card.locator("#snapshot-list li").first
    expect(item.get_by_role("link", name="manifest.json")).to_be_visible(timeout=20_000)
    expect(item.get_by_role("link", name="labels-jsonl.jsonl")).to_be_visible()
    expect(item.locator("strong")).to_have_text("<b>round 1</b>")  # text, never HTML
    assert console_errors == []
