"""Model endpoints and the egress policy's allow-list rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from labelhouse.db.base import Base, BigId, JsonDoc, UtcDateTime, utcnow


class ModelEndpoint(Base):
    """A model server of the organization: OpenAI-compatible chat completions
    (``kind="openai"``) or a generic JSON endpoint (``kind="http"``, read through
    ``mapping``). ``secret`` is the API key encrypted with ``LABELHOUSE_MODELS_SECRET_KEY``
    (``models_loop/secrets.py``); only its last characters (``secret_hint``) are ever shown."""

    __tablename__ = "model_endpoint"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    url: Mapped[str] = mapped_column(String(2000))
    model: Mapped[str] = mapped_column(String(200), default="")
    version: Mapped[str] = mapped_column(String(100), default="")
    temperature: Mapped[float | None] = mapped_column(Float)
    candidates: Mapped[int] = mapped_column(Integer, default=2)
    mapping: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    secret_hint: Mapped[str | None] = mapped_column(String(4))
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class EgressRule(Base):
    """One allow-list entry: ``project_id`` may send the task data fields ``fields`` to
    ``endpoint_id``. No row: nothing may be sent (default deny). ``on_import``: ask the
    endpoint for ``"predictions"`` or ``"candidates"`` for every task a new import adds."""

    __tablename__ = "model_egress_rule"
    __table_args__ = (UniqueConstraint("endpoint_id", "project_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("model_endpoint.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(
        ForeignKey("project.id", ondelete="CASCADE"), index=True
    )
    fields: Mapped[list[str]] = mapped_column(JsonDoc)
    on_import: Mapped[str | None] = mapped_column(String(20))
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
