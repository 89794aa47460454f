"""a lease names the page that holds it, so a closing page gives back only its own

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 18:00:00

``assignment.hold`` counts how often a held lease was served again (a reload, a second
tab). ``/next`` hands out ``"<assignment id>.<hold>"`` and a release that names a hold
gives the lease back only if it is still that hold: a reload's beacon landing after the
reloaded page took the same lease again no longer takes it from under the new page.
Adding a column with a constant default rewrites no rows on either database.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("assignment") as batch:
        batch.add_column(sa.Column("hold", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("assignment") as batch:
        batch.drop_column("hold")
