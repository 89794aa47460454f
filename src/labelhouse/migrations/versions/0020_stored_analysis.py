"""stored analysis: a project's quality analysis kept between requests

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 19:30:00

``analysis_result`` keeps the last computed analysis (report and per-task consensus) per
project and method, with the watermark of the answers it was computed from
(``quality_report/stored.py``). ``ix_annotation_watermark`` covers the query that computes
that watermark (counts, revision sum and last id of a project's submitted answers per review
status) so checking whether a stored result is still fresh reads the index only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")
_WHEN = sa.DateTime(timezone=True)
_WATERMARK = ["project_id", "status", "review_status", "revision", "id"]


def upgrade() -> None:
    op.create_table(
        "analysis_result",
        sa.Column("id", _ID, nullable=False),
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("watermark", sa.String(length=500), nullable=False),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.Column("computed_at", _WHEN, nullable=False),
        sa.Column("compute_ms", sa.Integer(), nullable=False),
        sa.Column("report", sa.LargeBinary(), nullable=False),
        sa.Column("consensus", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_analysis_result_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_result")),
        sa.UniqueConstraint("project_id", "key", name=op.f("uq_analysis_result_project_id")),
    )
    op.create_index("ix_annotation_watermark", "annotation", _WATERMARK)


def downgrade() -> None:
    op.drop_index("ix_annotation_watermark", table_name="annotation")
    op.drop_table("analysis_result")
