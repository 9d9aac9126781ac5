"""procrastinate's job-queue schema (PostgreSQL only; with SQLite jobs run in the server process)

Revision ID: 0002
Revises: 0100_console
Create Date: 2026-12-01

procrastinate ships its schema as one SQL file for its version (``SchemaManager.get_schema()``); applying it
here puts it under the same advisory-locked upgrade as our tables, so servers and workers starting together
create it once. A procrastinate upgrade that changes its schema gets a migration of ours that applies its
migration files.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0100_console"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    from procrastinate.schema import SchemaManager

    raw = bind.connection.dbapi_connection
    assert raw is not None
    exists = raw.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
    if exists is None or exists[0] is None:
        raw.execute(SchemaManager.get_schema())


def downgrade() -> None:
    pass
