"""Server-rendered HTML pages (Jinja2 + htmx + one ES module per widget)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from labelhouse.web.pages import auth, projects
from labelhouse.web.pages.common import STATIC_DIR, LoginRequired, login_redirect


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    for module in (auth, projects):
        app.include_router(module.router)

    @app.exception_handler(LoginRequired)
    async def _to_login(_: Request, exc: LoginRequired) -> Response:
        return login_redirect(exc.next_url)
