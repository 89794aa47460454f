"""Shared machinery for server-rendered pages: templates, the logged-in user, CSRF for forms."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy.orm import Session

from labelhouse.accounts import service as accounts
from labelhouse.accounts.policy import Actor
from labelhouse.errors import NotAuthenticated, PermissionDenied
from labelhouse.markdown import render as render_markdown
from labelhouse.web.deps import SESSION_COOKIE, Context

WEB_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATES = Jinja2Templates(directory=str(WEB_DIR / "templates"))


def json_script(value: Any) -> Markup:
    """JSON for a ``<script type="application/json">`` block, with ``<``, ``>``, ``&`` escaped
    so task data can never close the script element."""
    text = orjson.dumps(value).decode()
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # noqa: S704  (escaped above)


TEMPLATES.env.filters["json_script"] = json_script
TEMPLATES.env.filters["markdown"] = lambda text: Markup(render_markdown(text or ""))  # noqa: S704


class LoginRequired(Exception):
    """Raised inside a page handler; the app turns it into a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


@contextmanager
def page_session(ctx: Context, *, write: bool = False) -> Iterator[tuple[Session, Actor, str]]:
    """A unit of work for a page, yielding (session, actor, csrf token). Not logged in →
    LoginRequired (redirect). Writes check the CSRF token like the JSON API does."""
    cookie = ctx.request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise LoginRequired(str(ctx.request.url.path))
    opener = ctx.db.session if write else ctx.db.read_session
    with opener() as s:
        try:
            actor, row = accounts.resolve_session(s, cookie)
        except NotAuthenticated:
            raise LoginRequired(str(ctx.request.url.path)) from None
        yield s, actor, row.csrf_token


def check_form_csrf(expected: str, sent: object) -> None:
    if not isinstance(sent, str) or not secrets.compare_digest(sent, expected):
        raise PermissionDenied("The form expired (CSRF check failed); reload the page and retry.")


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)


def login_redirect(next_url: str) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(next_url)}", status_code=303)
