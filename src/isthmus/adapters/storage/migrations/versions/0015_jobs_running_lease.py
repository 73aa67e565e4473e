"""jobs: running jobs by lease end (partial index), for the claim of expired leases

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 04:50:00.000000

A claim also takes running jobs whose lease ran out (``state = 'running' AND locked_until < now``).
Through ``(state, run_at)`` that read every running entry of the index — and every job finished
since the last vacuum left one (its running version), so on PostgreSQL the read grew with the
traffic: measured after 10,000 webhook deliveries, 4,009 entries and 211 heap pages per claim,
the largest share of the server's CPU per message. Indexed by ``locked_until`` and restricted to
running rows held by a worker, a claim reads only the expired leases: the entries finished jobs leave behind hold
the lease end of their last claim, still in the future while they wait for vacuum. Built with
plain ``CREATE INDEX``: on a large PostgreSQL queue, create it ``CONCURRENTLY`` by hand first (same
name, ``IF NOT EXISTS`` here makes the upgrade skip it).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# ``locked_by IS NOT NULL`` is always true of a running job; in the predicate it keeps the index to
# the claim's read of expired leases, which states it: the serial-key checks (``state = 'running'
# AND serial_key = …``) would take it too and walk every running entry per candidate (measured:
# 0.06 ms × 2,000 candidates) where ix_jobs_serial_key_state finds their key at once.
RUNNING = "state = 'running' AND locked_by IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_jobs_running_lease",
        "jobs",
        ["locked_until"],
        sqlite_where=sa.text(RUNNING),
        postgresql_where=sa.text(RUNNING),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_running_lease", table_name="jobs")
