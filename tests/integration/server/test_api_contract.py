"""The server as a user starts it (``containerguard server``, uvicorn) on both databases: writes of one object at
the same moment, the last admin token, NUL characters in console forms, and the OpenAPI document against what
the routes do."""

from __future__ import annotations

import collections
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from tests.fixtures import server as srv

ADMIN = "cg_contract_admin_" + "a" * 20


@pytest.fixture
def live(backend: str, tmp_path: Path) -> Iterator[str]:
    """A real server process on ``backend`` (SQLite path or PostgreSQL URL), its URL."""
    env = {"CONTAINERGUARD_BOOTSTRAP_TOKEN": ADMIN, "CONTAINERGUARD_SECRET_KEY": Fernet.generate_key().decode(),
           "XDG_DATA_HOME": str(tmp_path / "xdg")}
    s = srv.ServerProcess.server(tmp_path, "--db", backend, "--jobs", "inprocess", env=env)
    try:
        yield s.url
    finally:
        s.stop()
        assert "Exception in ASGI application" not in s.log_text(), s.log_text()[-4000:]  # no 500


def _h(token: str = ADMIN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _at_once(url: str, send: Callable[[httpx.Client, int], httpx.Response], n: int = 6) -> collections.Counter[int]:
    """``n`` requests released together from their own connections; the count of each status code."""
    codes: collections.Counter[int] = collections.Counter()
    gate = threading.Barrier(n)
    lock = threading.Lock()

    def one(i: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as c:
            gate.wait()
            r = send(c, i)
        with lock:
            codes[r.status_code] += 1
            if r.status_code not in (200, 201):
                assert r.headers["content-type"].startswith("application/json"), r.text[:200]
                detail = r.json()["detail"]
                assert isinstance(detail, str) and "\n" not in detail, r.text[:300]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes


def test_one_name_created_by_many_at_once_is_one_201_and_409s(live):
    tag = uuid.uuid4().hex[:6]
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("/api/v1/users", "/api/v1/users", {"name": f"pat-{tag}", "role": "viewer", "password": "p" * 16}),
        ("/api/v1/registries", "/api/v1/registries", {"name": f"reg-{tag}", "url": "http://127.0.0.1:9", "interval": 0}),
        ("/api/v1/notifications/targets", "/api/v1/notifications/targets",
         {"name": f"hook-{tag}", "kind": "webhook", "url": "http://127.0.0.1:9/hook"}),
    ]
    for path, listing, body in cases:
        codes = _at_once(live, lambda c, i, p=path, b=body: c.post(p, headers=_h(), json=b))
        assert codes[201] == 1 and sum(codes.values()) == 6, (path, codes)
        assert set(codes) <= {201, 409, 422}, (path, codes)  # a 500 was the answer of every loser on PostgreSQL
        stored = [x for x in httpx.get(f"{live}{listing}", headers=_h()).json() if x["name"] == body["name"]]
        assert len(stored) == 1, (path, stored)


def test_the_last_admin_token_cannot_be_revoked_even_by_two_at_once(live):
    c = httpx.Client(base_url=live, timeout=60)
    mine = next(t for t in c.get("/api/v1/tokens", headers=_h()).json() if t["role"] == "admin")
    r = c.delete(f"/api/v1/tokens/{mine['id']}", headers=_h())
    assert r.status_code == 409 and "last live admin token" in r.json()["detail"], r.text
    assert c.get("/api/v1/tokens", headers=_h()).status_code == 200  # still an administrator

    second = c.post("/api/v1/tokens", headers=_h(), json={"name": "second-admin", "role": "admin"}).json()
    # each revokes the other's token at the same moment: one may win, never both
    pairs = [(ADMIN, second["id"]), (second["token"], mine["id"])]
    codes = _at_once(live, lambda cl, i: cl.delete(f"/api/v1/tokens/{pairs[i % 2][1]}", headers=_h(pairs[i % 2][0])),
                     n=2)
    assert codes[200] == 1 and codes[409] + codes[401] == 1, codes
    # the loser: 409 (the other token was already gone) or 401 (its own token was revoked before it authenticated)
    alive = [t for t in (ADMIN, second["token"]) if c.get("/api/v1/tokens", headers=_h(t)).status_code == 200]
    assert len(alive) == 1, alive
    listed = [t for t in c.get("/api/v1/tokens", headers=_h(alive[0])).json()
              if t["role"] == "admin" and t["revoked_at"] is None]
    assert len(listed) == 1, listed
    viewer = c.post("/api/v1/tokens", headers=_h(alive[0]), json={"name": "v", "role": "viewer"}).json()
    assert c.delete(f"/api/v1/tokens/{viewer['id']}", headers=_h(alive[0])).status_code == 200  # others: unaffected



def _console(live: str) -> tuple[httpx.Client, str]:
    c = httpx.Client(base_url=live, timeout=60)
    page = c.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = c.post("/login", data={"csrf_token": csrf, "token": ADMIN, "next": "/"})
    assert r.status_code in (200, 303), r.text[:300]
    manage = c.get("/manage")
    return c, re.search(r'name="csrf_token" value="([^"]+)"', manage.text).group(1)


def test_console_forms_with_a_nul_or_an_id_out_of_range_get_the_console_page(live):
    c, csrf = _console(live)
    before = len(c.get("/api/v1/tokens", headers=_h()).json())
    for path, data in [("/manage/tokens", {"name": "bad\x00name", "role": "viewer"}),
                       ("/manage/registries", {"name": "r\x00", "url": "http://127.0.0.1:9"}),
                       ("/manage/targets", {"name": "t", "kind": "webhook", "url": "http://127.0.0.1:9/\x00"}),
                       ("/manage/tokens/99999999999999999999999/revoke", {}),
                       ("/manage/registries/99999999999999999999999/sync", {}),
                       ("/runtime/alerts/99999999999999999999999/ack", {})]:
        for htmx in (False, True):
            headers = {"origin": live, **({"HX-Request": "true"} if htmx else {})}
            r = c.post(path, data={**data, "csrf_token": csrf}, headers=headers)
            assert r.status_code in (400, 404, 422), (path, htmx, r.status_code, r.text[:200])
            assert r.headers["content-type"].startswith("text/html"), (path, htmx, r.text[:200])  # never the API's JSON
            if htmx:
                assert 'hx-swap-oob="true"' in r.text and "flash error" in r.text, (path, r.text[:300])
    # a NUL in the login form is the login page's refusal too
    r = c.post("/login", data={"csrf_token": "x", "username": "a\x00", "password": "p"}, headers={"origin": live})
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    assert len(c.get("/api/v1/tokens", headers=_h()).json()) == before  # nothing written


def test_console_name_taken_at_once_is_shown_on_the_page(live):
    """Two admins add the same registry name from the console at the same moment: one is added, the other reads
    why on the page (the unique constraint was a 500 with a stack trace in the log)."""
    tag = uuid.uuid4().hex[:6]
    sessions = [_console(live) for _ in range(4)]
    codes: collections.Counter[int] = collections.Counter()
    gate = threading.Barrier(len(sessions))

    def one(i: int) -> None:
        c, csrf = sessions[i]
        gate.wait()
        r = c.post("/manage/registries", data={"name": f"shop-{tag}", "url": "http://127.0.0.1:9", "interval": "0",
                                               "csrf_token": csrf}, headers={"origin": live})
        codes[r.status_code] += 1
        assert r.status_code == 303 or r.headers["content-type"].startswith("text/html"), r.text[:200]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(sessions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 500 not in codes and sum(codes.values()) == 4, codes
    names = [r["name"] for r in httpx.get(f"{live}/api/v1/registries", headers=_h()).json()]
    assert names.count(f"shop-{tag}") == 1


# --------------------------------------------------------------------------- the OpenAPI document


def test_openapi_says_who_may_call_each_operation_and_what_errors_look_like(api):
    from tests.integration.server.test_roles import MATRIX

    spec = api.client.get("/api/v1/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerToken"] == {**schemes["bearerToken"], "type": "http", "scheme": "bearer"}
    documented = {}
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op.get("security"), (method, path)  # a generated client sends its token everywhere
            for code in ("401", "429"):
                assert code in op["responses"], (method, path, code)
            if "requestBody" in op:
                assert "413" in op["responses"], (method, path)
            if path.endswith("/notifications"):
                assert op["security"] == [{"registrySecret": []}]
                continue
            assert "403" in op["responses"], (method, path)
            documented[(method.upper(), path[len("/api/v1"):])] = set(op["x-roles"])
            assert op["x-permission"] in op["description"]
    # the roles the document names are exactly the roles the role matrix test finds allowed
    expected = {(m, p): set(allowed) for m, p, allowed in MATRIX if not p.endswith("/notifications")}
    assert documented == expected

    # the 422 body the document describes is the body the server sends
    schema = spec["components"]["schemas"]["HTTPValidationError"]
    r = api.get("/images?limit=-1")
    assert r.status_code == 422
    body = r.json()
    assert set(body) <= set(schema["properties"]) and isinstance(body["detail"], str)
    item = spec["components"]["schemas"]["ValidationError"]
    assert all(set(e) == set(item["properties"]) for e in body["errors"])
    # errors other than validation: {"detail": str}, as documented
    assert spec["components"]["schemas"]["Error"]["required"] == ["detail"]
    r = api.get("/images/sha256:" + "0" * 64)
    assert r.status_code == 404 and "404" in spec["paths"]["/api/v1/images/{ref}"]["get"]["responses"]
    assert set(r.json()) == {"detail"}


def test_no_page_loads_code_from_another_origin(api):
    """FastAPI's Swagger UI page (/api/v1/docs) loaded its script and style from a CDN: third-party code on the
    console's origin, and a blank page on a server without internet."""
    assert api.client.get("/api/v1/docs").status_code == 404
    for path in ("/login", "/api/v1/openapi.json"):
        text = api.client.get(path).text
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), path


def test_image_names_reach_download_headers_safely(live):
    """An image name from a CI upload names the console's SBOM download: a non-Latin-1 character in it was a 500,
    a quote cut the file name, and a CR/LF (stored as given) dropped the connection mid-response."""
    from urllib.parse import unquote

    docs = srv.scan_documents(6)
    c, _ = _console(live)
    bad = httpx.post(f"{live}/api/v1/scans", params={"name": "reg.example/x\r\nSet-Cookie: a=b:1"},
                     headers={**_h(), "Content-Type": "application/json"}, content=docs[4], timeout=60)
    assert bad.status_code == 422 and "control character" in bad.json()["detail"], bad.text
    assert httpx.get(f"{live}/api/v1/images", headers=_h()).json()["total"] == 0  # nothing stored
    for doc, name in ((docs[4], "reg.example/日本/app:1"), (docs[5], 'reg.example/a"b;c=d:1')):
        r = httpx.post(f"{live}/api/v1/scans", params={"name": name},
                       headers={**_h(), "Content-Type": "application/json"}, content=doc, timeout=60)
        assert r.status_code == 201, r.text
        digest = r.json()["digest"]
        for fmt, ext in (("cyclonedx", "cdx.json"), ("spdx", "spdx.json")):
            got = c.get(f"/images/{digest}/sbom", params={"format": fmt})
            assert got.status_code == 200, (name, fmt, got.text[:200])
            cd = got.headers["content-disposition"]
            plain = re.search(r'filename="([^"]*)"', cd).group(1)
            assert re.fullmatch(r"[A-Za-z0-9._-]+", plain), cd
            exact = unquote(re.search(r"filename\*=UTF-8''(\S+)", cd).group(1))
            assert exact.startswith(name.replace("/", "_").replace(":", "_")) and exact.endswith(ext[-5:]), cd
            assert got.json()  # the document itself


def test_telemetry_counts_past_the_columns_range_keep_their_batch(api):
    """A counter an agent or enforcer reports past the 32-bit column (a long-lived baseline's deviations, a
    decision count) was "integer out of range" on PostgreSQL only: the batch, and the alerts in it, refused."""
    huge = 2**62
    agent = api.token("agent", "counting-host")
    alert = {"uid": "count-alert-0001", "time": "2026-12-01T10:00:00Z", "rule": "counted", "priority": "Critical",
             "output": "with a huge count beside it"}
    r = api.post("/agent/report", agent, json={
        "host": "counting-host", "batch_id": "count-batch-0001", "dropped": huge, "alerts": [alert],
        "baselines": [{"workload": "img:app", "mode": "monitor", "deviations": huge,
                       "entries": {"process": huge, "file": 3}}]})
    assert r.status_code == 200 and r.json()["alerts_stored"] == 1, r.text
    [b] = api.get("/baselines?host=counting-host").json()
    assert b["deviations"] == 2**31 - 1 and b["entries"] == {"process": 2**31 - 1, "file": 3}
    assert [a["uid"] for a in api.get("/alerts?host=counting-host").json()] == ["count-alert-0001"]

    enforcer = api.token("enforcer", "counting-webhook")
    for i in range(3):  # the totals add up past BIGINT's end: they stop there
        r = api.post("/policy/reports", enforcer, json={
            "batch_id": f"count-policy-{i:04d}", "source": "admission", "instance": "counting-webhook",
            "counts": {"allowed": huge * 4, "denied": 1}, "dropped": huge, "decisions": []})
        assert r.status_code == 200, r.text
    [enf] = [e for e in api.get("/policy/enforcers").json() if e["instance"] == "counting-webhook"]
    assert enf["denied"] == 3 and 2**31 - 1 <= enf["allowed"] <= 2**63 - 1, enf
    # a negative count is still refused, with its field named
    r = api.post("/agent/report", agent, json={"host": "counting-host", "batch_id": "count-batch-0002",
                                               "baselines": [{"workload": "w", "mode": "learn", "deviations": -1}]})
    assert r.status_code == 422 and "deviations" in r.json()["detail"]
