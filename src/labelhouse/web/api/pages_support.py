"""Small JSON endpoints that only the project pages need: a Markdown preview for the
instructions editor and a sample task for the schema editor's live preview."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter
from pydantic import Field

from labelhouse.accounts.models import Role
from labelhouse.kinds.registry import parse_schema
from labelhouse.markdown import render as render_markdown
from labelhouse.projects.queries import sample_task_data
from labelhouse.projects.service import get_project
from labelhouse.tasks import service as tasks
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


class MarkdownIn(Body):
    text: str = Field(default="", max_length=100_000)


@router.post("/markdown/preview")
def markdown_preview(body: MarkdownIn, ctx: Ctx) -> dict[str, str]:
    """Render Markdown exactly as pages will show it: sanitized HTML, safe to insert."""
    with ctx.read():  # logged-in users only (and CSRF-checked, like every POST)
        return {"html": render_markdown(body.text)}


@router.post("/projects/{project_id}/schema/sample")
def schema_sample(project_id: Id, body: SchemaIn, ctx: Ctx) -> dict[str, Any]:
    """A task to preview the annotation form of a draft schema on: the project's first task
    when its data fits the schema, else synthetic data built from the schema's data keys."""
    with ctx.read() as (s, actor):
        # the Settings page's preview: reviewers and up, like the page
        actor.in_project(project_id).require(Role.reviewer, "preview label schemas")
        schema = parse_schema(body.label_schema)
        project = get_project(s, actor, project_id)
        page = tasks.list_tasks(s, actor, project.id, limit=1)
        first = page.items[0] if page.items else None
        has_media = any(f.media_keys() for f in schema.fields)
        if first is not None and not schema.check_task_data(first.data):
            task_id, data, source = first.id, first.data, f"task {first.id}"
            names = [first.data[k] for f in schema.fields for k in f.media_keys()]
            media = tasks.media_urls(s, project.id, [n for n in names if isinstance(n, str)])
        else:
            task_id, data, source = 0, sample_task_data(schema, media=SAMPLE_IMAGE), "synthetic"
            media = {SAMPLE_IMAGE: SAMPLE_IMAGE} if has_media else {}
            if has_media:  # as an import adds them
                data |= {"image_width": 640, "image_height": 400}
        task = {"id": task_id, "data": data, "media": media, "predictions": [], "annotations": []}
        return {"task": task, "rendered": schema.display(data), "source": source}
