"""engine messages: message subscriptions, published message ids, escalation notifications

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 19:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "message_subscriptions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("message_name", sa.String(length=200), nullable=False),
        sa.Column("correlation_key", sa.String(length=500), nullable=True),
        sa.Column("instance_id", sa.String(length=36), nullable=True),
        sa.Column("token", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.String(length=200), nullable=False),
        sa.Column("activation", sa.Integer(), nullable=False),
        sa.Column("process_key", sa.String(length=200), nullable=False),
        sa.Column("process_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_subscriptions")),
    )
    op.create_index(
        "ix_message_subscriptions_name_key", "message_subscriptions", ["message_name", "correlation_key"]
    )
    op.create_index(op.f("ix_message_subscriptions_instance_id"), "message_subscriptions", ["instance_id"])
    op.create_index(op.f("ix_message_subscriptions_process_key"), "message_subscriptions", ["process_key"])
    op.create_table(
        "published_messages",
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("message_name", sa.String(length=200), nullable=False),
        sa.Column("correlation_key", sa.String(length=500), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_published_messages")),
    )
    op.create_table(
        "engine_notifications",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("task_id", sa.BigInteger(), nullable=True),
        sa.Column("node_id", sa.String(length=200), nullable=False),
        sa.Column("recipient_kind", sa.String(length=10), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("text", sa.String(length=1000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engine_notifications")),
    )
    op.create_index(
        "ix_engine_notifications_recipient", "engine_notifications", ["recipient_kind", "recipient"]
    )
    op.create_index(op.f("ix_engine_notifications_instance_id"), "engine_notifications", ["instance_id"])


def downgrade() -> None:
    op.drop_table("engine_notifications")
    op.drop_table("published_messages")
    op.drop_table("message_subscriptions")
