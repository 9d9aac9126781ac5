"""The SQLite layout of the vulnerability database (one file, rebuilt atomically by ``db update``).

Every data table carries ``source`` so that a source left unchanged upstream is carried over from the
previous database by one ``INSERT ... SELECT`` instead of being parsed again. Indexes are created after
the bulk insert. Range events are stored pre-normalised as compact JSON:
``[[type, [[kind, version], ...]], ...]`` with kind ``i`` introduced, ``f`` fixed, ``l`` last_affected,
``x`` limit and type ``E`` (ECOSYSTEM) or ``S`` (SEMVER).
"""

from __future__ import annotations

SCHEMA_VERSION = 1

TABLES: dict[str, str] = {
    "advisories": """CREATE TABLE advisories (
        source TEXT NOT NULL, id TEXT NOT NULL, aliases TEXT NOT NULL, related TEXT NOT NULL,
        summary TEXT NOT NULL, cvss_vector TEXT NOT NULL, cvss_score REAL, ghsa_severity TEXT NOT NULL,
        published TEXT NOT NULL, modified TEXT NOT NULL, withdrawn TEXT NOT NULL, refs TEXT NOT NULL,
        cwes TEXT NOT NULL)""",
    "affected": """CREATE TABLE affected (
        source TEXT NOT NULL, ecosystem TEXT NOT NULL, name TEXT NOT NULL, advisory TEXT NOT NULL,
        ranges TEXT NOT NULL, versions TEXT, vendor_severity TEXT NOT NULL)""",
    "aliases": "CREATE TABLE aliases (source TEXT NOT NULL, alias TEXT NOT NULL, id TEXT NOT NULL)",
    "kev": """CREATE TABLE kev (source TEXT NOT NULL, cve TEXT NOT NULL, date_added TEXT NOT NULL,
        ransomware INTEGER NOT NULL, name TEXT NOT NULL, due_date TEXT NOT NULL)""",
    "epss": "CREATE TABLE epss (source TEXT NOT NULL, cve TEXT NOT NULL, score REAL NOT NULL, percentile REAL NOT NULL)",
    "meta": """CREATE TABLE meta (source TEXT PRIMARY KEY, url TEXT NOT NULL, etag TEXT NOT NULL,
        last_modified TEXT NOT NULL, sha256 TEXT NOT NULL, records INTEGER NOT NULL, skipped INTEGER NOT NULL,
        skipped_detail TEXT NOT NULL, fetched_at TEXT NOT NULL, status TEXT NOT NULL, error TEXT NOT NULL)""",
    "info": "CREATE TABLE info (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
}

#: the data tables a source's rows live in (carried over together)
DATA_TABLES = ("advisories", "affected", "aliases", "kev", "epss")

INDEXES = (
    "CREATE INDEX affected_key ON affected(ecosystem, name)",
    "CREATE INDEX advisories_id ON advisories(id)",
    "CREATE INDEX aliases_alias ON aliases(alias)",
    "CREATE INDEX kev_cve ON kev(cve)",
    "CREATE INDEX epss_cve ON epss(cve)",
)
