"""feed scheduling and article details

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 12:12:31.507336
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import brief.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("updated_at", brief.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("categories", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("image_alt", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("full_text", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("content_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("title_key", sa.String(length=300), nullable=True))
        batch_op.create_index("ix_article_feed_title_key", ["feed_id", "title_key"], unique=False)

    with op.batch_alter_table("feed", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("next_poll_at", brief.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("poll_interval_minutes", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("last_new_article_at", brief.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("hints", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("disabled_at", brief.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("disabled_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("weight", sa.Float(), nullable=False, server_default="1.0"))


def downgrade() -> None:
    with op.batch_alter_table("feed", schema=None) as batch_op:
        batch_op.drop_column("weight")
        batch_op.drop_column("disabled_reason")
        batch_op.drop_column("disabled_at")
        batch_op.drop_column("hints")
        batch_op.drop_column("last_new_article_at")
        batch_op.drop_column("poll_interval_minutes")
        batch_op.drop_column("next_poll_at")

    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.drop_index("ix_article_feed_title_key")
        batch_op.drop_column("title_key")
        batch_op.drop_column("content_hash")
        batch_op.drop_column("full_text")
        batch_op.drop_column("image_alt")
        batch_op.drop_column("categories")
        batch_op.drop_column("updated_at")
