"""image_names: the multi-platform index a tag points at, and each platform image's platform

A registry tag can point at an image index (manifest list): one manifest per platform, each an image of its
own with its own config digest and packages. The server scans every platform's manifest; the row of each
names the platform (``linux/arm64/v8``) and the index digest, which is what the tag resolves to.

Revision ID: 1101_image_platforms
Revises: 1400_baselines
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1101_image_platforms"
down_revision = "1400_baselines"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("image_names") as t:
        t.add_column(sa.Column("index_digest", sa.String(80), nullable=False, server_default=""))
        t.add_column(sa.Column("platform", sa.String(64), nullable=False, server_default=""))
    op.create_index("ix_image_names_index_digest", "image_names", ["index_digest"])


def downgrade() -> None:
    op.drop_index("ix_image_names_index_digest", table_name="image_names")
    with op.batch_alter_table("image_names") as t:
        t.drop_column("platform")
        t.drop_column("index_digest")
