"""skip reasons: the choices a project offers, and the note an annotator writes

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 10:00:00

``project.skip_reasons`` is the list of reasons the annotate page offers when a task is
skipped (NULL: the defaults in ``projects/skip_reasons.py``; ``[]``: a written note only).
``assignment.skip_note`` is what the annotator wrote beside the chosen ``skip_reason``.
Both are nullable columns without a default: no row is rewritten on either database.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
# MERGE NOTE: must be "0013" once 0013 (made on another branch at the same time) is
# merged; "0012" only so that this branch migrates and its tests run on their own.
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("project") as batch:
        batch.add_column(sa.Column("skip_reasons", _JSON, nullable=True))
    with op.batch_alter_table("assignment") as batch:
        batch.add_column(sa.Column("skip_note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assignment") as batch:
        batch.drop_column("skip_note")
    with op.batch_alter_table("project") as batch:
        batch.drop_column("skip_reasons")
