"""image search by substring through an index: SQLite FTS5 trigram table, PostgreSQL pg_trgm GIN indexes

The images list's search (console ``/images?q=``, API ``GET /images?name=``) matches a substring of an
image's name, of any repository it was seen under and of its OS family. A ``LIKE '%term%'`` has to read every
row; a trigram index finds the rows that hold the term's trigrams instead.

* SQLite: ``image_search``, an FTS5 table with the trigram tokenizer (SQLite >= 3.34), one row per searchable
  text, kept by triggers on ``images`` and ``image_names`` (so bulk inserts and every code path keep it):
  rowid ``-2*id`` the image's name, ``-2*id-1`` its OS family, ``image_names.id`` a repository.
* PostgreSQL: ``pg_trgm`` (a trusted extension: a database owner may create it) and GIN ``gin_trgm_ops``
  indexes on ``images.name``, ``images.os_family`` and ``image_names.repository``, which ``ILIKE '%term%'``
  uses. Without the extension (not installed, no privilege) the search still works, by reading every row.
* Both: an index on ``image_names.tag`` (the search matches a tag exactly).

Revision ID: 1203_image_search
Revises: 1202_trend_resolved
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "1203_image_search"
down_revision = "1202_trend_resolved"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

SQLITE = [
    "CREATE VIRTUAL TABLE image_search USING fts5(image_id UNINDEXED, text, tokenize='trigram')",
    "INSERT INTO image_search(rowid, image_id, text) SELECT -2 * id, id, name FROM images",
    "INSERT INTO image_search(rowid, image_id, text) SELECT -2 * id - 1, id, os_family FROM images",
    "INSERT INTO image_search(rowid, image_id, text) SELECT id, image_id, repository FROM image_names",
    """CREATE TRIGGER image_search_images_ins AFTER INSERT ON images BEGIN
         INSERT INTO image_search(rowid, image_id, text) VALUES (-2 * new.id, new.id, new.name),
                                                               (-2 * new.id - 1, new.id, new.os_family);
       END""",
    """CREATE TRIGGER image_search_images_upd AFTER UPDATE OF name, os_family ON images BEGIN
         DELETE FROM image_search WHERE rowid IN (-2 * old.id, -2 * old.id - 1);
         INSERT INTO image_search(rowid, image_id, text) VALUES (-2 * new.id, new.id, new.name),
                                                               (-2 * new.id - 1, new.id, new.os_family);
       END""",
    """CREATE TRIGGER image_search_images_del AFTER DELETE ON images BEGIN
         DELETE FROM image_search WHERE rowid IN (-2 * old.id, -2 * old.id - 1);
       END""",
    """CREATE TRIGGER image_search_names_ins AFTER INSERT ON image_names BEGIN
         INSERT INTO image_search(rowid, image_id, text) VALUES (new.id, new.image_id, new.repository);
       END""",
    """CREATE TRIGGER image_search_names_upd AFTER UPDATE OF repository, image_id ON image_names BEGIN
         DELETE FROM image_search WHERE rowid = old.id;
         INSERT INTO image_search(rowid, image_id, text) VALUES (new.id, new.image_id, new.repository);
       END""",
    """CREATE TRIGGER image_search_names_del AFTER DELETE ON image_names BEGIN
         DELETE FROM image_search WHERE rowid = old.id;
       END""",
]

PG_TRGM = [
    "CREATE INDEX IF NOT EXISTS ix_images_name_trgm ON images USING gin (name gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ix_images_os_family_trgm ON images USING gin (os_family gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ix_image_names_repository_trgm ON image_names USING gin (repository gin_trgm_ops)",
]


def upgrade() -> None:
    op.create_index("ix_image_names_tag", "image_names", ["tag"])
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        try:
            with bind.begin_nested():
                bind.execute(sa.text("CREATE VIRTUAL TABLE temp.cg_trigram_probe USING fts5(x, tokenize='trigram')"))
                bind.execute(sa.text("DROP TABLE temp.cg_trigram_probe"))
        except sa.exc.DBAPIError as exc:  # SQLite before 3.34 or built without FTS5
            log.warning("SQLite has no FTS5 trigram tokenizer (%s): image search reads every row",
                        str(exc).splitlines()[0])
            return
        for stmt in SQLITE:
            op.execute(stmt)
        return
    if bind.dialect.name == "postgresql":
        try:
            with bind.begin_nested():  # a savepoint: a refused extension must not abort the migration
                bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        except sa.exc.DBAPIError as exc:
            log.warning("pg_trgm is not available (%s): image search reads every row", str(exc).splitlines()[0])
            return
        for stmt in PG_TRGM:
            op.execute(stmt)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("images_ins", "images_upd", "images_del", "names_ins", "names_upd", "names_del"):
            op.execute(f"DROP TRIGGER IF EXISTS image_search_{name}")
        op.execute("DROP TABLE IF EXISTS image_search")
    elif bind.dialect.name == "postgresql":
        for name in ("ix_images_name_trgm", "ix_images_os_family_trgm", "ix_image_names_repository_trgm"):
            op.execute(f"DROP INDEX IF EXISTS {name}")
    op.drop_index("ix_image_names_tag", "image_names")
