"""Delivery claims: delivery.claimed_until, so several daemons on one database never send a row twice.

Transitional like 0002: a create_all database that already has the column is left as it is.

Revision ID: 0003_delivery_claim
Revises: 0002_source_health
Create Date: 2025-11-27
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import context, op

revision: str = "0003_delivery_claim"
down_revision: Union[str, Sequence[str], None] = "0002_source_health"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    if not context.is_offline_mode():
        if "claimed_until" in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("delivery")}:
            return
    with op.batch_alter_table("delivery") as batch:
        batch.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("delivery") as batch:
        batch.drop_column("claimed_until")
