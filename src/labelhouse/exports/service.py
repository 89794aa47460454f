"""Export use case: authorize, pick the writer, and stream the project's records."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.orm import Session

from labelhouse.accounts.models import Role
from labelhouse.accounts.policy import Actor
from labelhouse.audit import service as audit
from labelhouse.errors import InvalidInput, Problem
from labelhouse.exports.records import iter_records
from labelhouse.exports.writers import FORMATS, Format
from labelhouse.projects.service import get_project, load_schema


@dataclass
class ExportPlan:
    project_id: int
    project_name: str
    fmt: Format
    format_name: str
    field_names: list[str]
    data_keys: list[str]
    include_drafts: bool

    @property
    def filename(self) -> str:
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in self.project_name)[:60]
        return f"{safe or 'project'}-{self.project_id}.{self.fmt.extension}"

    def stream(self, session: Session) -> Iterator[bytes]:
        records = iter_records(
            session,
            self.project_id,
            include_drafts=self.include_drafts,
            raw_json=self.fmt.raw_json,
        )
        return self.fmt.write(records, field_names=self.field_names, data_keys=self.data_keys)


def plan_export(
    session: Session,
    actor: Actor,
    project_id: int,
    *,
    format_name: str,
    include_drafts: bool = False,
) -> ExportPlan:
    """Check access and format, record the export in the audit log; streaming comes after."""
    actor.require(Role.manager, "export data")
    if format_name not in FORMATS:
        raise InvalidInput(
            f"Unknown export format '{format_name}'.",
            [Problem("format", f"use one of: {', '.join(FORMATS)}")],
        )
    project = get_project(session, actor, project_id)
    schema = load_schema(session, project)
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="project.export",
        object_type="project",
        object_id=project.id,
        details={"format": format_name},
    )
    return ExportPlan(
        project_id=project.id,
        project_name=project.name,
        fmt=FORMATS[format_name],
        format_name=format_name,
        field_names=[f.name for f in schema.fields],
        data_keys=sorted(schema.data_keys()),
        include_drafts=include_drafts,
    )
