"""policies as code: violations reported by enforcement points (issue 13)

Revision ID: 0200_policy_violations
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0200_policy_violations"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("policy_violations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("reporter", sa.String(length=255), nullable=False),
        sa.Column("image_name", sa.String(length=512), nullable=False),
        sa.Column("image_digest", sa.String(length=80), nullable=False),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("policy_name", sa.String(length=255), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("subject", sa.String(length=1024), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("remediation", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_violations")))
    op.create_index(op.f("ix_policy_violations_recorded_at"), "policy_violations", ["recorded_at"])
    op.create_index(op.f("ix_policy_violations_image_digest"), "policy_violations", ["image_digest"])
    op.create_index("ix_policy_violations_policy_recorded", "policy_violations", ["policy_id", "recorded_at"])


def downgrade() -> None:
    op.drop_table("policy_violations")
