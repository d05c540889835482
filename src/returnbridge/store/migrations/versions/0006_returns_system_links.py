"""Returns-system links: a return's counterpart in Loop Returns.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "returns_system_links",
        sa.Column("return_id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("connection_id", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=True),
        sa.Column("settled", sa.Boolean(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_returns_system_links_connection_id_connections"),
        ),
        sa.ForeignKeyConstraint(
            ["return_id"], ["returns.id"], name=op.f("fk_returns_system_links_return_id_returns")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_returns_system_links_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("return_id", name=op.f("pk_returns_system_links")),
        sa.UniqueConstraint(
            "connection_id",
            "external_id",
            name=op.f("uq_returns_system_links_connection_id_external_id"),
        ),
    )
    with op.batch_alter_table("returns_system_links", schema=None) as batch_op:
        batch_op.create_index(
            "ix_returns_system_links_connection_id_settled",
            ["connection_id", "settled"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("returns_system_links", schema=None) as batch_op:
        batch_op.drop_index("ix_returns_system_links_connection_id_settled")

    op.drop_table("returns_system_links")
