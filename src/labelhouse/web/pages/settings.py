"""Project settings: general settings, the schema editor with live preview, the
project's members (people and teams), routing its work to workforces, and the model
endpoints it may ask for predictions.

Every change goes through the JSON API from the browser (``data-api`` forms,
``static/js/settings.js`` and ``static/js/routing.js``); this handler only renders the
current state. The members and routing parts come from ``labelhouse.people`` and
``labelhouse.tasks.routing``, which sit above ``projects`` (so ``settings_view`` cannot
gather them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from labelhouse.accounts.models import PROJECT_ROLES, Role
from labelhouse.accounts.policy import Actor
from labelhouse.models_loop import endpoints as model_endpoints
from labelhouse.models_loop import policy as model_policy
from labelhouse.people import project_members, teams
from labelhouse.projects.queries import settings_view
from labelhouse.projects.skip_reasons import skip_reasons_of
from labelhouse.tasks import routing
from labelhouse.web.deps import Ctx
from labelhouse.web.pages.common import (
    page_session,
    project_tabs,
    render,
    widget_kinds,
    widget_stylesheet,
)
from labelhouse.web.params import Id

router = APIRouter(include_in_schema=False)

LINE = 88
FIRST_KEYS = ("name", "kind")


def _is_leaf(value: Any) -> bool:
    items = value.values() if isinstance(value, dict) else value
    return all(not isinstance(v, dict | list) for v in items)


def schema_text(value: Any, level: int = 0) -> str:
    """JSON for the schema editor: indented, but objects and lists of plain values (an
    option, ``reads``) stay on one line, and a field starts with its name and kind.
    ``static/js/settings.js`` formats loaded versions the same way."""
    flat = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    if not isinstance(value, dict | list) or (_is_leaf(value) and len(flat) + 2 * level <= LINE):
        return flat
    pad = "  " * (level + 1)
    if isinstance(value, list):
        inner = [pad + schema_text(v, level + 1) for v in value]
        return "[\n" + ",\n".join(inner) + "\n" + "  " * level + "]"
    keys = [k for k in FIRST_KEYS if k in value] + [k for k in value if k not in FIRST_KEYS]
    inner = [
        f"{pad}{json.dumps(k, ensure_ascii=False)}: {schema_text(value[k], level + 1)}"
        for k in keys
    ]
    return "{\n" + ",\n".join(inner) + "\n" + "  " * level + "}"


@dataclass
class MembersSection:
    """The project's members and what may be added (managers of the project and up)."""

    members: project_members.ProjectMembers
    # Organization teams not yet in the project, as (id, name); only organization owners
    # and managers see the organization's teams.
    addable_teams: list[tuple[int, str]] = field(default_factory=list)
    can_list_teams: bool = False
    roles: list[str] = field(default_factory=lambda: [r.value for r in PROJECT_ROLES])


def members_section(session: Session, actor: Actor, project_id: int) -> MembersSection:
    members = project_members.list_members(session, actor, project_id)
    if not actor.sees_all_projects:
        return MembersSection(members)
    present = {t.team_id for t in members.teams}
    addable = [(t.id, t.name) for t in teams.list_teams(session, actor) if t.id not in present]
    return MembersSection(members, addable, can_list_teams=True)


def _plain(value: float | int | None) -> float | int | str:
    """A number as a form shows it: 50 rather than 50.0, nothing for none."""
    if not value:
        return ""
    return int(value) if float(value).is_integer() else value


def routing_section(
    session: Session, actor: Actor, project_id: int, overlap: int
) -> dict[str, Any]:
    """What ``routing.js`` needs: the project's workforces (with the form's starting values:
    the remembered rule's, else even shares) and how its work is routed now."""
    summary = routing.routing_summary(session, actor, project_id).as_dict()
    members = sorted(
        routing.workforces_of_project(session, project_id).values(), key=lambda t: t.name.lower()
    )
    rule = summary["rule"] or {}
    by_rule = {int(w["id"]): w for w in rule.get("workforces", [])}
    open_ones = [t for t in members if t.ended_at is None]
    even = round(100 / len(open_ones), 1) if open_ones else 0
    workforces = []
    for t in members:
        kept = by_rule.get(t.id)
        share = _plain(kept.get("share")) if kept else ("" if by_rule else _plain(even))
        quota = _plain(kept.get("quota")) if kept else ""
        workforces.append(
            {
                "id": t.id,
                "name": t.name,
                "kind": t.kind,
                "ended": t.ended_at is not None,
                "share": share,
                "quota": quota,
            }
        )
    return {
        "project_id": project_id,
        "overlap": overlap,
        "mode": rule.get("mode", "share"),
        "workforces": workforces,
        "summary": summary,
    }


def models_section(session: Session, actor: Actor, project_id: int) -> dict[str, Any]:
    """The endpoints this project may call (with the fields it may send), and for owners
    every endpoint of the organization, to allow one (docs/models.md)."""
    rules = [
        {**model_policy.rule_out(r, e), "model_version": model_endpoints.model_version(e)}
        for r, e in model_policy.list_rules(session, actor, project_id=project_id)
    ]
    owner = actor.org_role == Role.owner
    every = model_endpoints.list_endpoints(session, actor) if owner else []
    return {
        "rules": rules,
        "is_owner": owner,
        "endpoints": [{"id": e.id, "name": e.name} for e in every],
    }


@router.get("/projects/{project_id}/settings", response_class=HTMLResponse)
def project_settings(project_id: Id, ctx: Ctx) -> HTMLResponse:
    with page_session(ctx) as (s, actor, csrf):
        view = settings_view(s, actor, project_id)
        members = members_section(s, actor, project_id) if view.can_manage_members else None
        routes = (
            routing_section(s, actor, project_id, view.project.overlap) if view.can_edit else None
        )
        models = models_section(s, actor, project_id) if view.can_edit else None
        editor: dict[str, Any] = {
            "project_id": view.project.id,
            "can_edit": view.can_edit,
            "version": view.project.schema_version,
            "versions": [
                {"version": v.version, "created_at": v.created_at, "schema": v.document}
                for v in view.versions
            ],
            "widgets": widget_kinds(),
        }
        return render(
            ctx.request,
            "settings.html",
            actor=actor.in_project(project_id),
            csrf_token=csrf,
            project=view.project,
            tabs=project_tabs(actor, project_id),
            current_tab="settings",
            view=view,
            schema_text=schema_text(view.schema),
            editor=editor,
            widget_css=widget_stylesheet(),
            members=members,
            routing=routes,
            models=models,
            skip_reasons=skip_reasons_of(view.project),
        )
