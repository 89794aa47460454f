"""Small JSON endpoints that only the project pages need: a Markdown preview for the
instructions editor and a sample task for the schema editor's live preview."""

from __future__ import annotations

import base64
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI
from pydantic import Field

from labelhouse.errors import Problem, RateLimited, TooLarge
from labelhouse.kinds.registry import parse_schema
from labelhouse.markdown import COST_BUDGET, render_cost
from labelhouse.markdown import render as render_markdown
from labelhouse.projects.queries import sample_task_data
from labelhouse.projects.service import get_project
from labelhouse.rubrics.service import resolve_schema
from labelhouse.tasks import service as tasks
from labelhouse.tasks.media_access import remote_media_urls
from labelhouse.web.api.schemas import Body, SchemaIn
from labelhouse.web.deps import Ctx
from labelhouse.web.params import Id

router = APIRouter(prefix="/api", tags=["pages"])

# A neutral placeholder picture for image fields (a data: URL, allowed by the page CSP).
_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="640" height="400" viewBox="0 0 640 400">'
    '<rect width="640" height="400" fill="#e7ebf0"/><circle cx="190" cy="170" r="70" '
    'fill="#b9c3cf"/><rect x="330" y="120" width="200" height="160" fill="#cfd6de"/>'
    '<text x="320" y="360" font-family="sans-serif" font-size="22" text-anchor="middle" '
    'fill="#5f6b7a">sample image</text></svg>'
)
SAMPLE_IMAGE = "data:image/svg+xml;base64," + base64.b64encode(_SVG.encode()).decode()


# As much as a project's instructions may hold: the editor previews all it can save.
PREVIEW_MAX_CHARS = 100_000
# Render work each user may spend, in labelhouse.markdown's cost units (COST_BUDGET bounds
# one render, ~0.2 s of CPU at worst): ten worst cases at once, then one a second. 4,000
# characters of markup-dense Markdown (or ~25,000 of prose) cost ~55,000 units a preview:
# even at the editor's quickest (a preview every 0.25 s) their author is not limited for
# over a minute, and at half that pace never.
PREVIEW_BURST = 10 * COST_BUDGET
PREVIEW_RATE = COST_BUDGET  # units per second
PREVIEW_MIN_COST = 2_000  # charged for any request, even an empty text


class PreviewLimiter:
    """Per-user token buckets of render work, in this process's memory.

    Not in the database like the login throttle: that one counts guesses, which must add up
    across processes; this one protects a process's CPU, which each process has its own of,
    and a preview changes and reveals nothing. So no write per keystroke, and N processes
    allow N × the rate against N × the CPU.
    """

    def __init__(
        self,
        burst: float = PREVIEW_BURST,
        rate: float = PREVIEW_RATE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = burst
        self.rate = rate
        self.clock = clock  # tests move time by replacing it
        self._buckets: dict[int, tuple[float, float]] = {}  # user → (units left, when)
        self._lock = threading.Lock()

    def take(self, user: int, cost: float) -> float:
        """Spend ``cost`` from ``user``'s bucket: 0.0, or (spending nothing) the seconds
        until the bucket holds enough."""
        now = self.clock()
        cost = min(cost, self.burst)  # any one request passes once the bucket is full
        with self._lock:
            left, when = self._buckets.get(user, (self.burst, now))
            left = min(self.burst, left + (now - when) * self.rate)
            if left < cost:
                self._buckets[user] = (left, now)
                return (cost - left) / self.rate
            self._buckets[user] = (left - cost, now)
            if len(self._buckets) > 10_000:  # forget the buckets that have refilled
                full = now - self.burst / self.rate
                self._buckets = {u: b for u, b in self._buckets.items() if b[1] > full}
        return 0.0


_limiter_lock = threading.Lock()


def preview_limiter(app: FastAPI) -> PreviewLimiter:
    """The app's limiter, made on first use."""
    with _limiter_lock:
        limiter = getattr(app.state, "markdown_preview_limiter", None)
        if limiter is None:
            limiter = app.state.markdown_preview_limiter = PreviewLimiter()
        return limiter  # type: ignore[no-any-return]


class MarkdownIn(Body):
    text: str = Field(default="", description=f"at most {PREVIEW_MAX_CHARS:,} characters")


@router.post("/markdown/preview")
def markdown_preview(body: MarkdownIn, ctx: Ctx) -> dict[str, str]:
    """Render Markdown exactly as pages will show it: sanitized HTML, safe to insert.

    413 past :data:`PREVIEW_MAX_CHARS`; 429 (with Retry-After) once the caller's budget of
    render work is spent (see :class:`PreviewLimiter`)."""
    with ctx.read() as (_, actor):  # logged-in users only (and CSRF-checked, like every POST)
        user = actor.user_id
    if len(body.text) > PREVIEW_MAX_CHARS:
        raise TooLarge(
            f"The text to preview has {len(body.text):,} characters; the preview takes at "
            f"most {PREVIEW_MAX_CHARS:,}, as much as project instructions may hold.",
            [Problem("text", f"at most {PREVIEW_MAX_CHARS:,} characters")],
        )
    cost = max(PREVIEW_MIN_COST, render_cost(body.text))
    wait = preview_limiter(ctx.request.app).take(user, cost)
    if wait:
        raise RateLimited(
            f"Too many previews for now: try again in {math.ceil(wait)} s (long or "
            "markup-heavy text uses up the allowance sooner).",
            retry_after=math.ceil(wait),
        )
    return {"html": render_markdown(body.text)}  # outside the session: it may take a while


@router.post("/projects/{project_id}/schema/sample")
def schema_sample(project_id: Id, body: SchemaIn, ctx: Ctx) -> dict[str, Any]:
    """A task to preview the annotation form of a draft schema on: the project's first task
    when its data fits the schema, else synthetic data built from the schema's data keys."""
    with ctx.read() as (s, actor):
        # the Settings page's preview: reviewers and up, like the page
        actor.in_project(project_id).require_lab_reviewer("preview label schemas")
        schema = resolve_schema(s, actor.organization_id, parse_schema(body.label_schema))
        project = get_project(s, actor, project_id)
        page = tasks.list_tasks(s, actor, project.id, limit=1)
        first = page.items[0] if page.items else None
        has_media = any(f.media_keys() for f in schema.fields)
        if first is not None and not schema.check_task_data(first.data):
            task_id, data, source = first.id, first.data, f"task {first.id}"
            names = [first.data[k] for f in schema.fields for k in f.media_keys()]
            media = tasks.media_urls(s, project.id, [n for n in names if isinstance(n, str)])
            media |= remote_media_urls(schema, task_id, data)
        else:
            task_id, data, source = 0, sample_task_data(schema, media=SAMPLE_IMAGE), "synthetic"
            media = {SAMPLE_IMAGE: SAMPLE_IMAGE} if has_media else {}
            if has_media:  # as an import adds them
                data |= {"image_width": 640, "image_height": 400}
        task = {"id": task_id, "data": data, "media": media, "predictions": [], "annotations": []}
    # Markdown after the read session, which it need not hold open while it renders.
    return {"task": task, "rendered": schema.display(data), "source": source}
