"""model endpoints and the egress policy's allow-list

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 19:20:00

``model_endpoint``: an organization's model servers (OpenAI-compatible or generic JSON), the
API key encrypted; ``model_egress_rule``: which project may send which task fields to which
endpoint (no row: nothing may be sent).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")
_WHEN = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "model_endpoint",
        sa.Column("id", _ID, nullable=False),
        sa.Column("organization_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=False),
        sa.Column("temperature", sa.Float(), nullable=True),
        sa.Column("candidates", sa.Integer(), nullable=False),
        sa.Column("mapping", _JSON, nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=True),
        sa.Column("secret_hint", sa.String(length=4), nullable=True),
        sa.Column("created_by", _ID, nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user_account.id"],
            name=op.f("fk_model_endpoint_created_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_model_endpoint_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_endpoint")),
        sa.UniqueConstraint(
            "organization_id", "name", name=op.f("uq_model_endpoint_organization_id")
        ),
    )
    op.create_index(
        op.f("ix_model_endpoint_organization_id"), "model_endpoint", ["organization_id"]
    )
    op.create_table(
        "model_egress_rule",
        sa.Column("id", _ID, nullable=False),
        sa.Column("organization_id", _ID, nullable=False),
        sa.Column("endpoint_id", _ID, nullable=False),
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("fields", _JSON, nullable=False),
        sa.Column("on_import", sa.String(length=20), nullable=True),
        sa.Column("created_by", _ID, nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user_account.id"],
            name=op.f("fk_model_egress_rule_created_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["model_endpoint.id"],
            name=op.f("fk_model_egress_rule_endpoint_id_model_endpoint"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_model_egress_rule_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_model_egress_rule_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_egress_rule")),
        sa.UniqueConstraint(
            "endpoint_id", "project_id", name=op.f("uq_model_egress_rule_endpoint_id")
        ),
    )
    op.create_index(
        op.f("ix_model_egress_rule_organization_id"), "model_egress_rule", ["organization_id"]
    )
    op.create_index(op.f("ix_model_egress_rule_project_id"), "model_egress_rule", ["project_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_model_egress_rule_project_id"), table_name="model_egress_rule")
    op.drop_index(op.f("ix_model_egress_rule_organization_id"), table_name="model_egress_rule")
    op.drop_table("model_egress_rule")
    op.drop_index(op.f("ix_model_endpoint_organization_id"), table_name="model_endpoint")
    op.drop_table("model_endpoint")
