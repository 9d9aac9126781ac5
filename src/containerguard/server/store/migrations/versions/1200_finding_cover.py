"""findings.excepted_until: until when an exception covers each finding, so "open" is a column test

The value is the latest expiry among the non-revoked exceptions that cover the finding (9999-12-31 for one
without expiry), kept from then on by services.exceptions.refresh_cover; this migration fills it for the
findings stored before (the same rule, in SQL).

Revision ID: 1200_finding_cover
Revises: 1100_list_indexes
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "1200_finding_cover"
down_revision = "1100_list_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("findings") as t:
        t.add_column(sa.Column("excepted_until", sa.DateTime(timezone=True), nullable=True))
        t.create_index("ix_findings_excepted_until", ["excepted_until"])
    _backfill()


def _backfill() -> None:
    bind = op.get_bind()
    never: object = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)
    if bind.dialect.name == "sqlite":
        never = "9999-12-31 00:00:00.000000"  # how the store's UTCDateTime writes it there
    f = sa.table("findings", sa.column("id"), sa.column("image_id"), sa.column("vuln_id"),
                 sa.column("package_name"), sa.column("excepted_until"))
    e = sa.table("exceptions", sa.column("vuln_id"), sa.column("scope"), sa.column("image_digest"),
                 sa.column("repository"), sa.column("package_name"), sa.column("expires_at"), sa.column("revoked_at"))
    i = sa.table("images", sa.column("id"), sa.column("digest"))
    n = sa.table("image_names", sa.column("image_id"), sa.column("repository"))
    covered = sa.or_(
        e.c.scope == "global",
        sa.and_(e.c.scope == "image", e.c.image_digest == i.c.digest),
        sa.and_(e.c.scope == "finding", e.c.image_digest == i.c.digest, e.c.package_name == f.c.package_name),
        sa.and_(e.c.scope == "repository",
                sa.exists().where(n.c.image_id == i.c.id, n.c.repository == e.c.repository).correlate_except(n)),
    )
    until = (sa.select(sa.func.max(sa.func.coalesce(e.c.expires_at, sa.literal(never))))
             .where(i.c.id == f.c.image_id, e.c.vuln_id == f.c.vuln_id, e.c.revoked_at.is_(None), covered)
             .correlate(f).scalar_subquery())
    op.execute(sa.update(f).where(f.c.vuln_id.in_(sa.select(e.c.vuln_id).distinct())).values(excepted_until=until))


def downgrade() -> None:
    with op.batch_alter_table("findings") as t:
        t.drop_index("ix_findings_excepted_until")
        t.drop_column("excepted_until")
