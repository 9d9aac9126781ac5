"""initial schema: images, inventories, findings, hosts, containers, alerts, exceptions, audit, tokens, registries, events, notifications, jobs

Revision ID: 0001
Revises: (none)
Create Date: 2026-12-01 14:18:59.665414
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("api_tokens",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(length=255), nullable=False),
    sa.Column("role", sa.String(length=16), nullable=False),
    sa.Column("token_hash", sa.String(length=128), nullable=False),
    sa.Column("prefix", sa.String(length=16), nullable=False),
    sa.Column("host", sa.String(length=255), nullable=False),
    sa.Column("created_by", sa.String(length=255), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_used", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
    sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash"))
    )
    op.create_table("audit_log",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(length=255), nullable=False),
    sa.Column("action", sa.String(length=64), nullable=False),
    sa.Column("object_type", sa.String(length=64), nullable=False),
    sa.Column("object_id", sa.String(length=255), nullable=False),
    sa.Column("remote_addr", sa.String(length=64), nullable=False),
    sa.Column("detail", sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log"))
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)

    op.create_table("events",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("type", sa.String(length=48), nullable=False),
    sa.Column("severity", sa.Integer(), nullable=False),
    sa.Column("summary", sa.Text(), nullable=False),
    sa.Column("image_digest", sa.String(length=80), nullable=False),
    sa.Column("host", sa.String(length=255), nullable=False),
    sa.Column("detail", sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_events"))
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_events_type"), ["type"], unique=False)

    op.create_table("exceptions",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("vuln_id", sa.String(length=128), nullable=False),
    sa.Column("scope", sa.String(length=16), nullable=False),
    sa.Column("image_digest", sa.String(length=80), nullable=False),
    sa.Column("repository", sa.String(length=512), nullable=False),
    sa.Column("package_name", sa.String(length=256), nullable=False),
    sa.Column("kind", sa.String(length=24), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("author", sa.String(length=255), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_exceptions"))
    )
    with op.batch_alter_table("exceptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exceptions_vuln_id"), ["vuln_id"], unique=False)

    op.create_table("hosts",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(length=255), nullable=False),
    sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("agent_version", sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_hosts")),
    sa.UniqueConstraint("name", name=op.f("uq_hosts_name"))
    )
    op.create_table("images",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("digest", sa.String(length=80), nullable=False),
    sa.Column("name", sa.String(length=512), nullable=False),
    sa.Column("os_family", sa.String(length=40), nullable=False),
    sa.Column("os_version", sa.String(length=40), nullable=False),
    sa.Column("architecture", sa.String(length=40), nullable=False),
    sa.Column("source", sa.String(length=16), nullable=False),
    sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("scanned_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("package_count", sa.Integer(), nullable=False),
    sa.Column("critical", sa.Integer(), nullable=False),
    sa.Column("high", sa.Integer(), nullable=False),
    sa.Column("medium", sa.Integer(), nullable=False),
    sa.Column("low", sa.Integer(), nullable=False),
    sa.Column("other", sa.Integer(), nullable=False),
    sa.Column("kev", sa.Integer(), nullable=False),
    sa.Column("max_risk", sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_images")),
    sa.UniqueConstraint("digest", name=op.f("uq_images_digest"))
    )
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.create_index("ix_images_last_seen", ["last_seen"], unique=False)
        batch_op.create_index("ix_images_max_risk", ["max_risk"], unique=False)

    op.create_table("job_runs",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("kind", sa.String(length=32), nullable=False),
    sa.Column("key", sa.String(length=512), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("worker", sa.String(length=128), nullable=False),
    sa.Column("error", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("result", sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs"))
    )
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_runs_status"), ["status"], unique=False)

    op.create_table("notification_targets",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(length=255), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("url", sa.String(length=1024), nullable=False),
    sa.Column("event_types", sa.JSON(), nullable=False),
    sa.Column("min_severity", sa.Integer(), nullable=False),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_targets")),
    sa.UniqueConstraint("name", name=op.f("uq_notification_targets_name"))
    )
    op.create_table("registries",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(length=255), nullable=False),
    sa.Column("url", sa.String(length=512), nullable=False),
    sa.Column("username", sa.String(length=255), nullable=False),
    sa.Column("password_enc", sa.Text(), nullable=False),
    sa.Column("repositories", sa.JSON(), nullable=False),
    sa.Column("interval", sa.Integer(), nullable=False),
    sa.Column("webhook_secret_hash", sa.String(length=128), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_polled", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_registries")),
    sa.UniqueConstraint("name", name=op.f("uq_registries_name"))
    )
    op.create_table("settings",
    sa.Column("key", sa.String(length=64), nullable=False),
    sa.Column("value", sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint("key", name=op.f("pk_settings"))
    )
    op.create_table("agent_batches",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("host_id", sa.Integer(), nullable=False),
    sa.Column("batch_id", sa.String(length=64), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("alerts", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(["host_id"], ["hosts.id"], name=op.f("fk_agent_batches_host_id_hosts"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_batches")),
    sa.UniqueConstraint("host_id", "batch_id", name=op.f("uq_agent_batches_host_id"))
    )
    op.create_table("alerts",
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
    sa.Column("host_id", sa.Integer(), nullable=False),
    sa.Column("uid", sa.String(length=64), nullable=False),
    sa.Column("time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("rule", sa.String(length=255), nullable=False),
    sa.Column("rule_id", sa.String(length=128), nullable=False),
    sa.Column("priority", sa.Integer(), nullable=False),
    sa.Column("source", sa.String(length=32), nullable=False),
    sa.Column("output", sa.Text(), nullable=False),
    sa.Column("container_id", sa.String(length=64), nullable=False),
    sa.Column("container_name", sa.String(length=255), nullable=False),
    sa.Column("image", sa.String(length=512), nullable=False),
    sa.Column("fields", sa.JSON(), nullable=False),
    sa.Column("tags", sa.JSON(), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["host_id"], ["hosts.id"], name=op.f("fk_alerts_host_id_hosts"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    sa.UniqueConstraint("host_id", "uid", name=op.f("uq_alerts_host_id"))
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index("ix_alerts_host_time", ["host_id", "time"], unique=False)
        batch_op.create_index("ix_alerts_time", ["time"], unique=False)

    op.create_table("containers",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("host_id", sa.Integer(), nullable=False),
    sa.Column("container_id", sa.String(length=64), nullable=False),
    sa.Column("name", sa.String(length=255), nullable=False),
    sa.Column("image", sa.String(length=512), nullable=False),
    sa.Column("image_digest", sa.String(length=80), nullable=False),
    sa.Column("privileged", sa.Boolean(), nullable=False),
    sa.Column("capabilities", sa.JSON(), nullable=False),
    sa.Column("mounts", sa.JSON(), nullable=False),
    sa.Column("ports", sa.JSON(), nullable=False),
    sa.Column("network_mode", sa.String(length=64), nullable=False),
    sa.Column("running", sa.Boolean(), nullable=False),
    sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["host_id"], ["hosts.id"], name=op.f("fk_containers_host_id_hosts"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_containers")),
    sa.UniqueConstraint("host_id", "container_id", name=op.f("uq_containers_host_id"))
    )
    with op.batch_alter_table("containers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_containers_image_digest"), ["image_digest"], unique=False)

    op.create_table("deliveries",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("target_id", sa.Integer(), nullable=False),
    sa.Column("event_id", sa.Integer(), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_error", sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_deliveries_event_id_events"), ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["target_id"], ["notification_targets.id"], name=op.f("fk_deliveries_target_id_notification_targets"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
    sa.UniqueConstraint("target_id", "event_id", name=op.f("uq_deliveries_target_id"))
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deliveries_status"), ["status"], unique=False)

    op.create_table("findings",
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
    sa.Column("image_id", sa.Integer(), nullable=False),
    sa.Column("fingerprint", sa.String(length=64), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("vuln_id", sa.String(length=128), nullable=False),
    sa.Column("title", sa.Text(), nullable=False),
    sa.Column("severity", sa.Integer(), nullable=False),
    sa.Column("package_name", sa.String(length=256), nullable=False),
    sa.Column("package_version", sa.String(length=128), nullable=False),
    sa.Column("package_type", sa.String(length=32), nullable=False),
    sa.Column("purl", sa.Text(), nullable=False),
    sa.Column("path", sa.Text(), nullable=False),
    sa.Column("fixed_version", sa.String(length=256), nullable=False),
    sa.Column("status", sa.String(length=32), nullable=False),
    sa.Column("cvss_score", sa.Float(), nullable=True),
    sa.Column("epss", sa.Float(), nullable=True),
    sa.Column("kev", sa.Boolean(), nullable=False),
    sa.Column("risk", sa.Float(), nullable=False),
    sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["image_id"], ["images.id"], name=op.f("fk_findings_image_id_images"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
    sa.UniqueConstraint("image_id", "fingerprint", name=op.f("uq_findings_image_id"))
    )
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.create_index("ix_findings_image_risk", ["image_id", "risk"], unique=False)
        batch_op.create_index("ix_findings_risk", ["risk"], unique=False)
        batch_op.create_index("ix_findings_severity_risk", ["severity", "risk"], unique=False)
        batch_op.create_index("ix_findings_vuln_id", ["vuln_id"], unique=False)

    op.create_table("image_names",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("image_id", sa.Integer(), nullable=False),
    sa.Column("repository", sa.String(length=512), nullable=False),
    sa.Column("tag", sa.String(length=200), nullable=False),
    sa.Column("manifest_digest", sa.String(length=80), nullable=False),
    sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["image_id"], ["images.id"], name=op.f("fk_image_names_image_id_images"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_image_names")),
    sa.UniqueConstraint("image_id", "repository", "tag", "manifest_digest", name=op.f("uq_image_names_image_id"))
    )
    with op.batch_alter_table("image_names", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_image_names_image_id"), ["image_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_image_names_manifest_digest"), ["manifest_digest"], unique=False)
        batch_op.create_index("ix_image_names_repository", ["repository", "tag"], unique=False)

    op.create_table("inventories",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("image_id", sa.Integer(), nullable=False),
    sa.Column("sha256", sa.String(length=64), nullable=False),
    sa.Column("document", sa.LargeBinary(), nullable=False),
    sa.Column("verified", sa.Boolean(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("matched_db", sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(["image_id"], ["images.id"], name=op.f("fk_inventories_image_id_images"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_inventories")),
    sa.UniqueConstraint("image_id", name=op.f("uq_inventories_image_id"))
    )


def downgrade() -> None:
    op.drop_table("inventories")
    with op.batch_alter_table("image_names", schema=None) as batch_op:
        batch_op.drop_index("ix_image_names_repository")
        batch_op.drop_index(batch_op.f("ix_image_names_manifest_digest"))
        batch_op.drop_index(batch_op.f("ix_image_names_image_id"))

    op.drop_table("image_names")
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index("ix_findings_vuln_id")
        batch_op.drop_index("ix_findings_severity_risk")
        batch_op.drop_index("ix_findings_risk")
        batch_op.drop_index("ix_findings_image_risk")

    op.drop_table("findings")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_status"))

    op.drop_table("deliveries")
    with op.batch_alter_table("containers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_containers_image_digest"))

    op.drop_table("containers")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_time")
        batch_op.drop_index("ix_alerts_host_time")

    op.drop_table("alerts")
    op.drop_table("agent_batches")
    op.drop_table("settings")
    op.drop_table("registries")
    op.drop_table("notification_targets")
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_runs_status"))

    op.drop_table("job_runs")
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_index("ix_images_max_risk")
        batch_op.drop_index("ix_images_last_seen")

    op.drop_table("images")
    op.drop_table("hosts")
    with op.batch_alter_table("exceptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exceptions_vuln_id"))

    op.drop_table("exceptions")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_type"))
        batch_op.drop_index(batch_op.f("ix_events_at"))

    op.drop_table("events")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))

    op.drop_table("audit_log")
    op.drop_table("api_tokens")
