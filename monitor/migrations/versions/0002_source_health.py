"""Source health and adaptive polling: six columns on source_state.

error_class, failing_since, last_new_item, publish_gap, next_due, incident (monitor/store.py SourceState).
NOT NULL columns get a server default so existing rows are filled (SQLite requires one for ADD COLUMN).

Transitional: a database made by `create_all` with a build that already had these columns is
stamped 0001_baseline like any other pre-Alembic database, so columns already present are skipped.

Revision ID: 0002_source_health
Revises: 0001_baseline
Create Date: 2025-11-27
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import context, op

revision: str = "0002_source_health"
down_revision: Union[str, Sequence[str], None] = "0001_baseline"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _columns() -> list[sa.Column]:
    return [
        sa.Column("error_class", sa.String(), nullable=False, server_default=""),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_new_item", sa.DateTime(timezone=True), nullable=True),
        sa.Column("publish_gap", sa.Float(), nullable=False, server_default=sa.text("0")),
        sa.Column("next_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("incident", sa.String(), nullable=False, server_default=""),
    ]


def upgrade() -> None:
    present: set[str] = set()
    if not context.is_offline_mode():
        present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("source_state")}
    with op.batch_alter_table("source_state") as batch:
        for column in _columns():
            if column.name not in present:
                batch.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("source_state") as batch:
        for column in reversed(_columns()):
            batch.drop_column(column.name)
