"""task comments with read markers; which revision each review decision judged

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 10:00:00

``task_comment``: questions and answers on a task, one thread per annotator (or a lab note);
``task_comment_read``: how far each person has read a task's comments (unread counts).
``review_outcome``: per review, the revision of each annotation it judged and the outcome, so
annotators see the decision on their own answer and a resubmission after a rejection is
recognised. Existing decisions are linked to the current revisions they judged (the first
review of the task at or after the annotation's last save) and count as already seen.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")
_WHEN = sa.DateTime(timezone=True)

# The review that judged an annotation's current revision: the first of its task saved at
# or after that revision (a decision judges every pending answer at once); the task's last
# review if clocks disagree.
_BACKFILL = """
INSERT INTO review_outcome (annotation_id, revision, review_id, outcome, seen_at)
SELECT a.id, a.revision, r.id, a.review_status, r.created_at
FROM annotation a
JOIN review r ON r.id = COALESCE(
    (SELECT min(r1.id) FROM review r1
     WHERE r1.task_id = a.task_id AND r1.created_at >= a.updated_at),
    (SELECT max(r2.id) FROM review r2 WHERE r2.task_id = a.task_id)
)
WHERE a.review_status IS NOT NULL AND a.status = 'submitted'
"""


def upgrade() -> None:
    op.create_table(
        "task_comment",
        sa.Column("id", _ID, nullable=False),
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("task_id", _ID, nullable=False),
        sa.Column("thread_user_id", _ID, nullable=True),
        sa.Column("author_id", _ID, nullable=True),
        sa.Column("author_role", sa.String(length=20), nullable=False),
        sa.Column("author_workforce_id", _ID, nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user_account.id"],
            name=op.f("fk_task_comment_author_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_task_comment_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["task.id"], name=op.f("fk_task_comment_task_id_task"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["thread_user_id"],
            ["user_account.id"],
            name=op.f("fk_task_comment_thread_user_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_comment")),
    )
    op.create_index("ix_task_comment_task", "task_comment", ["task_id", "id"])
    op.create_index("ix_task_comment_project", "task_comment", ["project_id", "id"])
    op.create_index("ix_task_comment_thread", "task_comment", ["thread_user_id", "project_id"])
    op.create_table(
        "task_comment_read",
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("task_id", _ID, nullable=False),
        sa.Column("last_read_id", sa.BigInteger(), nullable=False),
        sa.Column("read_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["task.id"],
            name=op.f("fk_task_comment_read_task_id_task"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_task_comment_read_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "task_id", name=op.f("pk_task_comment_read")),
    )
    op.create_index("ix_task_comment_read_task", "task_comment_read", ["task_id"])
    op.create_table(
        "review_outcome",
        sa.Column("annotation_id", _ID, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("review_id", _ID, nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("seen_at", _WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["annotation_id"],
            ["annotation.id"],
            name=op.f("fk_review_outcome_annotation_id_annotation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["review.id"],
            name=op.f("fk_review_outcome_review_id_review"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("annotation_id", "revision", name=op.f("pk_review_outcome")),
    )
    op.create_index("ix_review_outcome_review", "review_outcome", ["review_id"])
    op.execute(_BACKFILL)


def downgrade() -> None:
    op.drop_index("ix_review_outcome_review", table_name="review_outcome")
    op.drop_table("review_outcome")
    op.drop_index("ix_task_comment_read_task", table_name="task_comment_read")
    op.drop_table("task_comment_read")
    op.drop_index("ix_task_comment_thread", table_name="task_comment")
    op.drop_index("ix_task_comment_project", table_name="task_comment")
    op.drop_index("ix_task_comment_task", table_name="task_comment")
    op.drop_table("task_comment")
