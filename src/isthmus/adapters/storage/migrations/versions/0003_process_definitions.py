"""process definitions: deployed BPMN models, versioned per process id, drafts included

Revision ID: 0003
Revises: 0006
Create Date: 2026-11-29 17:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('process_definitions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=500), nullable=False),
    sa.Column('deployment_id', sa.String(length=36), nullable=False),
    sa.Column('deployed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deployed_by', sa.String(length=200), nullable=False),
    sa.Column('draft', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_process_definitions')),
    sa.UniqueConstraint('key', 'version', name='uq_process_definitions_key_version')
    )
    with op.batch_alter_table('process_definitions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_process_definitions_deployment_id'), ['deployment_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('process_definitions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_definitions_deployment_id'))
    op.drop_table('process_definitions')
