"""findings: the list orders (risk DESC, id DESC) read from composite indexes that end in id

``GET /findings`` and ``GET /images/{ref}/findings`` order by risk then id (a stable order, and the key of
their ``cursor`` pagination). With indexes on (risk), (image_id, risk) and (kev, risk) alone PostgreSQL walked
the index and then sorted each run of equal risks (an incremental sort), and a cursor's row comparison
``(risk, id) < (:risk, :id)`` could not be an index bound. Each index is replaced by the same columns plus id
(a superset: every query that used the old one can use the new one). The new index is built before the old
one is dropped.

Revision ID: 1100_list_indexes
Revises: 0400_policy_reports
"""

from __future__ import annotations

from alembic import op

revision = "1100_list_indexes"
down_revision = "0400_policy_reports"
branch_labels = None
depends_on = None

#: (old name, old columns, new name, new columns)
CHANGES = [("ix_findings_risk", ["risk"], "ix_findings_risk_id", ["risk", "id"]),
           ("ix_findings_image_risk", ["image_id", "risk"], "ix_findings_image_risk_id", ["image_id", "risk", "id"]),
           ("ix_findings_kev_risk", ["kev", "risk"], "ix_findings_kev_risk_id", ["kev", "risk", "id"])]


def upgrade() -> None:
    for old, _old_cols, new, cols in CHANGES:
        op.create_index(new, "findings", cols)
        op.drop_index(old, table_name="findings")


def downgrade() -> None:
    for old, old_cols, new, _cols in CHANGES:
        op.create_index(old, "findings", old_cols)
        op.drop_index(new, table_name="findings")
