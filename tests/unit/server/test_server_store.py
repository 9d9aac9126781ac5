"""The store's pure logic: migrations match the models, roles, token hashing, upload parsing."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from containerguard.server import auth
from containerguard.server.services import Invalid
from containerguard.server.services.images import _split_name, parse_upload
from containerguard.server.store import make_engine, migrate, migration_state
from containerguard.server.store.models import Base


def test_migrations_create_exactly_the_models(tmp_path):
    engine = make_engine(str(tmp_path / "m.sqlite"))
    migrate(engine)
    migrate(engine)  # idempotent
    with engine.connect() as conn:
        # the image search's FTS5 table (and its shadow tables) is kept by triggers, outside the models
        outside = {"image_search", "image_search_data", "image_search_idx", "image_search_content",
                   "image_search_docsize", "image_search_config"}
        ctx = MigrationContext.configure(conn, opts={"include_name": lambda name, kind, _parent: not (
            kind == "table" and name in outside)})
        tables = set(sa.inspect(conn).get_table_names())
        diff = compare_metadata(ctx, Base.metadata)
    assert "image_search" in tables
    assert diff == []
    current, head = migration_state(engine)
    assert current == head is not None


def test_roles_are_nested_as_documented():
    assert auth.ROLES["viewer"] < auth.ROLES["analyst"] < auth.ROLES["admin"]
    assert not auth.ROLES["agent"] & {"images:read", "scans:write", "tokens:admin"}
    assert auth.ROLES["ci"] == {"scans:write", "exceptions:read", "policies:read"}
    # the admission webhook and the Docker plugin: report decisions, read the policy set, nothing else
    assert auth.ROLES["enforcer"] == {"policy:report", "policies:read"}
    assert auth.allowed("agent", "policy:report") and not auth.allowed("ci", "policy:report")
    assert [r for r in auth.ROLE_NAMES if auth.allowed(r, "policies:write")] == ["admin"]
    assert not auth.allowed("nobody", "images:read")


def test_token_hash_is_stable_and_secret_compare():
    t = auth.new_token()
    assert t.startswith("cg_") and len(t) == 46
    assert auth.hash_token(t) == auth.hash_token(t) != auth.hash_token(t + "x")
    assert auth.secret_matches("s3", auth.hash_secret("s3")) and not auth.secret_matches("s3", "")


@pytest.mark.parametrize("ref, expected", [
    ("registry:5000/team/app:1.2", ("registry:5000/team/app", "1.2", "")),
    ("registry:5000/team/app", ("registry:5000/team/app", "", "")),
    ("app@sha256:" + "a" * 64, ("app", "", "sha256:" + "a" * 64)),
    ("app@sha256:zz", ("app", "", "")),
])
def test_split_name(ref, expected):
    assert _split_name(ref) == expected


def test_parse_upload_requires_a_well_formed_digest():
    doc = {"schema_version": 1, "target": "oci:x", "os": {"family": "alpine", "version": "3.19"}, "packages": [],
           "image": {"id": "sha256:" + "b" * 64, "repo_tags": ["r/a:1"]}}
    p = parse_upload(json.dumps(doc).encode())
    assert p.digest == "sha256:" + "b" * 64 and ("r/a", "1", "") in p.names
    doc["image"]["id"] = "md5:1"
    with pytest.raises(Invalid, match="invalid image digest"):
        parse_upload(json.dumps(doc).encode())
    with pytest.raises(Invalid, match="does not match"):
        parse_upload(json.dumps({**doc, "image": {"id": "sha256:" + "c" * 64}}).encode(), digest="sha256:" + "d" * 64)
