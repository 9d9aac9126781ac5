"""containers: PID and IPC namespace modes and a read-only root filesystem, as the agent reports them

A container that shares the host's PID namespace sees (and, with the right capability, signals or traces)
every process of the host; one that shares its IPC namespace reaches the host's shared memory; a read-only
root filesystem keeps an intruder from dropping tools into the image's files. The risk view's exposure
factor reads all three (docs/server.md, "Risk view").

Revision ID: 1102_container_namespaces
Revises: 1101_image_platforms
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1102_container_namespaces"
down_revision = "1101_image_platforms"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("containers") as t:
        t.add_column(sa.Column("pid_mode", sa.String(80), nullable=False, server_default=""))
        t.add_column(sa.Column("ipc_mode", sa.String(80), nullable=False, server_default=""))
        t.add_column(sa.Column("read_only", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("containers") as t:
        t.drop_column("read_only")
        t.drop_column("ipc_mode")
        t.drop_column("pid_mode")
