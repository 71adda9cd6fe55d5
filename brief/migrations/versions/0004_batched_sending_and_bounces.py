"""batched sending (claims with leases, back-off, unsure) and bounces

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 11:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import brief.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _restore_email_index() -> None:
    # When SQLite's batch mode rebuilds the table it cannot carry an expression index
    # over (adding a column does not rebuild; dropping one does).
    if op.get_context().dialect.name == "sqlite":
        op.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS uq_subscriber_email_lower"
            " ON subscriber (lower(email))"
        )


def upgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lease_until", brief.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("not_before", brief.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("smtp_code", sa.Integer(), nullable=True))
        batch_op.create_index("ix_delivery_due", ["status", "not_before"], unique=False)

    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_reason", sa.String(length=32), nullable=True))
    _restore_email_index()

    op.create_table(
        "mail_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", brief.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["delivery.id"],
            name=op.f("fk_mail_event_delivery_id_delivery"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscriber.id"],
            name=op.f("fk_mail_event_subscriber_id_subscriber"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_event")),
    )
    op.create_index(
        "ix_mail_event_subscriber",
        "mail_event",
        ["subscriber_id", "kind", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_mail_event_subscriber", table_name="mail_event")
    op.drop_table("mail_event")
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.drop_column("status_reason")
    _restore_email_index()
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_due")
        batch_op.drop_column("smtp_code")
        batch_op.drop_column("not_before")
        batch_op.drop_column("lease_until")
