"""Delivery claims name their holder (host:pid), so a restarted daemon frees the claims of a dead one.

Revision ID: 0004_delivery_claimed_by
Revises: 0003_delivery_claim
Create Date: 2025-11-27
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import context, op

revision: str = "0004_delivery_claimed_by"
down_revision: Union[str, Sequence[str], None] = "0003_delivery_claim"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    if not context.is_offline_mode():
        # a database made by create_all from this code already has it (see 0002)
        if "claimed_by" in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("delivery")}:
            return
    with op.batch_alter_table("delivery") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("delivery") as batch:
        batch.drop_column("claimed_by")
