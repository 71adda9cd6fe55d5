"""feeds in flight, worker losses and quarantine

A batch task marks its feeds in flight (``fetch_started_at``) before fetching them and
each feed's mark is cleared when its outcome is recorded. A mark still there when the
feed is next picked up means the process fetching or parsing it died or was killed
(out of memory, the task's hard time limit): ``lost_count`` counts those in a row. A
feed lost once is retried in a task of its own; lost twice, it is quarantined
(``quarantined_at``, ``quarantine_reason``) and polled again later, with back-off, alone.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 15:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import brief.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feed", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("fetch_started_at", brief.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("lost_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("quarantined_at", brief.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("quarantine_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feed", schema=None) as batch_op:
        batch_op.drop_column("quarantine_reason")
        batch_op.drop_column("quarantined_at")
        batch_op.drop_column("lost_count")
        batch_op.drop_column("fetch_started_at")
