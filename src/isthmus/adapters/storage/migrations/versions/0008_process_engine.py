"""process engine: instances, user tasks (inbox), engine history (event log)

Revision ID: 0008
Revises: 0003
Create Date: 2026-11-29 17:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('process_instances',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('business_key', sa.String(length=200), nullable=True),
    sa.Column('definition_key', sa.String(length=200), nullable=False),
    sa.Column('definition_version', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('schema_version', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.String(length=36), nullable=True),
    sa.Column('parent_token', sa.Integer(), nullable=True),
    sa.Column('started_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_process_instances'))
    )
    op.create_index('ix_process_instances_key_state', 'process_instances', ['definition_key', 'state'], unique=False)
    op.create_index(op.f('ix_process_instances_business_key'), 'process_instances', ['business_key'], unique=False)
    op.create_index(op.f('ix_process_instances_parent_id'), 'process_instances', ['parent_id'], unique=False)
    op.create_table('user_tasks',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('instance_id', sa.String(length=36), nullable=False),
    sa.Column('token', sa.Integer(), nullable=False),
    sa.Column('activation', sa.Integer(), nullable=False),
    sa.Column('activity_id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('process_key', sa.String(length=200), nullable=False),
    sa.Column('business_key', sa.String(length=200), nullable=True),
    sa.Column('candidate_groups', sa.JSON(), nullable=False),
    sa.Column('candidate_users', sa.JSON(), nullable=False),
    sa.Column('assignee', sa.String(length=200), nullable=True),
    sa.Column('due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('form', sa.JSON(), nullable=False),
    sa.Column('four_eyes', sa.Boolean(), nullable=False),
    sa.Column('initiator', sa.String(length=200), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('comments', sa.JSON(), nullable=False),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_by', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_tasks'))
    )
    op.create_index('ix_user_tasks_instance_token', 'user_tasks', ['instance_id', 'token'], unique=False)
    op.create_index('ix_user_tasks_state_assignee', 'user_tasks', ['state', 'assignee'], unique=False)
    op.create_table('engine_history',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('case_id', sa.String(length=200), nullable=False),
    sa.Column('activity', sa.String(length=500), nullable=False),
    sa.Column('timestamp', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lifecycle', sa.String(length=16), nullable=False),
    sa.Column('resource', sa.String(length=200), nullable=False),
    sa.Column('system', sa.String(length=50), nullable=False),
    sa.Column('instance_id', sa.String(length=36), nullable=False),
    sa.Column('node_id', sa.String(length=200), nullable=False),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_engine_history'))
    )
    op.create_index(op.f('ix_engine_history_instance_id'), 'engine_history', ['instance_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_engine_history_instance_id'), table_name='engine_history')
    op.drop_table('engine_history')
    op.drop_index('ix_user_tasks_state_assignee', table_name='user_tasks')
    op.drop_index('ix_user_tasks_instance_token', table_name='user_tasks')
    op.drop_table('user_tasks')
    op.drop_index(op.f('ix_process_instances_parent_id'), table_name='process_instances')
    op.drop_index(op.f('ix_process_instances_business_key'), table_name='process_instances')
    op.drop_index('ix_process_instances_key_state', table_name='process_instances')
    op.drop_table('process_instances')
