"""Label Studio migration over HTTP: create a project from a Label Studio export, and the
labeling config that goes with ``GET /api/projects/{id}/export?format=label_studio``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as FormFile

from labelhouse.accounts.models import Role
from labelhouse.accounts.policy import Actor
from labelhouse.errors import InvalidInput, Problem
from labelhouse.interop.label_studio.service import migrate, project_config
from labelhouse.web.deps import Context, Ctx
from labelhouse.web.params import Id

router = APIRouter(prefix="/api", tags=["label-studio"])
MAX_FILES = 1000  # images sent along with one export


@router.post("/label-studio/import", status_code=201)
async def import_label_studio(request: Request, ctx: Ctx) -> dict[str, Any]:
    """Create a project from a Label Studio project (multipart form).

    Parts: ``export`` (its JSON export), ``config`` (its labeling config XML, a file or
    text), ``project`` (the new project's name), optional ``strict`` (``true``: refuse what
    cannot be carried over instead of skipping it) and ``files`` (the images the tasks
    refer to). The answer counts what was imported and lists what was not carried over."""
    actor = await run_in_threadpool(_asker, ctx)
    form = await request.form(max_files=MAX_FILES + 2, max_part_size=ctx.settings.max_upload_bytes)
    export, config, name = form.get("export"), form.get("config"), form.get("project")
    problems = []
    if not isinstance(export, FormFile):
        problems.append(Problem("export", "send the JSON export as a file part named 'export'"))
    if config is None:
        problems.append(Problem("config", "send the labeling config (XML) as 'config'"))
    if not isinstance(name, str) or not name.strip():
        problems.append(Problem("project", "name the project to create"))
    if problems or not isinstance(export, FormFile):
        raise InvalidInput("The form is incomplete.", problems)
    config_text = await config.read() if isinstance(config, FormFile) else str(config)
    images = {
        f.filename or "": (lambda f=f: f.file)
        for f in form.getlist("files")
        if isinstance(f, FormFile)
    }
    strict = str(form.get("strict", "")).lower() in ("1", "true", "on", "yes")
    return await run_in_threadpool(
        _migrate,
        ctx,
        actor,
        export,
        config_text,
        str(name),
        strict,
        images,
    )


def _asker(ctx: Context) -> Actor:
    """Who asks, and whether they may, before the upload is read (a refusal is recorded as
    usual); the migration then runs in transactions of its own, as a task import does."""
    with ctx.write() as (_, actor):
        actor.require_org(Role.manager, "create projects")
    return actor


def _migrate(
    ctx: Context,
    actor: Actor,
    export: FormFile,
    config: str | bytes,
    name: str,
    strict: bool,
    images: Any,
) -> dict[str, Any]:
    result = migrate(
        ctx.db,
        actor,
        export=export.file,
        config=config,
        project_name=name,
        filename=export.filename or "label-studio-export.json",
        media=images,
        storage=ctx.storage,
        max_upload_bytes=ctx.settings.max_upload_bytes,
        strict=strict,
    )
    return result.as_dict()


@router.get("/projects/{project_id}/label-studio/config")
def label_studio_config(project_id: Id, ctx: Ctx) -> Response:
    """The Label Studio labeling config (XML) for the project's current schema."""
    with ctx.read() as (s, actor):
        xml = project_config(s, actor, project_id)
    return Response(xml, media_type="application/xml; charset=utf-8")
