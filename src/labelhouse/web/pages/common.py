"""Shared machinery for server-rendered pages: templates, the logged-in user, CSRF for forms."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from labelhouse.accounts import service as accounts
from labelhouse.accounts.models import Role
from labelhouse.accounts.policy import Actor
from labelhouse.errors import (
    Busy,
    LabelhouseError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)
from labelhouse.markdown import render as render_markdown
from labelhouse.web.audit_trail import denials_recorded
from labelhouse.web.deps import SESSION_COOKIE, Context
from labelhouse.web.pages.formatting import (
    describe_event,
    pretty_json,
    short_when,
    snippet,
    when,
)

WEB_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATES = Jinja2Templates(directory=str(WEB_DIR / "templates"))


def json_script(value: Any) -> Markup:
    """JSON for a ``<script type="application/json">`` block, with ``<``, ``>``, ``&`` escaped
    so task data can never close the script element."""
    text = orjson.dumps(value).decode()
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # noqa: S704  (escaped above)


def breakable(text: str) -> Markup:
    """``text`` escaped, with a line-break chance (``<wbr>``) after each ``-``, ``_``, ``.``
    and ``/``: a long file name wraps at its separators, never in the middle of a word."""
    escaped = str(escape(text))
    return Markup(re.sub(r"([-_./])(?=.)", r"\1<wbr>", escaped))  # noqa: S704  (escaped above)


TEMPLATES.env.filters["breakable"] = breakable
TEMPLATES.env.filters["json_script"] = json_script
TEMPLATES.env.filters["markdown"] = lambda text: Markup(render_markdown(text or ""))  # noqa: S704
TEMPLATES.env.filters["pretty_json"] = pretty_json
TEMPLATES.env.filters["when"] = when
TEMPLATES.env.filters["short_when"] = short_when
TEMPLATES.env.filters["snippet"] = snippet
TEMPLATES.env.globals["describe_event"] = describe_event


class PageError(Exception):
    """A domain error met while building a page; rendered as a friendly HTML error page
    (the JSON API keeps its JSON errors)."""

    def __init__(
        self, status_code: int, message: str, actor: Actor | None = None, csrf: str = ""
    ) -> None:
        self.status_code = status_code
        self.message = message
        self.actor = actor
        self.csrf = csrf


# The pages a one-time password still opens (its change form lives on the account page).
PASSWORD_CHANGE_PAGES = frozenset({"/account", "/logout"})


class RedirectTo(Exception):
    """Raised inside a page handler; the app answers with a redirect (303) to ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url


class LoginRequired(Exception):
    """Raised inside a page handler; the app turns it into a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


@contextmanager
def page_session(ctx: Context, *, write: bool = False) -> Iterator[tuple[Session, Actor, str]]:
    """A unit of work for a page, yielding (session, actor, csrf token). Not logged in →
    LoginRequired (redirect). Writes check the CSRF token like the JSON API does. Using a
    page keeps the session alive (its idle expiry slides, see ``Context.renew_session``)."""
    cookie = ctx.request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise LoginRequired(str(ctx.request.url.path))
    opener = ctx.db.session if write else ctx.db.read_session
    with denials_recorded(ctx.request) as seen, opener() as s:
        try:
            actor, row = accounts.resolve_session(s, cookie, max_age=ctx.settings.session_max_age)
        except NotAuthenticated:
            raise LoginRequired(str(ctx.request.url.path)) from None
        ctx.renew_session(row, s if write else None)
        csrf = row.csrf_token
        seen(actor)  # a denial below is recorded in the audit log
        if actor.must_change_password and ctx.request.url.path not in PASSWORD_CHANGE_PAGES:
            raise RedirectTo("/account?first=1")
        try:
            yield s, actor, csrf
        except PermissionDenied as exc:
            raise PageError(403, exc.message, actor, csrf) from exc
        except NotFound as exc:
            raise PageError(404, exc.message, actor, csrf) from exc
        except Busy:
            raise  # the database is away or busy: a 503 page that says to reload (web/errors)
        except LabelhouseError as exc:  # e.g. a bad filter in a query string
            raise PageError(400, exc.message, actor, csrf) from exc


def check_form_csrf(expected: str, sent: object) -> None:
    if not isinstance(sent, str) or not secrets.compare_digest(sent, expected):
        raise PermissionDenied("The form expired (CSRF check failed); reload the page and retry.")


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)


def login_redirect(next_url: str) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(next_url)}", status_code=303)


@dataclass(frozen=True)
class Tab:
    key: str
    label: str
    href: str


# (key, label, path suffix, lowest role that may use it, project-wide: the lab's people only)
PROJECT_TABS = (
    ("overview", "Overview", "", Role.reviewer, True),
    ("annotate", "Annotate", "/annotate", Role.annotator, False),
    ("tasks", "Tasks", "/tasks", Role.reviewer, True),
    ("review", "Review", "/review", Role.reviewer, False),
    ("import", "Import", "/import", Role.manager, True),
    ("export", "Export", "/export", Role.manager, True),
    ("quality", "Quality", "/quality", Role.reviewer, True),
    ("settings", "Settings", "/settings", Role.reviewer, True),
)


def project_tabs(actor: Actor, project_id: int) -> list[Tab]:
    """The tab bar of project pages, without what the actor's role there cannot open."""
    actor = actor.in_project(project_id)
    return [
        Tab(key, label, f"/projects/{project_id}{suffix}")
        for key, label, suffix, role, whole in PROJECT_TABS
        if actor.at_least(role) and (actor.sees_whole_project or not whole)
    ]


def widget_stylesheet() -> str | None:
    """The widgets' styles live with the annotate page's (css/annotate.css, scoped to
    ``.lh-*``/``.an-*``); pages that preview widgets link it when it is there."""
    return "/static/css/annotate.css" if (STATIC_DIR / "css" / "annotate.css").is_file() else None


def widget_kinds() -> list[str]:
    """Field kinds whose browser widget module exists, so pages only import what is there
    (a missing module would be a 404 and a console error)."""
    folder = STATIC_DIR / "js" / "widgets"
    return sorted(p.stem for p in folder.glob("*.js")) if folder.is_dir() else []
