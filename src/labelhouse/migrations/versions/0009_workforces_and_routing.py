"""workforces (staff and vendor teams), routing work to them, what vendors are shown, gold rotation

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 08:00:00

A team may now be a workforce: the lab's own staff or an outside vendor, with a contact, a
price and a currency. A person belongs to at most one workforce per organization
(``membership.workforce_id``). Tasks of a project may be routed to workforces, each with a
quota of annotations (``task_route``); every lease records the workforce it was served to.
Existing teams stay plain teams and no task is routed, so nothing changes until a lab uses it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")
_WHEN = sa.DateTime(timezone=True)
_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("team") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=10), nullable=False, server_default="group")
        )
        batch.add_column(
            sa.Column("contact", sa.String(length=500), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("price_per_task", sa.Float(), nullable=True))
        batch.add_column(sa.Column("price_per_hour", sa.Float(), nullable=True))
        batch.add_column(
            sa.Column("currency", sa.String(length=3), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("ended_at", _WHEN, nullable=True))
    with op.batch_alter_table("team_member") as batch:
        batch.add_column(
            sa.Column("is_manager", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("membership") as batch:
        batch.add_column(sa.Column("workforce_id", _ID, nullable=True))
        batch.create_foreign_key(
            batch.f("fk_membership_workforce_id_team"),
            "team",
            ["workforce_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("project_member") as batch:
        batch.add_column(
            sa.Column("can_export", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("invitation") as batch:
        batch.add_column(sa.Column("team_id", _ID, nullable=True))
        batch.create_foreign_key(
            batch.f("fk_invitation_team_id_team"), "team", ["team_id"], ["id"], ondelete="CASCADE"
        )
    with op.batch_alter_table("project") as batch:
        batch.add_column(
            sa.Column("routed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("routing_rule", _JSON, nullable=True))
        batch.add_column(sa.Column("outside_policy", _JSON, nullable=True))
        batch.add_column(sa.Column("gold_exposure_limit", sa.Integer(), nullable=True))
    with op.batch_alter_table("task") as batch:
        batch.add_column(sa.Column("gold_state", sa.String(length=10), nullable=True))
    with op.batch_alter_table("assignment") as batch:
        batch.add_column(sa.Column("workforce_id", _ID, nullable=True))
    op.create_table(
        "task_route",
        sa.Column("id", _ID, nullable=False),
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("task_id", _ID, nullable=False),
        sa.Column("workforce_id", _ID, nullable=False),
        sa.Column("quota", sa.Integer(), nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_task_route_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["task.id"], name=op.f("fk_task_route_task_id_task"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workforce_id"],
            ["team.id"],
            name=op.f("fk_task_route_workforce_id_team"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_route")),
        sa.UniqueConstraint("task_id", "workforce_id", name=op.f("uq_task_route_task_id")),
    )
    op.create_index(
        "ix_task_route_queue",
        "task_route",
        ["project_id", "workforce_id", "is_open", "task_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_task_route_queue", table_name="task_route")
    op.drop_table("task_route")
    with op.batch_alter_table("assignment") as batch:
        batch.drop_column("workforce_id")
    with op.batch_alter_table("task") as batch:
        batch.drop_column("gold_state")
    with op.batch_alter_table("project") as batch:
        batch.drop_column("gold_exposure_limit")
        batch.drop_column("outside_policy")
        batch.drop_column("routing_rule")
        batch.drop_column("routed")
    with op.batch_alter_table("invitation") as batch:
        batch.drop_constraint("fk_invitation_team_id_team", type_="foreignkey")
        batch.drop_column("team_id")
    with op.batch_alter_table("project_member") as batch:
        batch.drop_column("can_export")
    with op.batch_alter_table("membership") as batch:
        batch.drop_constraint("fk_membership_workforce_id_team", type_="foreignkey")
        batch.drop_column("workforce_id")
    with op.batch_alter_table("team_member") as batch:
        batch.drop_column("is_manager")
    with op.batch_alter_table("team") as batch:
        for name in ("ended_at", "currency", "price_per_hour", "price_per_task", "contact", "kind"):
            batch.drop_column(name)
