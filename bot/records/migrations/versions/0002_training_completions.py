"""Training completions: a Level 3 quiz finished, per person, partnership and score.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "training_completions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("partnership", sa.String(length=64), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("training_completions") as batch_op:
        batch_op.create_index("ix_training_completions_person_id", ["person_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("training_completions") as batch_op:
        batch_op.drop_index("ix_training_completions_person_id")
    op.drop_table("training_completions")
