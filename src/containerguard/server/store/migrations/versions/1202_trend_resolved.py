"""severity_resolved: findings resolved per (first-seen day, resolved day, severity), so the 30-day trend's
backfill counts what was open on each day (first seen <= day < resolved), not only what is still stored.
Findings resolved before this revision left no trace; they cannot be counted.

Revision ID: 1202_trend_resolved
Revises: 1102_container_namespaces
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1202_trend_resolved"
down_revision = "1102_container_namespaces"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "severity_resolved",
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("resolved_day", sa.Date(), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("first_day", "resolved_day", "severity"),
    )


def downgrade() -> None:
    op.drop_table("severity_resolved")
