"""Each role against each endpoint: allowed (not 401/403) or 403; no token 401. The expectation table is
written here, independently of the server's role table, and must name every /api/v1 route."""

from __future__ import annotations

import pytest

ROLES = ("admin", "analyst", "viewer", "agent", "ci", "enforcer")
READERS = {"admin", "analyst", "viewer"}
POLICY_READERS = READERS | {"agent", "enforcer", "ci"}  # the enforcement points (and CI) fetch the policy set

# (method, path template, roles allowed)
MATRIX: list[tuple[str, str, set[str]]] = [
    ("GET", "/images", READERS),
    ("GET", "/images/{ref}", READERS),
    ("GET", "/images/{ref}/findings", READERS),
    ("GET", "/images/{ref}/sbom", READERS),
    ("GET", "/findings", READERS),
    ("POST", "/scans", {"admin", "analyst", "ci"}),
    ("GET", "/tokens", {"admin"}),
    ("POST", "/tokens", {"admin"}),
    ("DELETE", "/tokens/{token_id}", {"admin"}),
    ("GET", "/audit", {"admin"}),
    ("GET", "/events", READERS),
    ("GET", "/exceptions", set(ROLES) - {"enforcer"}),
    ("POST", "/exceptions", {"admin", "analyst"}),
    ("DELETE", "/exceptions/{exc_id}", {"admin", "analyst"}),
    ("POST", "/agent/report", {"agent"}),
    ("GET", "/registries", READERS),
    ("POST", "/registries", {"admin"}),
    ("PATCH", "/registries/{name}", {"admin"}),
    ("DELETE", "/registries/{name}", {"admin"}),
    ("POST", "/registries/{name}/poll", {"admin", "analyst"}),
    ("POST", "/registries/{name}/notifications", set()),  # the registry's shared secret, never a token: 401
    ("POST", "/rescans", {"admin", "analyst"}),
    ("GET", "/jobs", READERS),
    ("GET", "/hosts", READERS),
    ("GET", "/hosts/self", {"agent"}),  # an agent reads its own host, and no other
    ("GET", "/containers", READERS),
    ("GET", "/alerts", READERS),
    ("GET", "/baselines", READERS),
    ("GET", "/users", {"admin"}),
    ("POST", "/users", {"admin"}),
    ("DELETE", "/users/{name}", {"admin"}),
    ("GET", "/notifications/targets", READERS),
    ("POST", "/notifications/targets", {"admin"}),
    ("PATCH", "/notifications/targets/{target_id}", {"admin"}),
    ("DELETE", "/notifications/targets/{target_id}", {"admin"}),
    ("PUT", "/notifications/targets/{target_id}/enabled", {"admin"}),
    ("POST", "/notifications/targets/{target_id}/test", {"admin"}),
    ("GET", "/notifications/deliveries", READERS),
    ("POST", "/notifications/deliveries/{delivery_id}/retry", {"admin"}),
    ("POST", "/policy/decisions", {"admin", "analyst", "ci"}),
    ("GET", "/policy/violations", READERS),
    ("GET", "/policy/summary", READERS),
    ("POST", "/policy/reports", {"agent", "enforcer"}),
    ("GET", "/policy/enforcers", READERS),
    ("GET", "/policies", POLICY_READERS),
    ("PUT", "/policies", {"admin"}),
    ("GET", "/policies/bundle", POLICY_READERS),
    ("GET", "/risk", READERS),
]

BODIES = {
    ("POST", "/tokens"): {"name": "x", "role": "viewer"},
    ("POST", "/exceptions"): {"vuln_id": "CVE-1", "scope": "global", "kind": "false_positive", "reason": "r"},
    ("POST", "/agent/report"): {"host": "matrix-agent", "batch_id": "batch-0001", "alerts": []},
    ("POST", "/users"): {"name": "matrix-user", "role": "viewer", "password": "a long enough password"},
    ("POST", "/notifications/targets"): {"name": "matrix-siem", "kind": "syslog", "url": "udp://127.0.0.1:9"},
    ("PUT", "/notifications/targets/{target_id}/enabled"): {"enabled": True},
    ("PATCH", "/registries/{name}"): {"interval": 600},
    ("PATCH", "/notifications/targets/{target_id}"): {"enabled": True},
    ("POST", "/policy/reports"): {"batch_id": "batch-0001", "source": "authz", "instance": "matrix-host", "decisions": []},
    ("PUT", "/policies"): {"files": []},
}
#: a body per role where the route checks what the role may say (an agent reports its own host's runtime)
ROLE_BODIES = {
    ("POST", "/policy/reports", "agent"): {"batch_id": "batch-0002", "source": "agent", "instance": "matrix-agent",
                                           "decisions": []},
}
FILL = {"ref": "1", "token_id": "999", "exc_id": "999", "registry_id": "999", "name": "nope", "host": "nope",
        "target_id": "999", "delivery_id": "999"}


def _routes(api) -> set[tuple[str, str]]:
    """Every operation the OpenAPI document lists under /api/v1."""
    spec = api.client.get("/api/v1/openapi.json").json()
    return {(m.upper(), p[len("/api/v1"):]) for p, ops in spec["paths"].items() if p.startswith("/api/v1/")
            for m in ops}


def test_the_matrix_names_every_route(api):
    assert _routes(api) == {(m, p) for m, p, _ in MATRIX}


@pytest.fixture
def matrix_api(backend, tmp_path):
    """The matrix sends one unauthenticated request per route: more than the default 20 per minute."""
    from tests.integration.server.conftest import make_api

    yield from make_api(backend, tmp_path, auth_failures_per_minute=1000)


def test_each_role_against_each_endpoint(matrix_api, docs):
    api = matrix_api
    assert api.post("/scans", content=docs[0]).status_code == 201
    tokens = {role: api.token(role, f"matrix-{role}") for role in ROLES}
    failures = []
    for method, template, allowed in MATRIX:
        path = template.format(**FILL)
        body = BODIES.get((method, template))
        kw = {"json": body} if body is not None else {}
        if template == "/scans":
            kw = {"content": docs[0]}
        r = api.client.request(method, f"/api/v1{path}", **kw)
        if r.status_code != 401:
            failures.append(f"{method} {path} without token: {r.status_code}")
        for role, tok in tokens.items():
            role_kw = {"json": ROLE_BODIES[(method, template, role)]} if (method, template, role) in ROLE_BODIES else kw
            r = api.client.request(method, f"/api/v1{path}", headers={"Authorization": f"Bearer {tok}"}, **role_kw)
            if role in allowed and r.status_code in (401, 403):
                failures.append(f"{method} {path} as {role}: {r.status_code} (should be allowed)")
            if template.endswith("/notifications"):
                if r.status_code != 401:
                    failures.append(f"{method} {path} as {role}: {r.status_code} (tokens never authenticate it)")
                continue
            if role not in allowed and r.status_code != 403:
                failures.append(f"{method} {path} as {role}: {r.status_code} (should be 403)")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("header", ["Bearer", "Basic Zm9vOmJhcg==", "Bearer not-a-cg-token", "Token cg_x"])
def test_bad_credentials_are_401(api, header):
    r = api.client.get("/api/v1/images", headers={"Authorization": header})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
