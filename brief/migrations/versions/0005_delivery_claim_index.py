"""the claim's index: the pending deliveries, in id order

A claim takes the oldest due pending rows (``WHERE status = 'pending' ... ORDER BY id
LIMIT n``). With an index on ``status`` alone PostgreSQL read every pending row (or
every row already sent, walking the primary key) for each claim of 200: 40-200 ms a
claim in the middle of a 40,000-reader edition, so the cost of an edition's claims grew
with the square of its readers. A partial index on ``id`` of the pending rows hands the
claim its 200 in order (2 ms), and is small: rows leave it as they are claimed. The old
index was redundant besides (``ix_delivery_due`` leads with ``status`` too).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 14:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_status")
        batch_op.create_index(
            "ix_delivery_pending",
            ["id"],
            unique=False,
            postgresql_where=PENDING,
            sqlite_where=PENDING,
        )


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_pending")
        batch_op.create_index("ix_delivery_status", ["status"], unique=False)
