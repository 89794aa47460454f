"""Media that tasks name by URL: ``GET /api/tasks/{id}/media/{key}`` (docs/import.md).

Under the task's access rule: the lab's own buckets answer with a redirect to a presigned
URL that lives a few minutes; web URLs are fetched through the SSRF-safe client and passed
on, so the browser never contacts a third party. The fetch happens after the read
transaction has ended: no database connection waits on another server."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from labelhouse.tasks.media_access import remote_media_of
from labelhouse.web.deps import Ctx
from labelhouse.web.params import Id

router = APIRouter(prefix="/api", tags=["tasks"])

# Passed-on bytes are shown as an image or not at all (never as a page of ours).
PROXIED_HEADERS = {
    "cache-control": "private, max-age=300",
    "content-security-policy": "default-src 'none'; sandbox",
    "x-content-type-options": "nosniff",
    "content-disposition": "inline",
}


@router.get(
    "/tasks/{task_id}/media/{key}",
    responses={
        200: {"description": "The image, fetched from its https:// URL"},
        302: {"description": "To a short-lived presigned URL (s3:// in the lab's buckets)"},
        502: {"description": "The image's server failed, or its address is not allowed"},
    },
)
def task_media(task_id: Id, key: str, ctx: Ctx) -> Response:
    """The image the task's data names by URL under ``key`` (a media key of the schema,
    e.g. a boxes field's ``image``), for whoever may open the task; 404 otherwise."""
    with ctx.read() as (s, actor):
        ref = remote_media_of(s, actor, task_id, key)
    if ref.in_bucket:
        return RedirectResponse(
            ctx.media.presigned_url(ref),
            status_code=302,
            headers={"cache-control": "no-store", "referrer-policy": "no-referrer"},
        )
    fetched = ctx.media.open(ref)
    headers = dict(PROXIED_HEADERS)
    if fetched.content_length is not None:
        headers["content-length"] = str(fetched.content_length)
    return StreamingResponse(fetched.iter_bytes(), media_type=fetched.content_type, headers=headers)
