"""Projects and their versioned label schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from labelhouse.db.base import Base, BigId, JsonDoc, UtcDateTime, utcnow

# SQL NULL for None (not JSON null).
NullableJson = JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)


# How long a task stays reserved for whoever opened it, unless the project says otherwise.
# Short, because an open annotate page renews its lease every minute (heartbeat) and gives
# it back as it closes: only abandoned work waits this long.
DEFAULT_LEASE_SECONDS = 600


class Project(Base):
    __tablename__ = "project"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    instructions: Mapped[str] = mapped_column(Text, default="")
    overlap: Mapped[int] = mapped_column(Integer, default=1)
    lease_seconds: Mapped[int] = mapped_column(Integer, default=DEFAULT_LEASE_SECONDS)
    schema_version: Mapped[int] = mapped_column(Integer, default=1)
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Quality control (see tasks/gold.py and review/): gold tasks mixed into the queue, the
    # optional pause below a gold accuracy, and which finished tasks go to review.
    gold_rate: Mapped[float] = mapped_column(Float, default=0.1, server_default=text("0.1"))
    gold_first_n: Mapped[int] = mapped_column(Integer, default=3, server_default=text("3"))
    gold_min_accuracy: Mapped[float | None] = mapped_column(Float)
    gold_min_answers: Mapped[int] = mapped_column(Integer, default=10, server_default=text("10"))
    review_mode: Mapped[str] = mapped_column(String(20), default="off", server_default="off")
    review_sample_rate: Mapped[float] = mapped_column(
        Float, default=0.2, server_default=text("0.2")
    )
    review_agreement_threshold: Mapped[float] = mapped_column(
        Float, default=1.0, server_default=text("1.0")
    )
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Work routed to workforces (tasks/routing.py): any route exists; the rule applied to
    # new imports ({"mode": "share"|"each", "workforces": [{"id", "share", "quota"}]}).
    routed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    routing_rule: Mapped[dict[str, Any] | None] = mapped_column(NullableJson)
    # What outside (vendor) workforces are shown of task data: hidden keys, redaction
    # rules, canary marking ({"hidden_keys": [...], "redact": [...], "canary": bool}).
    outside_policy: Mapped[dict[str, Any] | None] = mapped_column(NullableJson)
    # Gold items served more often than this are retired, and a reserve item (if any)
    # takes their place (tasks/gold_exposure.py); None: no limit.
    gold_exposure_limit: Mapped[int | None] = mapped_column(Integer)
    # An import being staged (SQLite): its tasks are already in ``task`` but no reader may
    # see them until it is published (tasks/visibility.py, tasks/staged_import.py). No
    # foreign key: the field is cleared when the import is published or cleaned up.
    staging_import_id: Mapped[int | None] = mapped_column(BigId)
    # The reasons the annotate page offers for a skip (projects/skip_reasons.py); None: the
    # defaults, []: only a written note.
    skip_reasons: Mapped[list[str] | None] = mapped_column(NullableJson)
    # The order the queue serves tasks in: "default" (import order), "priority", or by the
    # uncertainty of predictions, "entropy" or "margin" (tasks/queue_order.py).
    queue_order: Mapped[str] = mapped_column(
        String(20), default="default", server_default="default"
    )


class SchemaVersion(Base):
    """Every schema change is a new row; annotations point at the version they were made under."""

    __tablename__ = "schema_version"
    __table_args__ = (UniqueConstraint("project_id", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
