"""findings: index (kev, risk) so "KEV findings, highest risk first" reads the index, not the table

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_findings_kev_risk", "findings", ["kev", "risk"])


def downgrade() -> None:
    op.drop_index("ix_findings_kev_risk", table_name="findings")
