"""Refunds by order: the refund step looks for other refunds of the same order in flight.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_refunds_connection_order", "refunds", ["connection_id", "order_id"])


def downgrade() -> None:
    op.drop_index("ix_refunds_connection_order", table_name="refunds")
