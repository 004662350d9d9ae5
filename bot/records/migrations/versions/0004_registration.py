"""Registration: a person's work e-mail (as a keyed digest and its domain, never the address),
their line manager's e-mail digest until that manager registers, and when they registered.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("people") as batch_op:
        batch_op.add_column(sa.Column("email_digest", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("email_domain", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("manager_email_digest", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("registered_at", sa.DateTime(), nullable=True))
        batch_op.create_index("ix_people_email_digest", ["email_digest"], unique=False)
        batch_op.create_index("ix_people_manager_email_digest", ["manager_email_digest"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("people") as batch_op:
        batch_op.drop_index("ix_people_manager_email_digest")
        batch_op.drop_index("ix_people_email_digest")
        batch_op.drop_column("registered_at")
        batch_op.drop_column("manager_email_digest")
        batch_op.drop_column("email_domain")
        batch_op.drop_column("email_digest")
