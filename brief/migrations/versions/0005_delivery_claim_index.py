"""the claim's index: pending deliveries in id order

A claim takes the oldest due pending rows (``WHERE status = 'pending' ... ORDER BY id
LIMIT n``). With an index on ``status`` alone PostgreSQL read and sorted every pending
row for each claim (90 ms for a batch of 200 among 50,000 pending), so an edition's
claims cost grew with the square of its readers; on ``(status, id)`` the claim reads its
200 rows in order (4 ms). The old index was redundant besides (``ix_delivery_due``
leads with ``status`` too).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 14:35:00
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_status")
        batch_op.create_index("ix_delivery_status_id", ["status", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_status_id")
        batch_op.create_index("ix_delivery_status", ["status"], unique=False)
