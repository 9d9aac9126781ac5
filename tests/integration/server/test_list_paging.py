"""Keyset pagination of the findings lists, hosts with their running containers in one answer, and the
connection pool surviving connections the database dropped -- on SQLite and on PostgreSQL."""

from __future__ import annotations

import subprocess

import pytest
from tests.fixtures import server as srv


def _walk(api, path: str, limit: int) -> list[dict]:
    """Every item of a findings list, page by page through ``next``."""
    out: list[dict] = []
    sep = "&" if "?" in path else "?"
    url = f"{path}{sep}limit={limit}"
    for _ in range(1000):
        r = api.get(url)
        assert r.status_code == 200, r.text
        body = r.json()
        out += body["items"]
        if body["next"] is None:
            return out
        assert len(body["items"]) == limit
        url = f"{path}{sep}limit={limit}&cursor={body['next']}"
    raise AssertionError("pagination did not end")


def test_findings_cursor_pages_cover_the_list_once_in_order(api, docs):
    ci = api.token("ci")
    for d in docs:
        assert api.post("/scans", ci, content=d).status_code == 201
    whole = api.get("/findings?limit=1000").json()
    assert whole["next"] is None and len(whole["items"]) > 10
    # the same vulnerabilities in several images: many equal risks, ordered by id among themselves
    risks = [f["risk"] for f in whole["items"]]
    assert len(set(risks)) < len(risks)
    assert [(f["risk"], f["id"]) for f in whole["items"]] == sorted(((f["risk"], f["id"]) for f in whole["items"]),
                                                                     reverse=True)
    for limit in (1, 3, 7):
        paged = _walk(api, "/findings", limit)
        assert [f["id"] for f in paged] == [f["id"] for f in whole["items"]]
    # filters hold across pages
    high = api.get("/findings?limit=1000&min_severity=high").json()["items"]
    assert high and all(f["severity"] in ("HIGH", "CRITICAL") for f in high)
    assert [f["id"] for f in _walk(api, "/findings?min_severity=high", 2)] == [f["id"] for f in high]
    # one image's findings: its total on every page, the pages cover it
    digest = whole["items"][0]["image_id"]
    one = api.get(f"/images/{digest}/findings?limit=1000").json()
    first = api.get(f"/images/{digest}/findings?limit=2").json()
    assert first["total"] == one["total"] == len(one["items"])
    assert [f["id"] for f in _walk(api, f"/images/{digest}/findings", 2)] == [f["id"] for f in one["items"]]


@pytest.mark.parametrize("cursor", ["x", "1.5", "nan_3", "inf_2", "1.0_x", "1.0_2_3", "1_0_2", "-_1", "'; DROP TABLE findings; --"])
def test_a_malformed_cursor_is_a_clear_4xx(api, cursor):
    r = api.get("/findings", params={"cursor": cursor})
    assert r.status_code == 422, r.text
    assert "cursor" in r.text
    assert api.get("/findings", params={"cursor": "1" * 65}).status_code == 422


def test_hosts_list_counts_running_containers(api):
    agent = api.token("agent", "host-a")
    body = {"host": "host-a", "batch_id": "batch-0001",
            "containers": [{"id": f"{i:064x}", "name": f"c{i}", "image": "app:1"} for i in range(3)]}
    assert api.post("/agent/report", agent, json=body).status_code == 200
    body = {"host": "host-a", "batch_id": "batch-0002",
            "containers": [{"id": f"{i:064x}", "name": f"c{i}", "image": "app:1"} for i in range(2)]}
    assert api.post("/agent/report", agent, json=body).status_code == 200
    hosts = api.get("/hosts").json()
    assert [(h["name"], h["running_containers"]) for h in hosts] == [("host-a", 2)]
    assert hosts[0]["last_seen"] >= hosts[0]["first_seen"]


def test_pool_replaces_connections_the_database_dropped(tmp_path, monkeypatch):
    """PostgreSQL restarted or a proxy cut idle connections: the next request still answers (the pool pings a
    connection that sat idle, and replaces it). PostgreSQL only: SQLite has no server connections to lose."""
    from containerguard.server import store

    from .conftest import make_api

    monkeypatch.setattr(store, "IDLE_PING_SECONDS", 0.0)
    url = srv.postgres_url()
    gen = make_api(url, tmp_path)
    api = next(gen)
    try:
        for _ in range(3):
            assert api.get("/images").status_code == 200
        name = url.split("///", 1)[1].split("?", 1)[0]
        out = subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-tAc",
                              f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{name}' "
                              "AND pid <> pg_backend_pid()"], capture_output=True, text=True, check=True)
        assert int(out.stdout.strip()) >= 1  # the pool's connections are gone
        for _ in range(3):
            r = api.get("/images")
            assert r.status_code == 200, r.text
    finally:
        gen.close()
        srv.drop_postgres(url)
