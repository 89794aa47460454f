"""The Labelhouse Python client: a typed, synchronous wrapper around the JSON API.

    from labelhouse.client import Client

    with Client("http://127.0.0.1:8080", token="lh_...") as lh:
        project = lh.create_project("Reviews", {"fields": [...]})
        lh.import_tasks(project, [{"text": "..."}], progress=print)

It imports nothing of the server (only httpx and the standard library), so it can ship as
a distribution of its own; an import-linter contract in pyproject.toml keeps it that way.
See docs/python-client.md.
"""

from __future__ import annotations

from labelhouse.client._importing import ImportMixin
from labelhouse.client._work import WorkMixin
from labelhouse.client.errors import (
    AuthenticationError,
    Conflict,
    ConnectionFailed,
    InvalidInput,
    JobFailed,
    LabelhouseError,
    NotFound,
    PasswordChangeRequired,
    PermissionDenied,
    Problem,
    RateLimited,
    ReadOnlyToken,
    ServerError,
    TooLarge,
    Unavailable,
)
from labelhouse.client.job_types import Job, JobResult, Snapshot, SnapshotFile
from labelhouse.client.jobs import JobsMixin
from labelhouse.client.reports import ConsensusRow, FieldAgreement, QualityReport, Scorecard
from labelhouse.client.types import (
    Annotation,
    ApiToken,
    ExportResult,
    Field,
    ImportProgress,
    ImportResult,
    Lease,
    Me,
    NextTask,
    Project,
    Review,
    ReviewItem,
    Schema,
    Submission,
    Task,
)


class Client(JobsMixin, ImportMixin, WorkMixin):
    """A connection to one Labelhouse server: ``Client(base_url, token=...)`` with an API
    token, or ``Client.login(base_url, email, password)``. Use it as a context manager (or
    call :meth:`close`). Methods take ids or the objects the client returned."""


__all__ = [
    "Annotation",
    "ApiToken",
    "AuthenticationError",
    "Client",
    "Conflict",
    "ConnectionFailed",
    "ConsensusRow",
    "ExportResult",
    "Field",
    "FieldAgreement",
    "ImportProgress",
    "ImportResult",
    "InvalidInput",
    "Job",
    "JobFailed",
    "JobResult",
    "LabelhouseError",
    "Lease",
    "Me",
    "NextTask",
    "NotFound",
    "PasswordChangeRequired",
    "PermissionDenied",
    "Problem",
    "Project",
    "QualityReport",
    "RateLimited",
    "ReadOnlyToken",
    "Review",
    "ReviewItem",
    "Schema",
    "Scorecard",
    "ServerError",
    "Snapshot",
    "SnapshotFile",
    "Submission",
    "Task",
    "TooLarge",
    "Unavailable",
]
