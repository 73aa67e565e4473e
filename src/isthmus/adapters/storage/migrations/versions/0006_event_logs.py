"""event logs: the registry of imported logs (events in Parquet files under <data dir>/logs)

Revision ID: 0006
Revises: 0002
Create Date: 2026-11-29 17:45:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('event_logs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('file', sa.String(length=200), nullable=False),
    sa.Column('source_format', sa.String(length=20), nullable=False),
    sa.Column('events', sa.BigInteger(), nullable=False),
    sa.Column('cases', sa.Integer(), nullable=False),
    sa.Column('activities', sa.Integer(), nullable=False),
    sa.Column('variants', sa.Integer(), nullable=False),
    sa.Column('first_event', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_event', sa.DateTime(timezone=True), nullable=True),
    sa.Column('columns', sa.JSON(), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('imported_by', sa.String(length=200), nullable=False),
    sa.Column('process_id', sa.String(length=50), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_logs'))
    )


def downgrade() -> None:
    op.drop_table('event_logs')
