"""Projects, schemas, tasks, the work queue, review, quality and the streamed export."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from labelhouse.client._base import ClientBase, IdLike, id_of
from labelhouse.client._download import save_stream
from labelhouse.client._http import parse_json
from labelhouse.client.reports import ConsensusRow, QualityReport
from labelhouse.client.types import (
    Annotation,
    ExportResult,
    NextTask,
    Project,
    Review,
    ReviewItem,
    Schema,
    Submission,
    Task,
)

Decision = Literal["accept", "reject", "correct"]


class WorkMixin(ClientBase):
    # -- projects ---------------------------------------------------------------------------

    def iter_projects(self, *, include_archived: bool = False) -> Iterator[Project]:
        """Every project the caller can see, page by page."""
        params = {"include_archived": include_archived, "limit": 500}
        for item in self._pages("/api/projects", params):
            yield Project.from_json(item)

    def list_projects(self, *, include_archived: bool = False) -> list[Project]:
        return list(self.iter_projects(include_archived=include_archived))

    def get_project(self, project: IdLike) -> Project:
        """The project with its current schema (``.schema``)."""
        return Project.from_json(self._get(f"/api/projects/{id_of(project)}"))

    def create_project(
        self,
        name: str,
        schema: dict[str, Any] | str,
        *,
        description: str = "",
        instructions: str = "",
        overlap: int = 1,
        lease_seconds: int | None = None,
    ) -> Project:
        """``schema``: ``{"fields": [...]}`` (or its YAML text); a wrong one raises
        :class:`~labelhouse.client.errors.InvalidInput` naming each field at fault."""
        body: dict[str, Any] = {
            "name": name,
            "schema": schema,
            "description": description,
            "instructions": instructions,
            "overlap": overlap,
        }
        if lease_seconds is not None:
            body["lease_seconds"] = lease_seconds
        return Project.from_json(self._http.call("POST", "/api/projects", json=body))

    def update_project(self, project: IdLike, **changes: Any) -> Project:
        """Change settings: ``name``, ``overlap``, ``review_mode`` ("off", "all", "sample",
        "disagreement"), ``archived``, ``gold_rate``, … (see the API's PATCH /projects)."""
        path = f"/api/projects/{id_of(project)}"
        return Project.from_json(self._http.call("PATCH", path, json=changes))

    def add_members(
        self, project: IdLike, emails: list[str], role: str = "annotator"
    ) -> dict[str, Any]:
        """Give organization members a project role ("annotator", "reviewer", "manager")."""
        path = f"/api/projects/{id_of(project)}/members"
        body = {"emails": emails, "role": role}
        return self._http.call("POST", path, json=body)

    # -- schema -----------------------------------------------------------------------------

    def get_schema(self, project: IdLike) -> Schema:
        return Schema.from_json(self._get(f"/api/projects/{id_of(project)}/schema"))

    def schema_versions(self, project: IdLike) -> list[Schema]:
        items = self._get(f"/api/projects/{id_of(project)}/schema/versions")["items"]
        return [Schema.from_json(d) for d in items]

    def update_schema(self, project: IdLike, schema: dict[str, Any] | str) -> Schema:
        """Store a new schema version (annotations keep the version they were made under)."""
        path = f"/api/projects/{id_of(project)}/schema"
        return Schema.from_json(self._http.call("PUT", path, json={"schema": schema}))

    def validate_schema(self, schema: dict[str, Any] | str) -> Schema:
        """Check a schema without storing it: the normalised schema, or InvalidInput."""
        body = self._http.call("POST", "/api/schemas/validate", json={"schema": schema})
        return Schema.from_document(body.get("schema"))

    # -- tasks ------------------------------------------------------------------------------

    def get_task(self, task: IdLike) -> Task:
        """The task with its predictions and the annotations the caller may see."""
        return Task.from_json(self._get(f"/api/tasks/{id_of(task)}"))

    def iter_tasks(
        self, project: IdLike, *, page_size: int = 500, **filters: Any
    ) -> Iterator[Task]:
        """Every task of the project in id order, following the cursor page by page.
        ``filters``: ``status``, ``external_id``, ``q`` (text), ``annotator`` (user id),
        ``field`` + ``value`` (+ ``match``="contains")."""
        params = {**filters, "limit": page_size}
        for item in self._pages(f"/api/projects/{id_of(project)}/tasks", params):
            yield Task.from_json(item)

    def task_annotations(self, task: IdLike) -> list[Annotation]:
        items = self._get(f"/api/tasks/{id_of(task)}/annotations")["items"]
        return [Annotation.from_json(a) for a in items]

    # -- the work queue ---------------------------------------------------------------------

    def next_task(self, project: IdLike) -> NextTask:
        """Lease the caller's next task (``.task`` is None when none is left). Asking again
        while the lease is held returns the same task, so this is retried safely."""
        path = f"/api/projects/{id_of(project)}/next"
        return NextTask.from_json(self._http.call("POST", path, retry=True))

    def submit(
        self,
        task: IdLike,
        value: dict[str, Any],
        *,
        draft: bool = False,
        lead_time_ms: float | None = None,
        idempotency_key: str | None = None,
    ) -> Submission:
        """Submit (or with ``draft`` save) the caller's answer: ``value`` maps field names to
        values. Sent with an ``Idempotency-Key`` (a new one unless given), so a retry after a
        lost answer is replayed by the server, never written twice. Invalid values raise
        InvalidInput listing every field's problem."""
        key = idempotency_key or str(uuid.uuid4())
        body: dict[str, Any] = {"value": value, "draft": draft}
        if lead_time_ms is not None:
            body["lead_time_ms"] = lead_time_ms
        response = self._http.request(
            "POST",
            f"/api/tasks/{id_of(task)}/annotations",
            json=body,
            headers={"Idempotency-Key": key},
            retry=True,
        )
        out = parse_json(response)
        return Submission(
            annotation=Annotation.from_json(out),
            created=bool(out.get("created")),
            replayed=response.headers.get("idempotent-replayed") == "true",
        )

    def skip(
        self,
        task: IdLike,
        *,
        reason: str | None = None,
        note: str | None = None,
        idempotency_key: str | None = None,
    ) -> bool:
        """Give the task back for good (it will not come to the caller again). Retried
        safely like :meth:`submit`; returns True when the server replayed an earlier skip."""
        key = idempotency_key or str(uuid.uuid4())
        body = {"reason": reason, "note": note} if reason or note else None
        response = self._http.request(
            "POST",
            f"/api/tasks/{id_of(task)}/skip",
            json=body,
            headers={"Idempotency-Key": key},
            retry=True,
        )
        return response.headers.get("idempotent-replayed") == "true"

    def release(self, task: IdLike, *, hold: str | None = None) -> None:
        """Give the leased task back at once, without a trace (``hold``: the ``lease.hold``
        this client was served, so a newer serving of the task is left alone)."""
        self._http.request(
            "DELETE", f"/api/tasks/{id_of(task)}/lease", params={"hold": hold}, retry=True
        )

    # -- review -----------------------------------------------------------------------------

    def next_review(self, project: IdLike, *, after: int = 0) -> ReviewItem | None:
        """The next finished task waiting for the caller's review (leased to them), or None;
        ``after``: pass over tasks up to this id (give up the current one)."""
        path = f"/api/projects/{id_of(project)}/review/next"
        body = self._http.call("POST", path, params={"after": after}, retry=True)
        return ReviewItem.from_json(body) if body.get("task") else None

    def decide(
        self,
        task: IdLike,
        decision: Decision,
        *,
        reason: str | None = None,
        value: dict[str, Any] | None = None,
    ) -> Review:
        """Review a task: ``accept``; ``reject`` (``reason`` required: the answers go back
        to their annotators); ``correct`` (``value``: the reviewed value, validated)."""
        body = {"decision": decision, "reason": reason, "value": value}
        path = f"/api/tasks/{id_of(task)}/review"
        return Review.from_json(self._http.call("POST", path, json=body))

    def reviews(self, task: IdLike) -> list[Review]:
        items = self._get(f"/api/tasks/{id_of(task)}/reviews")["items"]
        return [Review.from_json(r) for r in items]

    # -- quality ----------------------------------------------------------------------------

    def quality_report(
        self, project: IdLike, *, method: str = "majority", hotspots: int | None = None
    ) -> QualityReport:
        """Agreement per field, annotator scorecards and the rest of the report; ``method``:
        majority, dawid_skene or gold_weighted."""
        params = {"method": method, "hotspots": hotspots}
        return QualityReport.from_json(self._get(f"/api/projects/{id_of(project)}/quality", params))

    def iter_consensus(
        self, project: IdLike, *, method: str = "majority", page_size: int = 1000
    ) -> Iterator[ConsensusRow]:
        """The consensus value and confidence per annotated task and field, in task order."""
        params = {"method": method, "limit": page_size}
        for item in self._pages(f"/api/projects/{id_of(project)}/consensus", params):
            yield ConsensusRow.from_json(item)

    # -- export -----------------------------------------------------------------------------

    def export(
        self,
        project: IdLike,
        path: str | os.PathLike[str],
        format: str = "jsonl",
        *,
        content: str | None = None,
        include_drafts: bool | None = None,
        consensus_method: str | None = None,
        **options: Any,
    ) -> ExportResult:
        """Stream the project's export to ``path`` (memory stays flat). ``content``: raw,
        consensus or both; ``options``: the format's own options (e.g. ``ties="keep"``),
        sent as query parameters. The file appears complete or not at all."""
        params = {
            "format": format,
            "content": content,
            "include_drafts": include_drafts,
            "consensus_method": consensus_method,
            **options,
        }
        with self._http.stream(
            "GET", f"/api/projects/{id_of(project)}/export", params=params
        ) as response:
            return save_stream(response, Path(path))

    # -- helpers ----------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._http.call("GET", path, params=params)

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The items of a cursor-paginated list, fetching the next page as they are used."""
        cursor: Any = None
        while True:
            body = self._get(path, {**params, "cursor": cursor})
            yield from body.get("items") or []
            cursor = body.get("next_cursor")
            if cursor is None:
                return
