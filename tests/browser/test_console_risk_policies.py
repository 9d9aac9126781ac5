"""The Risk and Policies pages in the browser, with real data: an agent reports the app image running
privileged with a published port (the real agent endpoint), CI runs `containerguard scan --policy DIR
--server URL --token CI` against the console's server, and a hostile decision is posted through the API.
The pages show the same ranking and violations the API answers, every value as text, and pass axe."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
from tests.browser.harness import ROOT, axe_violations
from tests.browser.test_console_runtime import _login, report

POLICY = """\
id: CGT-NO-VULNS
name: no-known-vulnerabilities
description: Release images carry no known vulnerability.
severity: high
condition: findings.exists(f, f.kind == "vulnerability")
details: findings.filter(f, f.kind == "vulnerability").map(f, f.id)
remediation: Update the packages.
enforcement: {build: fail-build}
"""
EVIL = '<img src=x onerror="window.__xss = 1"><script>window.__xss = 2</script>'


def _scan_with_policy(console, tmp_path) -> None:
    from tests.fixtures import env
    from tests.fixtures import server as srv
    from tests.fixtures.app_image import app_image

    (tmp_path / "pol").mkdir()
    (tmp_path / "pol" / "cgt.yaml").write_text(POLICY)
    tar = env.docker_save(app_image().tag)
    r = subprocess.run([sys.executable, "-m", "containerguard.cli.main", "scan", f"docker-archive:{tar}",
                        "--db", str(srv.vulndb()), "--policy", str(tmp_path / "pol"), "--server", console.url,
                        "--token", console.tokens["ci"], "-q", "-f", "json", "-o", os.devnull],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 1 and "FAIL-BUILD CGT-NO-VULNS" in r.stderr, r.stderr[-2000:]


def test_policies_page_lists_counts_and_latest_violations(console, ctx, tmp_path):
    _scan_with_policy(console, tmp_path)
    r = httpx.post(f"{console.url}/api/v1/policy/decisions", headers={"Authorization": f"Bearer {console.tokens['ci']}"},
                   json={"stage": "deploy", "source": "admission", "image_name": "cg-test/evil:1", "violations": [
                       {"policy": "CGT-EVIL", "name": EVIL, "severity": "critical", "action": "block",
                        "subject": f"Pod/{EVIL}", "message": EVIL}]}, timeout=30)
    assert r.status_code == 201, r.text
    summary = {p["policy"]: p for p in console.api("GET", "/policy/summary", role="viewer")}
    page = ctx.new_page()
    _login(page, console, "viewer", "/policies")
    assert page.locator("header nav a", has_text="Policies").get_attribute("aria-current") == "page"

    counts = page.locator("#policy-counts tbody tr", has_text="CGT-NO-VULNS")
    cells = counts.locator("td").all_inner_texts()
    assert cells[:4] == ["CGT-NO-VULNS", "no-known-vulnerabilities", "fail-build", str(summary["CGT-NO-VULNS"]["count"])]

    latest = page.locator("#violations tbody tr", has_text="CGT-NO-VULNS").first.locator("td").all_inner_texts()
    assert latest[1:3] == ["CGT-NO-VULNS", "high"] and latest[4].startswith("build") and latest[5] == "fail-build"
    assert "CVE-" in latest[7]
    image_link = page.locator("#violations tbody tr", has_text="CGT-NO-VULNS").first.locator("td").nth(6).locator("a")
    assert image_link.get_attribute("href") == f"/images/{console.image_digest('cg-test/app:1')}"

    evil_row = page.locator("#violations tbody tr", has_text="CGT-EVIL").locator("td").all_inner_texts()
    assert evil_row[1:6] == ["CGT-EVIL", "critical", f"Pod/{EVIL}", "deploy (admission)", "block"]
    assert EVIL in evil_row[7]
    assert page.evaluate("window.__xss") is None and page.locator("#violations img").count() == 0

    # the per-policy link filters the latest list
    counts.locator("a").click()
    page.wait_for_url("**/policies?policy=CGT-NO-VULNS")
    policies = set(page.locator("#violations tbody tr td.mono").all_inner_texts())
    assert policies == {"CGT-NO-VULNS"}
    assert not axe_violations(page)
    assert not ctx.csp_errors and not ctx.page_errors


def _row_texts(page) -> list[list[str]]:
    return [r.locator("td").all_inner_texts() for r in page.locator("#risk-rows tbody tr").all()]


def test_risk_page_ranks_with_why_as_the_api_does(console, ctx):
    app_digest = console.image_digest("cg-test/app:1")
    report(console, containers=[{"id": "c0ffee" * 2, "name": "web-1", "image": "cg-test/app:1", "image_id": app_digest,
                                 "privileged": True, "ports": [{"host_port": 8080, "container_port": 80}]}])
    page = ctx.new_page()
    _login(page, console, "viewer", "/risk")
    assert page.locator("header nav a", has_text="Risk").get_attribute("aria-current") == "page"

    api = console.api("GET", "/risk", role="viewer", params={"kind": "images", "limit": 25})["items"]
    rows = _row_texts(page)
    assert [(r[0], r[1]) for r in rows] == [(str(it["rank"]), str(it["score"])) for it in api]
    app = next(r for r in rows if r[2] == "cg-test/app:1")
    why = app[3]
    api_app = next(it for it in api if it["image"]["digest"] == app_digest)
    assert f"base {api_app['why']['base_risk']}" in why
    assert "running \u00d71.5 (1 container)" in why and "privileged +0.5" in why and "published ports +0.3" in why
    assert "(container web-1)" in why and api_app["why"]["formula"] in why
    assert not axe_violations(page)

    page.click("nav.tabs a:has-text('Running containers')")
    page.wait_for_url("**/risk?kind=containers")
    web = next(r for r in _row_texts(page) if r[2] == "web-1")
    assert web[3] == "host-a" and web[4] == "cg-test/app:1" and "privileged +0.5" in web[5]

    page.click("nav.tabs a:has-text('Findings')")
    page.wait_for_url("**/risk?kind=findings")
    api_f = console.api("GET", "/risk", role="viewer", params={"kind": "findings", "limit": 25})["items"]
    rows = _row_texts(page)
    assert len(rows) == len(api_f) == 25
    assert [r[2].split()[-1] for r in rows] == [it["finding"]["vuln_id"] for it in api_f]
    assert [r[1] for r in rows] == [str(it["score"]) for it in api_f]
    assert not axe_violations(page)

    # one screen per page: the next page continues the ranking
    page.click("nav.pager a[rel=next]")
    page.wait_for_url("**/risk?kind=findings&page=2")
    api_2 = console.api("GET", "/risk", role="viewer", params={"kind": "findings", "limit": 25, "offset": 25})["items"]
    assert [r[0] for r in _row_texts(page)][:3] == [str(it["rank"]) for it in api_2][:3] == ["26", "27", "28"]
    assert not ctx.csp_errors and not ctx.page_errors
