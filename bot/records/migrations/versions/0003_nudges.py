"""Nudges: follow-ups owed per escalation, stage, kind and due date; their delivery attempts;
partnership contacts' recipients; more time agreed at a stage.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stage_entries") as batch_op:
        batch_op.add_column(sa.Column("more_time_until", sa.Date(), nullable=True))
    op.create_table(
        "partnership_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partnership", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("partnership", "contact_id", name="uq_partnership_contacts"),
    )
    op.create_table(
        "nudges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column("stage_index", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=240), nullable=True),
        sa.ForeignKeyConstraint(["escalation_id"], ["escalations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["recipient_id"], ["people.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("escalation_id", "stage_index", "kind", "due_on", name="uq_nudges_key"),
    )
    with op.batch_alter_table("nudges") as batch_op:
        batch_op.create_index("ix_nudges_status", ["status"], unique=False)
        batch_op.create_index("ix_nudges_next_attempt_at", ["next_attempt_at"], unique=False)
    op.create_table(
        "nudge_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nudge_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("error", sa.String(length=240), nullable=True),
        sa.ForeignKeyConstraint(["nudge_id"], ["nudges.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("nudge_attempts") as batch_op:
        batch_op.create_index("ix_nudge_attempts_nudge_id", ["nudge_id"], unique=False)


def downgrade() -> None:
    op.drop_table("nudge_attempts")
    with op.batch_alter_table("nudges") as batch_op:
        batch_op.drop_index("ix_nudges_next_attempt_at")
        batch_op.drop_index("ix_nudges_status")
    op.drop_table("nudges")
    op.drop_table("partnership_contacts")
    with op.batch_alter_table("stage_entries") as batch_op:
        batch_op.drop_column("more_time_until")
