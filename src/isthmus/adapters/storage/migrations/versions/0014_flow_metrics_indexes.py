"""integration: flow metrics indexes on flow_messages (counts, windows, chunk messages)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 22:10:00.000000

``(flow_id, state)`` becomes ``(flow_id, state, delivered_at, created_at)`` (same prefix, so the
delivery path's lookups keep their index); ``(flow_id, created_at, delivered_at, state)`` serves time
windows from the index alone; a partial index holds the few chunk messages. Built with plain
``CREATE INDEX``: on a large PostgreSQL outbox, create them ``CONCURRENTLY`` by hand first (same
names, ``IF NOT EXISTS`` here makes the upgrade skip them).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK_KEYS = "idempotency_key LIKE 'chunk:%'"


def upgrade() -> None:
    op.create_index(
        "ix_flow_messages_flow_state_delivered",
        "flow_messages",
        ["flow_id", "state", "delivered_at", "created_at"],
        if_not_exists=True,
    )
    op.drop_index("ix_flow_messages_flow_id_state", table_name="flow_messages")
    op.create_index(
        "ix_flow_messages_flow_created",
        "flow_messages",
        ["flow_id", "created_at", "delivered_at", "state"],
        if_not_exists=True,
    )
    op.create_index(
        "ix_flow_messages_chunks",
        "flow_messages",
        ["flow_id", "created_at", "idempotency_key", "state", "delivered_at"],
        sqlite_where=sa.text(CHUNK_KEYS),
        postgresql_where=sa.text(CHUNK_KEYS),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_index("ix_flow_messages_chunks", table_name="flow_messages")
    op.drop_index("ix_flow_messages_flow_created", table_name="flow_messages")
    op.create_index("ix_flow_messages_flow_id_state", "flow_messages", ["flow_id", "state"])
    op.drop_index("ix_flow_messages_flow_state_delivered", table_name="flow_messages")
