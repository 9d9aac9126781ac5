"""Hostile URLs through the API on both backends: a NUL anywhere in the URL, and ids or cursors past any
integer column's range, are 4xx with a one-line reason (PostgreSQL refused them with a 500 before), and change
nothing."""

from __future__ import annotations

import json

HUGE = "9" * 20  # past 64 bits
PAST_INT32 = str(2**31)  # past PostgreSQL's INTEGER ids

LISTS = ["/images", "/findings", "/hosts", "/containers", "/alerts", "/baselines", "/audit", "/events", "/jobs",
         "/exceptions", "/policy/violations", "/policy/enforcers", "/notifications/deliveries", "/risk"]


def _four_xx(r) -> str:
    assert 400 <= r.status_code < 500, (r.request.method, str(r.request.url)[:200], r.status_code, r.text[:200])
    detail = r.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail, detail
    return detail


def _snapshot(api) -> str:
    return json.dumps([api.get(p).json() for p in ("/exceptions?all=true", "/notifications/targets", "/users")],
                      sort_keys=True)


def test_a_nul_in_any_query_or_path_is_400(api):
    for path in LISTS:
        for param in ("name", "host", "rule", "q", "policy", "action", "type", "status", "kind"):
            r = api.client.get(f"/api/v1{path}?{param}=a%00b", headers=api.h())
            assert "NUL" in _four_xx(r)
    for path in ("/images/sha256:%00", "/registries/r%00", "/users/u%00"):
        assert "NUL" in _four_xx(api.client.get(f"/api/v1{path}", headers=api.h()))
        assert "NUL" in _four_xx(api.client.delete(f"/api/v1{path}", headers=api.h()))
    # a literal "%00" as text (sent as %2500) is an ordinary search term
    assert api.client.get("/api/v1/images?name=%2500", headers=api.h()).status_code == 200


def test_ids_and_cursors_past_the_integer_range_are_4xx(api):
    r = api.post("/exceptions", json={"vuln_id": "CVE-2020-0001", "scope": "global", "kind": "risk_accepted",
                                      "reason": "kept"})
    assert r.status_code == 201, r.text
    before = _snapshot(api)
    for n in (HUGE, PAST_INT32, "-" + HUGE):
        for method, path in [("DELETE", f"/tokens/{n}"), ("DELETE", f"/exceptions/{n}"),
                             ("PATCH", f"/notifications/targets/{n}"), ("DELETE", f"/notifications/targets/{n}"),
                             ("PUT", f"/notifications/targets/{n}/enabled"), ("POST", f"/notifications/targets/{n}/test"),
                             ("POST", f"/notifications/deliveries/{n}/retry"), ("GET", f"/images/{n}"),
                             ("GET", f"/images/{n}/findings"), ("GET", f"/alerts?before_id={n}"),
                             ("GET", f"/audit?before_id={n}"), ("GET", f"/events?before_id={n}"),
                             ("GET", f"/policy/violations?before_id={n}"),
                             ("GET", f"/notifications/deliveries?target_id={n}"), ("GET", f"/hosts?offset={n}"),
                             ("GET", f"/containers?offset={n}"), ("GET", f"/baselines?offset={n}")]:
            r = api.client.request(method, f"/api/v1{path}", headers=api.h(), json={"enabled": False})
            if r.status_code == 200 and method == "GET":
                continue  # a cursor before every row, or an offset past the end: an empty page is an answer too
            _four_xx(r)
    assert _snapshot(api) == before
