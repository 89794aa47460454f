"""Rubrics of the organization (JSON API): list, create, read, add a version.

Organization owners and managers only; annotators see a rubric's criteria in the schema
of the projects that use it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from labelhouse.rubrics import service as rubrics
from labelhouse.web.api.schemas import Body
from labelhouse.web.deps import Ctx
from labelhouse.web.params import Id

router = APIRouter(prefix="/api", tags=["rubrics"])


class RubricIn(Body):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    criteria: Any
    note: str = Field(default="", max_length=5000)


class RubricVersionIn(Body):
    criteria: Any
    note: str = Field(default="", max_length=5000)


@router.get("/rubrics")
def list_rubrics(ctx: Ctx) -> dict[str, Any]:
    """Every rubric of the organization with its latest version number."""
    with ctx.read() as (s, actor):
        items = [
            {
                "id": r.id,
                "name": r.name,
                "description": r.description,
                "latest_version": r.latest_version,
                "versions": n,
                "created_at": r.created_at.isoformat(),
            }
            for r, n in rubrics.list_rubrics(s, actor)
        ]
    return {"items": items}


@router.post("/rubrics", status_code=201)
def create_rubric(body: RubricIn, ctx: Ctx) -> dict[str, Any]:
    """A new rubric with its version 1; the criteria are validated, each problem named."""
    with ctx.write() as (s, actor):
        view = rubrics.create_rubric(
            s,
            actor,
            name=body.name,
            description=body.description,
            criteria=body.criteria,
            note=body.note,
        )
        return rubrics.as_dict(view)


@router.get("/rubrics/{rubric_id}")
def get_rubric(rubric_id: Id, ctx: Ctx) -> dict[str, Any]:
    """The rubric with every version's criteria (versions never change)."""
    with ctx.read() as (s, actor):
        return rubrics.as_dict(rubrics.get_rubric(s, actor, rubric_id))


@router.post("/rubrics/{rubric_id}/versions", status_code=201)
def add_version(rubric_id: Id, body: RubricVersionIn, ctx: Ctx) -> dict[str, Any]:
    """Store new criteria as the next version; schemas keep the version they name."""
    with ctx.write() as (s, actor):
        version = rubrics.add_version(s, actor, rubric_id, criteria=body.criteria, note=body.note)
        return {"rubric_id": rubric_id, **rubrics.version_dict(version)}
