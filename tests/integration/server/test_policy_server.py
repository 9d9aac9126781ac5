"""Policies as code in the central server: `scan --policy DIR --server --token` stores the build decision's
violations; they are listed and counted per policy through the API (a real server process, SQLite)."""

from __future__ import annotations

import json

import httpx
from tests.fixtures import server as srv
from tests.integration.server.test_cli import cg

POLICY = """\
id: ACME-VULNS
name: no-known-vulnerabilities
description: Release images carry no known vulnerability.
severity: high
condition: findings.exists(f, f.kind == "vulnerability")
details: findings.filter(f, f.kind == "vulnerability").map(f, f.id)
remediation: Update the packages.
enforcement: {build: fail-build}
"""


def test_scan_policy_violations_are_stored_and_listed(tmp_path):
    s = srv.ServerProcess.server(tmp_path, "--vulndb", str(srv.vulndb()), env={"XDG_DATA_HOME": str(tmp_path / "xdg")})
    try:
        admin = s.first_line().rsplit(" ", 1)[1].strip()
        auth = {"Authorization": f"Bearer {admin}"}
        ci = cg("token", "create", "ci-pipeline", "--role", "ci", "--server", s.url, "--token", admin).stdout.strip()
        viewer = cg("token", "create", "dashboards", "--role", "viewer", "--server", s.url, "--token", admin).stdout.strip()
        (tmp_path / "pol").mkdir()
        (tmp_path / "pol" / "acme.yaml").write_text(POLICY)
        layout = srv.image_layout(tmp_path / "layout", 1)
        r = cg("scan", f"oci:{layout}:1", "--db", str(srv.vulndb()), "--format", "json", "-o", str(tmp_path / "r.json"),
               "--policy", str(tmp_path / "pol"), "--server", s.url, "--token", ci)
        assert r.returncode == 1, r.stderr
        assert "FAIL-BUILD ACME-VULNS no-known-vulnerabilities" in r.stderr
        report = json.loads((tmp_path / "r.json").read_text())
        vulns = sorted({f["id"] for f in report["findings"] if f["kind"] == "vulnerability"})
        assert vulns
        rows = httpx.get(f"{s.url}/api/v1/policy/violations", headers={"Authorization": f"Bearer {viewer}"}).json()
        mine = [v for v in rows if v["policy"] == "ACME-VULNS"]
        assert len(mine) == 1
        v = mine[0]
        assert (v["stage"], v["source"], v["action"], v["reporter"]) == ("build", "scan", "fail-build", "ci-pipeline")
        assert v["image_digest"] == report["image"]["id"] and sorted(v["details"]) == vulns
        assert v["remediation"] == "Update the packages."
        stored = {x["policy"] for x in rows}
        printed = {line.split()[1] for line in r.stderr.splitlines()
                   if line.split()[:1] and line.split()[0] in ("FAIL-BUILD", "WARN")}
        assert printed <= stored  # every violation shown in CI is stored (informational ones too)
        summary = httpx.get(f"{s.url}/api/v1/policy/summary", headers=auth).json()
        assert {k: next(x for x in summary if x["policy"] == "ACME-VULNS")[k] for k in ("policy", "name", "action", "count")} == \
            {"policy": "ACME-VULNS", "name": "no-known-vulnerabilities", "action": "fail-build", "count": 1}
        only = httpx.get(f"{s.url}/api/v1/policy/violations", params={"policy": "ACME-VULNS", "stage": "deploy"},
                         headers=auth).json()
        assert only == []
        bad = httpx.post(f"{s.url}/api/v1/policy/decisions", headers={"Authorization": f"Bearer {ci}"},
                         json={"stage": "later", "source": "scan", "violations": []})
        assert bad.status_code == 422
        assert httpx.post(f"{s.url}/api/v1/policy/decisions", headers={"Authorization": f"Bearer {viewer}"},
                          json={"stage": "build", "source": "scan", "violations": []}).status_code == 403
    finally:
        s.stop()
