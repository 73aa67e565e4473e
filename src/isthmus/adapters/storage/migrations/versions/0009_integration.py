"""integration: deployed flows and the outbox of their messages

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "integration_flows",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("flow_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("deployed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deployed_by", sa.String(length=200), nullable=False),
        sa.Column("test_status", sa.String(length=16), nullable=False),
        sa.Column("tested_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integration_flows")),
        sa.UniqueConstraint("flow_id", "version", name="uq_integration_flows_flow_id_version"),
    )
    op.create_table(
        "flow_messages",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("flow_id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("display", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("row_number", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_messages")),
        sa.UniqueConstraint("flow_id", "idempotency_key", name="uq_flow_messages_flow_id_key"),
    )
    op.create_index("ix_flow_messages_flow_id_state", "flow_messages", ["flow_id", "state"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_flow_messages_flow_id_state", table_name="flow_messages")
    op.drop_table("flow_messages")
    op.drop_table("integration_flows")
