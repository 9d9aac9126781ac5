"""`containerguard server` as users run it (a real process on a port, SQLite by default), `token`, and
`scan --server --token` uploading to it and applying the server's exceptions."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys

import httpx
from tests.fixtures import server as srv

ROOT = srv.ROOT


def cg(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "containerguard.cli.main", *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, **(env or {})}, timeout=300)


def test_server_zero_config_token_and_scan_upload(tmp_path):
    data = tmp_path / "data"
    home = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    s = srv.ServerProcess.server(tmp_path, "--vulndb", str(srv.vulndb()), env=home)
    try:
        line = s.first_line()
        assert line.startswith("admin token (shown once, store it now): cg_"), line
        admin = line.rsplit(" ", 1)[1].strip()
        assert (tmp_path / "xdg" / "containerguard" / "server" / "containerguard.sqlite").exists()
        # token management through the CLI
        r = cg("token", "create", "ci-pipeline", "--role", "ci", "--server", s.url, "--token", admin)
        assert r.returncode == 0, r.stderr
        ci = r.stdout.strip()
        assert ci.startswith("cg_")
        r = cg("token", "list", "--json", env={"CONTAINERGUARD_SERVER": s.url, "CONTAINERGUARD_TOKEN": admin})
        assert r.returncode == 0, r.stderr
        listed = json.loads(r.stdout)
        assert {t["name"] for t in listed} == {"bootstrap-admin", "ci-pipeline"}
        assert all("token" not in t for t in listed)
        # a CI scan uploads
        layout = srv.image_layout(tmp_path / "layout", 1)
        r = cg("scan", f"oci:{layout}:1", "--db", str(srv.vulndb()), "--format", "json", "-o", str(tmp_path / "r.json"),
               "--server", s.url, "--token", ci)
        assert r.returncode == 0, r.stderr
        assert "uploaded to" in r.stderr
        report = json.loads((tmp_path / "r.json").read_text())
        digest = report["image"]["id"]
        images = httpx.get(f"{s.url}/api/v1/images", headers={"Authorization": f"Bearer {admin}"}).json()
        assert [i["digest"] for i in images["items"]] == [digest]
        # an exception on the server applies to the next CI scan (and its gate)
        vuln = next(f for f in report["findings"] if f["kind"] == "vulnerability")
        httpx.post(f"{s.url}/api/v1/exceptions", headers={"Authorization": f"Bearer {admin}"},
                   json={"vuln_id": vuln["id"], "scope": "image", "image_digest": digest, "kind": "risk_accepted",
                         "reason": "mitigated by WAF"}).raise_for_status()
        r = cg("scan", f"oci:{layout}:1", "--db", str(srv.vulndb()), "--format", "json", "-o", str(tmp_path / "r2.json"),
               "--server", s.url, "--token", ci)
        assert r.returncode == 0, r.stderr
        again = json.loads((tmp_path / "r2.json").read_text())
        assert vuln["id"] not in {f["id"] for f in again["findings"]}
        assert vuln["id"] in {f["id"] for f in again["suppressed"]}
        # a viewer token cannot create tokens: one-line error, exit 2
        r = cg("token", "create", "x", "--server", s.url, "--token", ci)
        assert r.returncode == 2 and r.stderr.startswith("error: server answered 403")
        # a server that is down: retried, then a one-line error
        r = cg("token", "list", "--server", "http://127.0.0.1:9", "--token", admin)
        assert r.returncode == 2 and r.stderr.startswith("error: http://127.0.0.1:9: ConnectError")
    finally:
        s.stop()
    # the second start prints no token
    s = srv.ServerProcess.server(tmp_path, env=home)
    try:
        assert httpx.get(f"{s.url}/readyz").json()["status"] == "ready"
    finally:
        s.stop()
        assert s.stdout == [] or not any("admin token" in x for x in s.stdout)
    del data


def test_server_bootstrap_token_from_environment_and_tls(tmp_path):
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    boot = "cg_" + "b" * 40
    port = srv.reg.free_port()
    sp = srv.ServerProcess(["server", "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp_path / "d"),
                            "--tls-cert", str(cert), "--tls-key", str(key)],
                           {**__import__("os").environ, "CONTAINERGUARD_BOOTSTRAP_TOKEN": boot}, port,
                           tmp_path / "tls.log")
    sp.start()
    try:
        import time

        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                r = httpx.get(f"https://127.0.0.1:{port}/api/v1/tokens", headers={"Authorization": f"Bearer {boot}"},
                              verify=ssl.create_default_context(cafile=cert))
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert r.status_code == 200 and r.json()[0]["name"] == "bootstrap-admin"
        # the CLI trusts the server's certificate through SSL_CERT_FILE, and refuses it without
        https = {"CONTAINERGUARD_SERVER": f"https://127.0.0.1:{port}", "CONTAINERGUARD_TOKEN": boot}
        listed = cg("token", "list", "--json", env={**https, "SSL_CERT_FILE": str(cert)})
        assert listed.returncode == 0 and "bootstrap-admin" in listed.stdout, listed.stderr
        untrusted = cg("token", "list", "--json", env={**https, "SSL_CERT_FILE": ""})
        assert untrusted.returncode == 2 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr, untrusted.stderr
        missing = cg("token", "list", "--json", env={**https, "SSL_CERT_FILE": str(tmp_path / "nope.pem")})
        assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "nope.pem" in missing.stderr, missing.stderr
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=3)
            plain_ok = True
        except httpx.HTTPError:
            plain_ok = False
        assert not plain_ok
    finally:
        sp.stop()
