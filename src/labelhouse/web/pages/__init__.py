"""Server-rendered HTML pages (Jinja2 + htmx + one ES module per widget)."""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from labelhouse.web.pages import (
    annotate,
    auth,
    projects,
    quality,
    review,
    settings,
    tasks,
    transfer,
)
from labelhouse.web.pages.common import (
    STATIC_DIR,
    LoginRequired,
    PageError,
    login_redirect,
    render,
)

PROJECT_PATH = re.compile(r"^/projects/(\d+)(/|$)")
TITLES = {400: "Cannot show this page", 403: "Not allowed", 404: "Not found"}


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    for module in (auth, projects, settings, tasks, transfer, annotate, quality, review):
        app.include_router(module.router)

    @app.exception_handler(LoginRequired)
    async def _to_login(_: Request, exc: LoginRequired) -> Response:
        return login_redirect(exc.next_url)

    @app.exception_handler(PageError)
    async def _error_page(request: Request, exc: PageError) -> Response:
        # An annotator who followed a project link still has somewhere useful to go.
        project = PROJECT_PATH.match(request.url.path)
        return render(
            request,
            "error.html",
            status_code=exc.status_code,
            status=exc.status_code,
            title=TITLES.get(exc.status_code, "Error"),
            message=exc.message,
            actor=exc.actor,
            csrf_token=exc.csrf,
            annotate_url=f"/projects/{project[1]}/annotate"
            if project and exc.status_code == 403
            else None,
        )
