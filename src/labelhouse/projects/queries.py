"""What the project settings page shows, gathered in one call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from labelhouse.accounts.models import Role
from labelhouse.accounts.policy import Actor
from labelhouse.kinds.registry import LabelSchema
from labelhouse.projects.models import Project, SchemaVersion
from labelhouse.projects.service import current_schema_row, get_project, schema_versions


@dataclass
class SettingsView:
    project: Project
    schema: dict[str, Any]
    versions: list[SchemaVersion]
    can_edit: bool
    can_manage_members: bool


def settings_view(session: Session, actor: Actor, project_id: int) -> SettingsView:
    """Reviewers may read the settings (schema, instructions); managers may change them and
    manage the project's members (the page gathers those from ``labelhouse.people``, which
    sits above this package)."""
    actor = actor.in_project(project_id)
    actor.require_lab_reviewer("see project settings")
    project = get_project(session, actor, project_id)
    manager = actor.at_least(Role.manager)
    return SettingsView(
        project=project,
        schema=current_schema_row(session, project).document,
        versions=schema_versions(session, project),
        can_edit=manager,
        can_manage_members=manager,
    )


SAMPLE_TEXT = (
    "This is a sample task. Ada Lovelace wrote the first program for Charles Babbage's "
    "Analytical Engine in London."
)


def _candidates(key: str) -> list[Any]:
    """Values to try for a data key, simplest first: text, then lists of responses."""
    responses = [
        f"Response {n} for '{key}': a short **Markdown** answer with `code`." for n in range(1, 5)
    ]
    return [SAMPLE_TEXT, responses[:2], responses[:3], responses[:4]]


def sample_task_data(schema: LabelSchema, *, media: str) -> dict[str, Any]:
    """Task data every field of ``schema`` accepts (for previews and import examples).

    The shape of each key is found by asking the kinds themselves (``check_task_data``)
    instead of knowing each kind here; media keys get ``media`` (a file name or URL).
    """
    media_keys = {k for f in schema.fields for k in f.media_keys()}
    data: dict[str, Any] = {}
    for key in sorted(schema.data_keys()):
        if key in media_keys:
            data[key] = media
            continue
        for value in _candidates(key):
            data[key] = value
            if not any(f"'{key}'" in p for p in schema.check_task_data(data)):
                break
    return data
