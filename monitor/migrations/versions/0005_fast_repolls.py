"""Cheap re-polls and large stores: a hash of each feed's last body, and an index on delivery.story_id.

source_state.content_hash lets a feed that sends the same bytes again (no ETag or
Last-Modified support) be skipped without parsing; delivery.story_id is looked up
for every match and every grown story, and the unique key (watch, story_id, ...)
does not serve a lookup by story alone.

Revision ID: 0005_fast_repolls
Revises: 0004_delivery_claimed_by
Create Date: 2026-11-28
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import context, op

revision: str = "0005_fast_repolls"
down_revision: Union[str, Sequence[str], None] = "0004_delivery_claimed_by"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    columns: set[str] = set()
    indexes: set[str] = set()
    if not context.is_offline_mode():
        inspector = sa.inspect(op.get_bind())
        columns = {c["name"] for c in inspector.get_columns("source_state")}
        indexes = {i["name"] for i in inspector.get_indexes("delivery")}
    if "content_hash" not in columns:
        with op.batch_alter_table("source_state") as batch:
            batch.add_column(sa.Column("content_hash", sa.Text(), nullable=False, server_default=""))
    if "ix_delivery_story_id" not in indexes:
        op.create_index("ix_delivery_story_id", "delivery", ["story_id"])


def downgrade() -> None:
    op.drop_index("ix_delivery_story_id", "delivery")
    with op.batch_alter_table("source_state") as batch:
        batch.drop_column("content_hash")
