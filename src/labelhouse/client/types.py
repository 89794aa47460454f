"""Typed results of the client: small dataclasses over the API's JSON.

The quality report's types are in :mod:`labelhouse.client.reports`. Each keeps the main
fields typed and the whole answer in ``raw``, so a field the server adds
later is reachable without a new client release. Times stay the ISO strings the API sends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from labelhouse.client._json import opt_float as _opt_float
from labelhouse.client._json import opt_int as _opt_int


@dataclass(frozen=True)
class Field:
    """One field of a label schema (``raw`` holds its options, reads, etc.)."""

    name: str
    kind: str
    raw: dict[str, Any]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Field:
        return cls(name=str(d.get("name", "")), kind=str(d.get("kind", "")), raw=d)


@dataclass(frozen=True)
class Schema:
    """A stored version of a project's label schema (``document`` is what was sent)."""

    version: int | None
    document: dict[str, Any]
    fields: list[Field]
    created_at: str | None = None

    @classmethod
    def from_document(
        cls, document: Any, version: int | None = None, created_at: str | None = None
    ) -> Schema:
        doc = document if isinstance(document, dict) else {}
        fields = [Field.from_json(f) for f in doc.get("fields") or [] if isinstance(f, dict)]
        return cls(version=version, document=doc, fields=fields, created_at=created_at)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Schema:
        return cls.from_document(d.get("schema"), _opt_int(d.get("version")), d.get("created_at"))


@dataclass(frozen=True)
class Project:
    id: int
    name: str
    description: str
    instructions: str
    overlap: int
    lease_seconds: int
    schema_version: int
    archived: bool
    review_mode: str
    created_at: str | None
    schema: Schema | None  # with get_project only
    raw: dict[str, Any]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Project:
        version = int(d.get("schema_version") or 0)
        schema = Schema.from_document(d["schema"], version) if "schema" in d else None
        return cls(
            id=int(d["id"]),
            name=str(d.get("name", "")),
            description=str(d.get("description") or ""),
            instructions=str(d.get("instructions") or ""),
            overlap=int(d.get("overlap") or 1),
            lease_seconds=int(d.get("lease_seconds") or 0),
            schema_version=version,
            archived=bool(d.get("archived")),
            review_mode=str(d.get("review_mode") or "off"),
            created_at=d.get("created_at"),
            schema=schema,
            raw=d,
        )


@dataclass(frozen=True)
class Annotation:
    id: int
    task_id: int
    annotator_id: int | None
    status: str  # "draft" or "submitted"
    review_status: str | None
    value: dict[str, Any]
    revision: int
    raw: dict[str, Any]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Annotation:
        return cls(
            id=int(d["id"]),
            task_id=int(d["task_id"]),
            annotator_id=_opt_int(d.get("annotator_id")),
            status=str(d.get("status", "")),
            review_status=d.get("review_status"),
            value=dict(d.get("value") or {}),
            revision=int(d.get("revision") or 1),
            raw=d,
        )


@dataclass(frozen=True)
class Task:
    id: int
    project_id: int
    external_id: str | None
    data: dict[str, Any]
    status: str
    annotations_done: int
    annotations: list[Annotation]  # the caller's own on next_task, all visible on get_task
    predictions: list[dict[str, Any]]
    raw: dict[str, Any]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Task:
        return cls(
            id=int(d["id"]),
            project_id=int(d["project_id"]),
            external_id=d.get("external_id"),
            data=dict(d.get("data") or {}),
            status=str(d.get("status", "")),
            annotations_done=int(d.get("annotations_done") or 0),
            annotations=[Annotation.from_json(a) for a in d.get("annotations") or []],
            predictions=list(d.get("predictions") or []),
            raw=d,
        )


@dataclass(frozen=True)
class Lease:
    """How long the task is reserved for the caller; ``hold`` names this serving of it."""

    expires_at: str
    new: bool
    hold: str | None
    seconds: int

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Lease:
        return cls(
            expires_at=str(d.get("expires_at", "")),
            new=bool(d.get("new")),
            hold=d.get("hold"),
            seconds=int(d.get("seconds") or 0),
        )


@dataclass(frozen=True)
class NextTask:
    """The answer of ``next_task``: ``task`` is None when nothing is left for the caller."""

    task: Task | None
    lease: Lease | None
    schema: Schema | None
    raw: dict[str, Any]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> NextTask:
        version = _opt_int(d.get("schema_version"))
        return cls(
            task=Task.from_json(d["task"]) if d.get("task") else None,
            lease=Lease.from_json(d["lease"]) if d.get("lease") else None,
            schema=Schema.from_document(d["schema"], version) if d.get("schema") else None,
            raw=d,
        )


@dataclass(frozen=True)
class Submission:
    """A submitted (or draft) annotation; ``replayed``: the server had it already (a retry
    with the same Idempotency-Key) and nothing was written twice."""

    annotation: Annotation
    created: bool
    replayed: bool


@dataclass
class ImportResult:
    """Totals of an import (summed over its batches); ``import_ids`` one per request."""

    rows: int = 0
    created: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejected_sample: list[dict[str, Any]] = field(default_factory=list)
    import_ids: list[int] = field(default_factory=list)

    def add(self, d: dict[str, Any]) -> None:
        self.rows += int(d.get("rows") or 0)
        self.created += int(d.get("created") or 0)
        self.duplicates += int(d.get("duplicates") or 0)
        self.rejected += int(d.get("rejected") or 0)
        self.rejected_sample.extend(d.get("rejected_sample") or [])
        if d.get("import_id") is not None:
            self.import_ids.append(int(d["import_id"]))


@dataclass(frozen=True)
class ImportProgress:
    """Passed to an import's progress callback after each batch (or chunk of a file)."""

    rows_sent: int  # rows sent so far (0 for a file, which is sent as bytes)
    bytes_sent: int
    created: int  # tasks created so far
    total_bytes: int | None = None  # a file's size


@dataclass(frozen=True)
class ReviewItem:
    """A finished task waiting for review, leased to the reviewer: per field the most
    common value (``majority``) and the share of annotators who gave it (``agreement``)."""

    task: Task
    majority: dict[str, Any]
    agreement: dict[str, float | None]
    lease_expires_at: str | None
    raw: dict[str, Any]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ReviewItem:
        return cls(
            task=Task.from_json(d["task"]),
            majority=dict(d.get("majority") or {}),
            agreement={k: _opt_float(v) for k, v in (d.get("agreement") or {}).items()},
            lease_expires_at=d.get("lease_expires_at"),
            raw=d,
        )


@dataclass(frozen=True)
class Review:
    id: int
    task_id: int
    reviewer_id: int
    decision: str
    reason: str | None
    value: dict[str, Any] | None
    raw: dict[str, Any]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Review:
        return cls(
            id=int(d["id"]),
            task_id=int(d["task_id"]),
            reviewer_id=int(d["reviewer_id"]),
            decision=str(d.get("decision", "")),
            reason=d.get("reason"),
            value=d.get("value"),
            raw=d,
        )


@dataclass(frozen=True)
class ApiToken:
    """An API token; ``token`` (the secret) only in the answer that created it."""

    id: int
    name: str
    prefix: str
    read_only: bool
    expires_at: str | None
    token: str | None
    raw: dict[str, Any]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ApiToken:
        return cls(
            id=int(d["id"]),
            name=str(d.get("name", "")),
            prefix=str(d.get("prefix", "")),
            read_only=bool(d.get("read_only")),
            expires_at=d.get("expires_at"),
            token=d.get("token"),
            raw=d,
        )


@dataclass(frozen=True)
class Me:
    user_id: int
    email: str
    organization_id: int
    role: str
    must_change_password: bool
    raw: dict[str, Any]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Me:
        return cls(
            user_id=int(d["user_id"]),
            email=str(d.get("email", "")),
            organization_id=int(d.get("organization_id") or 0),
            role=str(d.get("role", "")),
            must_change_password=bool(d.get("must_change_password")),
            raw=d,
        )


@dataclass(frozen=True)
class ExportResult:
    """A finished download: where it was written and how many bytes it holds."""

    path: str
    bytes: int
    filename: str | None  # the name the server suggested (Content-Disposition)
    content_type: str | None
