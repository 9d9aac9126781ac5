"""Image search (API ``GET /images?name=``, console ``/images?q=``) on both backends: a substring of any name an
image was seen under, in any case; LIKE metacharacters are literal; the console's box also matches the OS
family, a tag exactly and a digest prefix. Terms of 3+ characters go through the trigram index (SQLite FTS5
kept by triggers, PostgreSQL pg_trgm), which the query plan shows; shorter ones scan and give the same
semantics."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient
from sqlalchemy import text

from containerguard.server.services import images
from containerguard.server.store.models import Image


def _upload(api, doc: bytes, *tags: str) -> str:
    d = json.loads(doc)
    d["image"]["repo_tags"] = list(tags)
    r = api.post("/scans", content=json.dumps(d))
    assert r.status_code == 201, r.text
    return str(d["image"]["id"])


def _names(api, term: str) -> set[str]:
    r = api.get("/images", params={"name": term})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == len(body["items"])
    return {i["digest"] for i in body["items"]}


def _console(api) -> TestClient:
    c = TestClient(api.app)
    page = c.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert c.post("/login", data={"csrf_token": csrf, "token": api.admin, "next": "/images"},
                  follow_redirects=False).status_code == 303
    return c


def _listed(c: TestClient, q: str) -> set[str]:
    r = c.get("/images", params={"q": q})
    assert r.status_code == 200
    return set(re.findall(r"sha256:[0-9a-f]{64}", r.text))


def test_substring_search_through_the_index(api, docs):
    web = _upload(api, docs[0], "Registry.Test/Team-A/web-frontend:1.2")
    _upload(api, docs[0], "mirror.example/backup/web-frontend:2")  # the same image under a second name
    db = _upload(api, docs[1], "registry.test/team-b/db_100%:7")
    # a substring anywhere, in any case; every name the image was seen under counts, not only the latest
    assert _names(api, "frontend") == {web}
    assert _names(api, "WEB-FRONT") == {web}
    assert _names(api, "team-a/web") == {web}        # the first name, no longer the display name
    assert _names(api, "backup/web") == {web}        # the display name now (updated by the second upload)
    assert _names(api, "registry.test") == {web, db}
    assert _names(api, "team-c") == set()
    # LIKE metacharacters are literal, long and short terms alike
    assert _names(api, "db_100%") == {db}
    assert _names(api, "_100") == {db}
    assert _names(api, "b%1") == set()
    assert _names(api, "%") == {db}
    assert _names(api, "_") == {db}
    assert _names(api, "B") == {web, db}             # short: a scan, the same case-insensitive substring rule
    assert _names(api, '"') == set() and _names(api, 'a" OR "b') == set()  # no FTS query syntax leaks through
    assert _names(api, "alpine") == set()             # the API's name search is names only

    c = _console(api)
    assert _listed(c, "frontend") == {web}
    assert _listed(c, "ALPINE") == {web, db}          # the console's box: OS family too
    assert _listed(c, "7") == {db}                    # a tag, exactly
    assert _listed(c, "1.2") == {web}
    assert _listed(c, web[7:19]) == {web}             # a digest prefix, bare hex ...
    assert _listed(c, web[:19]) == {web}              # ... or with its algorithm
    assert _listed(c, "no-such-thing") == set()


def test_the_search_uses_the_trigram_index(api, docs):
    _upload(api, docs[2], "registry.test/plan/check:1")
    engine = api.app.state.cg.sessions.kw["bind"]
    with api.app.state.cg.sessions() as s:
        from sqlalchemy import select

        q = select(Image.id).where(images.search(s, "plan/check"))
        sql = str(q.compile(engine, compile_kwargs={"literal_binds": True}))
        if engine.dialect.name == "sqlite":
            plan = " ".join(str(r[-1]) for r in s.execute(text("EXPLAIN QUERY PLAN " + sql)))
            assert "VIRTUAL TABLE INDEX" in plan and "image_search" in plan, plan
        else:
            s.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table: make the planner show the index
            plan = " ".join(r[0] for r in s.execute(text("EXPLAIN " + sql.replace("%%", "%").replace("%", "%%"))))
            assert "ix_images_name_trgm" in plan, plan
        s.rollback()
