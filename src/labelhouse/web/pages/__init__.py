"""Server-rendered HTML pages (Jinja2 + htmx + one ES module per widget)."""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from labelhouse.errors import LabelhouseError
from labelhouse.web import errors
from labelhouse.web.pages import (
    annotate,
    audit,
    auth,
    people,
    projects,
    quality,
    review,
    rubrics,
    settings,
    tasks,
    transfer,
    workforce,
    workforce_comparison,
)
from labelhouse.web.pages.common import (
    STATIC_DIR,
    LoginRequired,
    PageError,
    RedirectTo,
    login_redirect,
    render,
)

PROJECT_PATH = re.compile(r"^/projects/(\d+)(/|$)")
TITLES = {400: "Cannot show this page", 403: "Not allowed", 404: "Not found"}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    modules = (auth, projects, people, audit, settings, tasks, transfer, annotate, quality, review)
    for module in modules:
        app.include_router(module.router)
    app.include_router(workforce_comparison.router)
    app.include_router(workforce.router)
    app.include_router(rubrics.router)

    @app.exception_handler(LoginRequired)
    async def _to_login(_: Request, exc: LoginRequired) -> Response:
        return login_redirect(exc.next_url)

    @app.exception_handler(RedirectTo)
    async def _redirect(_: Request, exc: RedirectTo) -> Response:
        return RedirectResponse(exc.url, status_code=303)

    json_validation = app.exception_handlers[RequestValidationError]
    json_domain = app.exception_handlers[LabelhouseError]

    @app.exception_handler(RequestValidationError)
    async def _bad_page_url(request: Request, exc: RequestValidationError) -> Response:
        """A hand-edited page URL (``/projects/0``, ``?cursor=-1``) gets a page, not JSON:
        an id that cannot exist is 'Not found', anything else 'Cannot show this page'."""
        if _is_api(request):
            return await json_validation(request, exc)  # type: ignore[no-any-return]
        details = errors.problems(exc)
        reason = "; ".join(f"{d['field']}: {d['problem']}" for d in details)
        if all(d["field"].endswith("_id") for d in details):
            return await _error_page(
                request, PageError(404, f"No page has this address ({reason}).")
            )
        return await _error_page(request, PageError(400, f"The address is not valid: {reason}."))

    @app.exception_handler(LabelhouseError)
    async def _domain(request: Request, exc: LabelhouseError) -> Response:
        """Errors raised before a page's own handling (e.g. a NUL in its query string)."""
        if _is_api(request):
            return await json_domain(request, exc)  # type: ignore[no-any-return]
        return await _error_page(request, PageError(400, exc.message))

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
