"""baselines: the behavioural baselines agents report (workload, mode, entry counts, last change)

Revision ID: 1400_baselines
Revises: 1200_finding_cover
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1400_baselines"
down_revision = "1200_finding_cover"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "baselines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("workload", sa.String(length=512), nullable=False),
        sa.Column("image", sa.String(length=512), nullable=False),
        sa.Column("image_digest", sa.String(length=80), nullable=False),
        sa.Column("name_pattern", sa.String(length=512), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("entries", sa.JSON(), nullable=False),
        sa.Column("deviations", sa.Integer(), nullable=False),
        sa.Column("last_change", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["host_id"], ["hosts.id"], name=op.f("fk_baselines_host_id_hosts"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_baselines")),
        sa.UniqueConstraint("host_id", "workload", name=op.f("uq_baselines_host_id")),
    )
    with op.batch_alter_table("baselines") as t:
        t.create_index(t.f("ix_baselines_image_digest"), ["image_digest"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("baselines") as t:
        t.drop_index(t.f("ix_baselines_image_digest"))
    op.drop_table("baselines")
