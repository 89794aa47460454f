"""An image task whose image is an https/http URL shows in the annotate page: the browser
loads it from the task's media route (the app fetches it from the image server, which the
live server's allow-list names), never from the image server itself."""

from __future__ import annotations

import io

from playwright.sync_api import Page

from labelhouse.media.sources import MediaSources
from labelhouse.net.addresses import AddressPolicy, parse_networks
from labelhouse.net.safe_fetch import FetchPolicy, SafeFetcher
from labelhouse.projects.service import create_project
from labelhouse.tasks.importer import import_tasks
from tests.browser.annotate_support import open_annotate
from tests.browser.test_annotate import BOXES, png
from tests.factories import jsonl, open_project_to_all
from tests.media_server import media_server, send


def test_an_image_by_url_displays_through_the_media_route(page: Page, live_server, console_errors):
    image = png(240, 160)
    with media_server() as web:
        web.routes["/street.png"] = lambda h: send(h, 200, image, content_type="image/png")
        url = web.url("/street.png")
        policy = FetchPolicy(
            addresses=AddressPolicy(parse_networks("127.0.0.1/32")), allow_http=True
        )
        with live_server.db.session() as s:
            project = create_project(s, live_server.owner, name="media by url", schema=BOXES)
            open_project_to_all(s, project.id)
            import_tasks(
                s,
                live_server.owner,
                project.id,
                io.BytesIO(jsonl([{"image": url, "external_id": "street"}])),
                filename="t.jsonl",
                media=MediaSources(SafeFetcher(policy)),
            )
        browser_asked: list[str] = []
        page.on("request", lambda r: browser_asked.append(r.url))
        open_annotate(page, live_server, project.id)
        page.wait_for_function("() => document.querySelector('.lh-boxes.is-loaded')")
        img = page.locator(".lh-boxes img").first
        src = img.get_attribute("src")
        natural = img.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert natural == [240, 160]
    assert src is not None and src.startswith("/api/tasks/") and src.endswith("/media/image")
    assert not [u for u in browser_asked if u.startswith(f"http://127.0.0.1:{web.port}")]
    assert console_errors == []
