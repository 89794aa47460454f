"""login throttle shared by every app process: failed logins by key digest

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 22:58:03.274915
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "login_failure",
        sa.Column("id", ID, nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failure")),
    )
    with op.batch_alter_table("login_failure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_failure_failed_at"), ["failed_at"], unique=False)
        batch_op.create_index("ix_login_failure_key", ["key_hash", "failed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("login_failure", schema=None) as batch_op:
        batch_op.drop_index("ix_login_failure_key")
        batch_op.drop_index(batch_op.f("ix_login_failure_failed_at"))

    op.drop_table("login_failure")
