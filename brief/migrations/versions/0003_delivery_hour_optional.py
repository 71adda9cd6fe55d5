"""delivery hour optional: None sends each edition as soon as it is made

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 13:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _restore_email_index() -> None:
    # SQLite's batch mode rebuilds the table and cannot carry an expression index over.
    if op.get_context().dialect.name == "sqlite":
        op.create_index(
            "uq_subscriber_email_lower", "subscriber", [sa.text("lower(email)")], unique=True
        )


def upgrade() -> None:
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.alter_column("delivery_hour", existing_type=sa.Integer(), nullable=True)
    _restore_email_index()


def downgrade() -> None:
    op.execute("UPDATE subscriber SET delivery_hour = 7 WHERE delivery_hour IS NULL")
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.alter_column("delivery_hour", existing_type=sa.Integer(), nullable=False)
    _restore_email_index()
