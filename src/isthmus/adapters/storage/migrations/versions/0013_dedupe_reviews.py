"""quality: review decisions on duplicate clusters (dedupe_reviews)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 19:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dedupe_reviews",
        sa.Column("dataset", sa.String(length=200), nullable=False),
        sa.Column("first_record", sa.String(length=64), nullable=False),
        sa.Column("second_record", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("dataset", "first_record", "second_record", name=op.f("pk_dedupe_reviews")),
    )


def downgrade() -> None:
    op.drop_table("dedupe_reviews")
