"""Executors and their heartbeats (takeover of a dead worker's workflows); stalled-return index.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "executors",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("taken_over_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_executors")),
    )
    op.create_index(op.f("ix_executors_heartbeat_at"), "executors", ["heartbeat_at"])
    op.create_index("ix_returns_status_updated_at", "returns", ["status", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_returns_status_updated_at", table_name="returns")
    op.drop_index(op.f("ix_executors_heartbeat_at"), table_name="executors")
    op.drop_table("executors")
