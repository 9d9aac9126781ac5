"""Every console page for every role: 200 where the role may read it, 403 where not, a login redirect
without a session; machine tokens (agent, ci) get no session at all, so no page can show an agent
another host's data. Through real HTTP against a real server process."""

from __future__ import annotations

import re

import pytest
from tests.browser.web import csrf_of, login

ROLES = ("admin", "analyst", "viewer")


def pages(console) -> dict[str, set[str]]:
    """path -> roles that get 200."""
    digest = console.image_digest("cg-test/app:1")
    everyone = set(ROLES)
    return {
        "/": everyone, "/images": everyone, f"/images/{digest}": everyone,
        f"/images/{digest}?kev=1&fixable=1&severity=high&type=pypi&status=all": everyone,
        f"/images/{digest}/sbom?format=cyclonedx": everyone, f"/images/{digest}/sbom?format=spdx": everyone,
        "/runtime": everyone, "/manage": everyone, "/audit": {"admin"},
        "/risk": everyone, "/risk?kind=containers": everyone, "/risk?kind=findings&page=2": everyone,
        "/risk?kind=../../etc": everyone, "/policies": everyone, "/policies?policy=CGT-NO-VULNS&stage=build": everyone,
    }


@pytest.fixture(scope="module")
def sessions(console):
    out = {}
    for role in ROLES:
        client, resp = login(console.url, console.tokens[role])
        assert resp.status_code == 303, resp.text[:300]
        out[role] = client
    yield out
    for c in out.values():
        c.close()


def test_every_page_answers_200_or_403_per_role(console, sessions):
    for path, allowed in pages(console).items():
        for role in ROLES:
            r = sessions[role].get(path)
            want = 200 if role in allowed else 403
            assert r.status_code == want, f"{role} {path}: {r.status_code}"
            if want == 403:
                assert "Not allowed" in r.text and "cg-test/app" not in r.text


def test_without_a_session_every_page_sends_to_login(console):
    import httpx

    with httpx.Client(base_url=console.url, follow_redirects=False) as c:
        for path in pages(console):
            r = c.get(path)
            assert r.status_code == 303, path
            assert r.headers["location"].startswith("/login?next=/"), r.headers["location"]


@pytest.mark.parametrize("role", ["agent", "ci"])
def test_machine_tokens_get_no_session(console, role):
    client, resp = login(console.url, console.tokens[role])
    assert resp.status_code == 403
    assert "set-cookie" not in resp.headers or "cg_session" not in resp.headers.get("set-cookie", "")
    for path in pages(console):
        r = client.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), path
    # nothing about any host or image leaked on the refusal page
    assert "host-a" not in resp.text and "cg-test/" not in resp.text


def test_viewer_sees_no_action_forms_and_cannot_post_them(console, sessions):
    digest = console.image_digest("cg-test/app:1")
    page = sessions["viewer"].get(f"/images/{digest}?kev=1")
    assert page.status_code == 200
    assert "/accept" not in page.text and "Rescan" not in page.text
    analyst_page = sessions["analyst"].get(f"/images/{digest}?kev=1")
    finding_id = re.search(r'action="/findings/(\d+)/accept"', analyst_page.text).group(1)
    r = sessions["viewer"].post(f"/findings/{finding_id}/accept", data={
        "csrf_token": csrf_of(page.text), "reason": "viewer tries", "kind": "risk_accepted", "scope": "finding"})
    assert r.status_code == 403
    assert all(e["reason"] != "viewer tries" for e in console.api("GET", "/exceptions", params={"all": "true"}))


def test_only_admin_manages_tokens(console, sessions):
    for role in ("analyst", "viewer"):
        page = sessions[role].get("/manage")
        assert "Create token" not in page.text and "Tokens" not in page.text
        r = sessions[role].post("/manage/tokens", data={"csrf_token": csrf_of(page.text), "name": "x", "role": "admin"})
        assert r.status_code == 403
    page = sessions["admin"].get("/manage")
    assert "Create token" in page.text


def test_sbom_downloads_are_valid_documents_of_the_stored_inventory(console, sessions):
    import json

    digest = console.image_digest("cg-test/app:1")
    image = console.api("GET", f"/images/{digest}")
    r = sessions["viewer"].get(f"/images/{digest}/sbom?format=cyclonedx")
    assert r.headers["content-disposition"].startswith("attachment;") and r.headers["content-type"].startswith(
        "application/vnd.cyclonedx+json")
    bom = json.loads(r.text)
    assert bom["bomFormat"] == "CycloneDX" and len(bom["components"]) >= image["package_count"]
    r = sessions["viewer"].get(f"/images/{digest}/sbom?format=spdx")
    spdx = json.loads(r.text)
    assert spdx["spdxVersion"] == "SPDX-2.3" and len(spdx["packages"]) >= image["package_count"]
    assert sessions["viewer"].get(f"/images/{digest}/sbom?format=../../etc/passwd").status_code == 422
    assert sessions["viewer"].get("/images/sha256:" + "0" * 64 + "/sbom").status_code == 404


def test_rescan_from_the_console_is_queued_and_audited(console, sessions):
    digest = console.image_digest("cg-test/debian:bookworm")
    page = sessions["analyst"].get(f"/images/{digest}")
    r = sessions["analyst"].post(f"/images/{digest}/rescan", data={"csrf_token": csrf_of(page.text)},
                                 headers={"Referer": f"{console.url}/images/{digest}"})
    assert r.status_code == 303 and r.headers["location"] == f"/images/{digest}"
    shown = sessions["analyst"].get(r.headers["location"])
    assert "Rescan of sha256:" in shown.text and "queued" in shown.text      # the one-time status line
    assert "queued" not in sessions["analyst"].get(r.headers["location"]).text  # ... shown once
    audit = console.api("GET", "/audit", params={"limit": 20})
    assert any(e["action"] == "image.rescan" and e["object_id"] == digest and e["actor"].startswith("analyst-1")
               for e in audit)


def test_registry_sync_from_the_console_runs_the_poll_job(console, sessions):
    import time

    console.api("POST", "/registries", json={"name": "unreachable", "url": "http://127.0.0.1:9", "interval": 0})
    page = sessions["analyst"].get("/manage")
    rid = re.search(r'action="/manage/registries/(\d+)/sync"', page.text).group(1)
    r = sessions["analyst"].post(f"/manage/registries/{rid}/sync", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    assert "Sync of registry unreachable queued" in sessions["analyst"].get(r.headers["location"]).text
    assert "/sync" not in sessions["viewer"].get("/manage").text       # viewers see the list, not the action
    audit = console.api("GET", "/audit", params={"limit": 20})
    assert any(e["action"] == "registry.poll" and e["actor"].startswith("analyst-1") for e in audit)
    deadline = time.time() + 30
    while time.time() < deadline:
        runs = console.api("GET", "/jobs", params={"kind": "poll_registry"})
        if runs and runs[0]["status"] in ("done", "failed"):
            break
        time.sleep(0.5)
    assert runs and runs[0]["status"] in ("done", "failed")
    # the failure to reach it is on the page, in one line
    text = sessions["viewer"].get("/manage").text
    assert "unreachable" in text and "error:" in text
