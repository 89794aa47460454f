"""annotation imports: imported answers marked, external annotators

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-04 16:30:00

A lab brings labels it already has (``annotations/imports.py``). ``annotation_import``
records each run; ``annotation.import_id`` and ``annotation_revision.import_id`` say which
run wrote an answer (provenance, no foreign key, like ``task.import_id``): NULL for answers
submitted here. ``external_annotator`` names the people of a file who are not users of the
organization: each is a ``user_account`` row that cannot sign in (no password, inactive,
no membership), so ``annotation.user_id`` keeps pointing at a real author.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "annotation_import",
        sa.Column("id", _ID, nullable=False),
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=True),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("filename", sa.String(length=500), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("externals_created", sa.Integer(), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_annotation_import_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_annotation_import_user_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotation_import")),
    )
    op.create_index("ix_annotation_import_project_id", "annotation_import", ["project_id"])
    op.create_table(
        "external_annotator",
        sa.Column("id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("organization_id", _ID, nullable=False),
        sa.Column("identity", sa.String(length=200), nullable=False),
        sa.Column("workforce_id", _ID, nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_external_annotator_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_external_annotator_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workforce_id"],
            ["team.id"],
            name=op.f("fk_external_annotator_workforce_id_team"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_annotator")),
        sa.UniqueConstraint("user_id", name=op.f("uq_external_annotator_user_id")),
        sa.UniqueConstraint(
            "organization_id", "identity", name=op.f("uq_external_annotator_organization_id")
        ),
    )
    with op.batch_alter_table("annotation") as batch:
        batch.add_column(sa.Column("import_id", _ID, nullable=True))
    with op.batch_alter_table("annotation_revision") as batch:
        batch.add_column(sa.Column("import_id", _ID, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("annotation_revision") as batch:
        batch.drop_column("import_id")
    with op.batch_alter_table("annotation") as batch:
        batch.drop_column("import_id")
    op.drop_table("external_annotator")
    op.drop_index("ix_annotation_import_project_id", table_name="annotation_import")
    op.drop_table("annotation_import")
