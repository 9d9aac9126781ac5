"""notifications: encrypted target URL, alert priority and running-image rules, delivery timestamps

Revision ID: 0300_notify
Revises: 0200_policy_violations
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0300_notify"
down_revision = "0200_policy_violations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notification_targets") as t:
        t.add_column(sa.Column("url_enc", sa.Text(), nullable=False, server_default=""))
        t.add_column(sa.Column("min_priority", sa.Integer(), nullable=False, server_default="0"))
        t.add_column(sa.Column("running_only", sa.Boolean(), nullable=False, server_default=sa.false()))
        t.add_column(sa.Column("created_by", sa.String(length=255), nullable=False, server_default=""))
    with op.batch_alter_table("deliveries") as t:
        t.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                               server_default=sa.func.current_timestamp()))
        t.add_column(sa.Column("last_attempt", sa.DateTime(timezone=True), nullable=True))
        t.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as t:
        t.drop_column("sent_at")
        t.drop_column("last_attempt")
        t.drop_column("created_at")
    with op.batch_alter_table("notification_targets") as t:
        t.drop_column("created_by")
        t.drop_column("running_only")
        t.drop_column("min_priority")
        t.drop_column("url_enc")
