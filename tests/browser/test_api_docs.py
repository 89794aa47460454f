"""The interactive API docs (/api/docs) come from the package, under the pages' strict CSP,
and work in a closed network: nothing is requested outside the installation.

Also the browser side of the cross-site checks: a real Chromium sends the headers that let
the server refuse another site's login form (login CSRF).
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from labelhouse.web.app import SWAGGER_UI
from labelhouse.web.pages.common import STATIC_DIR
from tests.browser.conftest import screenshot

VENDORED = STATIC_DIR / Path(SWAGGER_UI).relative_to("/static")


# -- without a browser -------------------------------------------------------------------------


def test_docs_page_is_ours_under_the_strict_csp(client):
    r = client.get("/api/docs")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert not re.search(r"(src|href)=\"(https?:)?//", r.text), "an asset from outside"
    assert "<script>" not in r.text  # no inline script: the CSP would block it
    assert f'src="{SWAGGER_UI}/swagger-ui-bundle.js"' in r.text
    assert 'src="/static/js/api-docs.js"' in r.text
    assert 'data-openapi-url="/api/openapi.json"' in r.text


def test_vendored_swagger_ui_is_served_with_its_licence(client):
    assert re.fullmatch(r"/static/vendor/swagger-ui-\d+\.\d+\.\d+", SWAGGER_UI)
    for name in ("LICENSE", "NOTICE", "swagger-ui-bundle.js.LICENSE.txt"):
        assert (VENDORED / name).is_file(), name
    assert "Apache License" in (VENDORED / "LICENSE").read_text()
    js = client.get(f"{SWAGGER_UI}/swagger-ui-bundle.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    css = client.get(f"{SWAGGER_UI}/swagger-ui.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert client.get("/docs/oauth2-redirect").status_code == 404  # no OAuth2 here


# -- in Chromium -------------------------------------------------------------------------------


def test_api_docs_render_and_work_without_leaving_the_installation(
    page: Page, live_server, console_errors
):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    response = page.goto("/api/docs")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Labelhouse")
    # Every tag is listed, folded (docExpansion "none": with ~135 operations an unfolded
    # page stopped rendering part-way in Chromium); opening one shows its operations.
    tags = page.locator(".opblock-tag-section")
    expect(tags.filter(has_text="rubrics")).to_have_count(1)
    expect(tags.filter(has_text="model endpoints")).to_have_count(1)
    page.locator(".opblock-tag", has_text="meta").click()
    health = page.locator(".opblock").filter(has_text="/api/health").first
    expect(health).to_be_visible()
    # Try an operation: the docs call the API from the page (connect-src 'self').
    health.locator(".opblock-summary").click()
    health.get_by_role("button", name="Try it out").click()
    health.get_by_role("button", name="Execute").click()
    status = health.locator(".live-responses-table tbody .response-col_status").first
    expect(status).to_have_text("200")
    expect(health.locator(".live-responses-table")).to_contain_text('"status": "ok"')
    page.wait_for_load_state("networkidle")
    screenshot(page, "api-docs")
    outside = [
        url
        for url in requested
        if not url.startswith(live_server.base_url + "/") and not url.startswith(("data:", "blob:"))
    ]
    assert outside == []
    assert f"{live_server.base_url}{SWAGGER_UI}/swagger-ui-bundle.js" in requested
    assert console_errors == []  # a CSP violation would be one


def test_another_sites_login_form_does_not_sign_the_browser_in(page: Page, live_server):
    """The attacker's page (on localhost: another site than 127.0.0.1, served by the test)
    posts the attacker's credentials to our /login; Chromium marks the request cross-site."""
    port = live_server.base_url.rsplit(":", 1)[1]
    evil = f"http://localhost:{port}"
    form = (
        f'<form method="post" action="{live_server.base_url}/login">'
        f'<input name="email" value="{live_server.owner_email}">'
        f'<input name="password" value="{live_server.password}">'
        "<button>Claim your prize</button></form>"
    )
    page.route(
        f"{evil}/prize",
        lambda route: route.fulfill(status=200, content_type="text/html", body=form),
    )
    page.goto(f"{evil}/prize")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Claim your prize").click()
    answer = navigation.value
    assert answer is not None and answer.status == 403
    expect(page.locator("main")).to_contain_text("did not come from Labelhouse")
    cookies = page.context.cookies(live_server.base_url)
    assert not [c for c in cookies if c["name"] == "lh_session"]
