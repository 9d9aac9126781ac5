"""policies as code: decisions reported by the admission webhook, the Docker plugin and agents (batches
deduplicated, enforcement points and their counts), and the policy set held by the server (issue 13)

Revision ID: 0400_policy_reports
Revises: 0300_notify
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0400_policy_reports"
down_revision = "0300_notify"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("policy_violations") as t:
        t.add_column(sa.Column("decision_uid", sa.String(length=64), nullable=False, server_default=""))
        t.add_column(sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True))
        t.add_column(sa.Column("instance", sa.String(length=255), nullable=False, server_default=""))
        t.add_column(sa.Column("namespace", sa.String(length=255), nullable=False, server_default=""))
        t.add_column(sa.Column("object_kind", sa.String(length=64), nullable=False, server_default=""))
        t.add_column(sa.Column("object_name", sa.String(length=255), nullable=False, server_default=""))
        t.add_column(sa.Column("container", sa.String(length=255), nullable=False, server_default=""))
        t.add_column(sa.Column("allowed", sa.Boolean(), nullable=False, server_default=sa.true()))
        t.add_column(sa.Column("mode", sa.String(length=16), nullable=False, server_default=""))
        t.add_column(sa.Column("responses", sa.JSON(), nullable=False, server_default="[]"))
        t.add_column(sa.Column("user", sa.String(length=255), nullable=False, server_default=""))
    op.create_index(op.f("ix_policy_violations_decision_uid"), "policy_violations", ["decision_uid"])
    op.create_index(op.f("ix_policy_violations_namespace"), "policy_violations", ["namespace"])
    op.create_table(
        "policy_report_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reporter", sa.String(length=255), nullable=False),
        sa.Column("batch_id", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decisions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_report_batches")),
        sa.UniqueConstraint("reporter", "batch_id", name=op.f("uq_policy_report_batches_reporter")))
    op.create_table(
        "policy_enforcers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("instance", sa.String(length=255), nullable=False),
        sa.Column("reporter", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("policy_set", sa.String(length=64), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("allowed", sa.BigInteger(), nullable=False),
        sa.Column("denied", sa.BigInteger(), nullable=False),
        sa.Column("warned", sa.BigInteger(), nullable=False),
        sa.Column("dropped", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_enforcers")),
        sa.UniqueConstraint("source", "instance", "reporter", name=op.f("uq_policy_enforcers_source")))
    op.create_table(
        "policy_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("pushed_by", sa.String(length=255), nullable=False),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_files")),
        sa.UniqueConstraint("name", name=op.f("uq_policy_files_name")))


def downgrade() -> None:
    op.drop_table("policy_files")
    op.drop_table("policy_enforcers")
    op.drop_table("policy_report_batches")
    op.drop_index(op.f("ix_policy_violations_namespace"), table_name="policy_violations")
    op.drop_index(op.f("ix_policy_violations_decision_uid"), table_name="policy_violations")
    with op.batch_alter_table("policy_violations") as t:
        for c in ("user", "responses", "mode", "allowed", "container", "object_name", "object_kind", "namespace",
                  "instance", "decided_at", "decision_uid"):
            t.drop_column(c)
