"""Export use case: authorize, pick the writer, and stream the project's records.

With consensus (``content=consensus|both``) a reviewed task's consensus is its reviewed
value (method ``review``, confidence 1), whatever the chosen method computed for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from labelhouse.accounts.models import Role
from labelhouse.accounts.policy import Actor
from labelhouse.audit import service as audit
from labelhouse.errors import InvalidInput, Problem
from labelhouse.exports.records import iter_records
from labelhouse.exports.writers import CSV_FORMULAS, FORMATS, Format
from labelhouse.kinds.registry import LabelSchema
from labelhouse.projects.service import get_project, load_schema
from labelhouse.quality_report.service import check_method, consensus_by_task

CONTENTS = ("raw", "consensus", "both")


@dataclass
class ExportPlan:
    project_id: int
    project_name: str
    fmt: Format
    format_name: str
    field_names: list[str]
    data_keys: list[str]
    include_drafts: bool
    schema: LabelSchema | None = None
    content: str = "raw"  # raw annotations, consensus per field, or both
    consensus_method: str = "majority"
    csv_formulas: str = "escape"  # CSV only: neutralise cells a spreadsheet runs, or keep
    options: dict[str, Any] = field(default_factory=dict)  # the format's own, parsed
    records_written: int = 0  # counted while streaming, for the audit log's finish event
    # A workforce's own slice (see exports/records.iter_records): its routed tasks, its
    # people's annotations, the data and answers as its people are shown them.
    workforce_id: int | None = None
    data_view: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    answer_view: Callable[[Any], Any] | None = None

    @property
    def filename(self) -> str:
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in self.project_name)[:60]
        return f"{safe or 'project'}-{self.project_id}.{self.fmt.extension_for(self.options)}"

    @property
    def media_type(self) -> str:
        return self.fmt.media_type_for(self.options)

    def stream(self, session: Session) -> Iterator[bytes]:
        consensus = None
        wants_consensus = self.content != "raw" or self.options.get("values") == "consensus"
        if wants_consensus and self.schema is not None:
            # Consensus (e.g. Dawid–Skene) needs every annotation at once; it is computed
            # before streaming starts, from the same read session.
            consensus = consensus_by_task(
                session, self.project_id, self.schema, method=self.consensus_method
            )
        records = iter_records(
            session,
            self.project_id,
            include_drafts=self.include_drafts,
            raw_json=self.fmt.raw_json,
            consensus=consensus,
            annotations_included=self.content != "consensus",
            schema=self.schema,
            workforce_id=self.workforce_id,
            data_view=self.data_view,
            answer_view=self.answer_view,
            # provenance=full (exports/formats/provenance.py) names the workforce of each answer
            workforces=self.options.get("provenance") == "full" and self.workforce_id is None,
        )
        return self.fmt.write(
            self._counted(records),
            field_names=self.field_names,
            data_keys=self.data_keys,
            consensus=consensus is not None,
            csv_formulas=self.csv_formulas,
            schema=self.schema,
            options=self.options,
        )

    def _counted(self, records: Iterator[Any]) -> Iterator[Any]:
        self.records_written = 0
        for record in records:
            self.records_written += 1
            yield record


def finish_export(session: Session, actor: Actor, plan: ExportPlan) -> None:
    """The second audit event of an export, after its last byte: how many records went
    out. An export without it did not complete (the client left, or it failed). A format
    that counts what it could not write as asked (``options["counts"]``, e.g. CoNLL's
    overlapping spans) has those counts here too."""
    counts = plan.options.get("counts")
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="project.export_finished",
        object_type="project",
        object_id=plan.project_id,
        details={"format": plan.format_name, "records": plan.records_written}
        | ({"counts": dict(sorted(counts.items()))} if counts else {}),
    )


def plan_export(
    session: Session,
    actor: Actor,
    project_id: int,
    *,
    format_name: str,
    include_drafts: bool = False,
    content: str = "raw",
    consensus_method: str = "majority",
    csv_formulas: str = "escape",
    options: Mapping[str, str] | None = None,
) -> ExportPlan:
    """Check access and format, record the export in the audit log; streaming comes after.

    ``options`` are the format's own (e.g. ``ties=keep`` for preference pairs), checked by
    its parser against the project's schema.

    ``csv_formulas`` (CSV only): ``escape`` puts a ``'`` before every text cell a
    spreadsheet would run as a formula; ``keep`` writes values exactly, for programs."""
    actor = actor.in_project(project_id)
    actor.require(Role.manager, "export data")
    check_format(format_name)
    if content not in CONTENTS:
        raise InvalidInput(
            f"Unknown export content '{content}'.",
            [Problem("content", f"use one of: {', '.join(CONTENTS)}")],
        )
    check_csv_formulas(csv_formulas)
    check_method(consensus_method)
    project = get_project(session, actor, project_id)
    schema = load_schema(session, project)
    parsed = FORMATS[format_name].parse_options(schema, dict(options or {}))
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="project.export",
        object_type="project",
        object_id=project.id,
        details={"format": format_name}
        | ({"content": content, "method": consensus_method} if content != "raw" else {})
        | ({"csv_formulas": "keep"} if format_name == "csv" and csv_formulas == "keep" else {})
        | ({"options": dict(options)} if options else {}),
    )
    return plan_for(
        project,
        schema,
        format_name,
        include_drafts=include_drafts,
        content=content,
        consensus_method=consensus_method,
        csv_formulas=csv_formulas,
        options=parsed,
    )


def check_format(format_name: str) -> None:
    if format_name not in FORMATS:
        raise InvalidInput(
            f"Unknown export format '{format_name}'.",
            [Problem("format", f"use one of: {', '.join(FORMATS)}")],
        )


def check_csv_formulas(csv_formulas: str) -> None:
    if csv_formulas not in CSV_FORMULAS:
        raise InvalidInput(
            f"Unknown csv_formulas '{csv_formulas}'.",
            [Problem("csv_formulas", f"use one of: {', '.join(CSV_FORMULAS)}")],
        )


def plan_for(project: Any, schema: LabelSchema, format_name: str, **options: Any) -> ExportPlan:
    """The plan of an export whose access, format and options have been checked (by
    :func:`plan_export`, or for a workforce's slice by ``people/my_workforce.py``)."""
    return ExportPlan(
        project_id=project.id,
        project_name=project.name,
        fmt=FORMATS[format_name],
        format_name=format_name,
        field_names=[f.name for f in schema.fields],
        data_keys=sorted(schema.data_keys()),
        schema=schema,
        **options,
    )
