"""The stored analysis of a project: one row per (project, method and options), replaced
whenever it is recomputed. Any app server or worker reads the same row (no process keeps
the truth), and the watermark says which answers it was computed from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from labelhouse.db.base import Base, BigId, UtcDateTime, utcnow


class AnalysisResult(Base):
    __tablename__ = "analysis_result"
    __table_args__ = (UniqueConstraint("project_id", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))  # method, options and code version
    options: Mapped[str] = mapped_column(Text)  # the same as JSON, for people reading the table
    watermark: Mapped[str] = mapped_column(String(500))  # answers it was computed from
    answers: Mapped[int] = mapped_column(Integer)  # submitted answers counted then
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    compute_ms: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)  # the report, JSON
    consensus: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)  # task columns, npz
