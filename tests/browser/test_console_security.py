"""The console's web security through a real server: CSRF on every form, no open redirect after login,
cookie flags (and ``__Host-`` + Secure under TLS), the CSP header, revoked tokens and disabled users logged
out at their next request, password login by users made with ``containerguard user create``, and hostile
text (``<script>``, ``"><img onerror=...>``) in package names and advisory titles rendered inert in a real
browser."""

from __future__ import annotations

import json
import re
import ssl
import subprocess
import sys
from urllib.parse import urlsplit

import httpx
import pytest
from tests.browser import harness
from tests.browser.web import csrf_of, login

SCRIPT = "<script>window.__xss = 1</script>"
IMG = '"><img src=x onerror="window.__xss = 2">'
SVG = "'><svg onload=\"window.__xss = 3\">"


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "containerguard.cli.main", *args], input=stdin, text=True,
                          capture_output=True, cwd=harness.ROOT, timeout=120)


@pytest.fixture(scope="module")
def hostile_image(console, tmp_path_factory) -> str:
    """A real scan of the Debian test image, uploaded as a CI job would, after someone planted markup in
    package names and advisory titles (the image's dpkg database and a feed are both outside our control)."""
    from tests.fixtures import env
    from tests.fixtures import server as srv

    out = tmp_path_factory.mktemp("xss") / "scan.json"
    tar = env.docker_save(env.debian_image())
    res = _cli("scan", f"docker-archive:{tar}", "--db", str(srv.vulndb()), "-q", "-f", "json", "-o", str(out))
    assert res.returncode in (0, 1), res.stderr
    doc = json.loads(out.read_text())
    vulns = [f for f in doc["findings"] if f["kind"] == "vulnerability" and f.get("package")][:3]
    assert len(vulns) == 3
    for f, evil in zip(vulns, (SCRIPT, IMG, SVG), strict=True):
        f["title"] = f"{evil} title"
        f["package"]["name"] = f"{evil}pkg"
    doc["image"]["id"] = "sha256:" + "e" * 64
    r = httpx.post(f"{console.url}/api/v1/scans", params={"name": f"xss/{IMG}:1"},
                   headers={"Authorization": f"Bearer {console.tokens['ci']}", "Content-Type": "application/json"},
                   content=json.dumps(doc), timeout=60)
    assert r.status_code == 201, r.text
    return str(r.json()["digest"])


def test_planted_markup_is_shown_as_text_and_never_runs(console, ctx, hostile_image):
    page = ctx.new_page()
    page.goto(f"{console.url}/login")
    page.fill("#token", console.tokens["analyst"])
    page.click("form:has(#token) button[type=submit]")
    for path in ("/", "/images?q=xss", f"/images/{hostile_image}?status=all", f"/images/{hostile_image}?type=deb"):
        page.goto(f"{console.url}{path}")
        page.wait_for_load_state("load")
        assert page.evaluate("window.__xss") is None, path
        assert page.locator("main img, main svg[onload], main script").count() == 0, path
    page.goto(f"{console.url}/images/{hostile_image}?status=all")
    text = page.locator("#findings").inner_text()
    assert SCRIPT in text and IMG in text and SVG in text   # visible, as the literal text it is
    page.goto(f"{console.url}/images?q=xss")
    assert f"xss/{IMG}:1" in page.locator("main table").inner_text()
    assert not ctx.page_errors, ctx.page_errors


def _finding_form(client: httpx.Client, digest: str) -> tuple[str, str]:
    page = client.get(f"/images/{digest}?severity=critical")
    fid = re.search(r'action="/findings/(\d+)/accept"', page.text)
    assert fid, "no accept form"
    return fid.group(1), csrf_of(page.text)


def test_every_state_change_needs_the_session_csrf_token(console):
    digest = console.image_digest("cg-test/debian:bookworm")
    client, _ = login(console.url, console.tokens["analyst"])
    other, _ = login(console.url, console.tokens["admin"])
    fid, token = _finding_form(client, console.image_digest("cg-test/app:1"))
    before = console.api("GET", "/exceptions", params={"all": "true"})
    body = {"reason": "csrf probe", "kind": "risk_accepted", "scope": "finding"}
    _, other_token = _finding_form(other, console.image_digest("cg-test/app:1"))
    for data, headers in (
        (body, {}),                                               # no token
        ({**body, "csrf_token": "0" * 64}, {}),                    # a made-up token
        ({**body, "csrf_token": other_token}, {}),                 # another session's token
        ({**body, "csrf_token": token}, {"Origin": "http://evil.example"}),          # cross-site
        ({**body, "csrf_token": token}, {"Sec-Fetch-Site": "cross-site"}),
    ):
        r = client.post(f"/findings/{fid}/accept", data=data, headers=headers)
        assert r.status_code == 403, (data.keys(), headers, r.status_code)
    for path in ("/logout", "/manage/tokens", f"/images/{digest}/rescan", "/runtime/alerts/1/ack"):
        r = other.post(path, data={"name": "x", "role": "admin"})
        assert r.status_code == 403, path
    assert console.api("GET", "/exceptions", params={"all": "true"}) == before
    # the session is still alive after the refused logout without a token
    assert other.get("/").status_code == 200


@pytest.mark.parametrize("nxt", ["//evil.example/", "https://evil.example/", "/\\evil.example", "http:evil.example",
                                 "javascript:alert(1)", "/%0d%0aLocation:%20http://evil.example", " //evil.example"])
def test_no_open_redirect_after_login(console, nxt):
    c = httpx.Client(base_url=console.url, follow_redirects=False)
    page = c.get("/login", params={"next": nxt})
    r = c.post("/login", data={"csrf_token": csrf_of(page.text), "token": console.tokens["viewer"], "next": nxt})
    assert r.status_code == 303
    loc = r.headers["location"]
    parts = urlsplit(loc)
    assert not parts.scheme and not parts.netloc and loc.startswith("/") and not loc.startswith("//")
    assert "\\" not in loc and "\r" not in loc and "\n" not in loc
    if not nxt.startswith("/%"):
        assert loc == "/", loc


def test_login_keeps_a_local_next(console):
    c = httpx.Client(base_url=console.url, follow_redirects=False)
    r = c.get("/images?q=debian")
    assert r.status_code == 303
    page = c.get(r.headers["location"])
    nxt = re.search(r'name="next" value="([^"]+)"', page.text).group(1)
    r = c.post("/login", data={"csrf_token": csrf_of(page.text), "token": console.tokens["viewer"], "next": nxt})
    assert r.headers["location"] == "/images?q=debian"


def test_login_form_refuses_a_missing_double_submit(console):
    c = httpx.Client(base_url=console.url, follow_redirects=False)
    r = c.post("/login", data={"csrf_token": "x" * 32, "token": console.tokens["viewer"]})
    assert r.status_code == 400 and "cg_session" not in r.headers.get("set-cookie", "")


def test_cookie_flags_and_headers(console):
    c, r = login(console.url, console.tokens["viewer"])
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("cg_session=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback: the TLS test checks Secure
    page = c.get("/")
    csp = page.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    assert re.search(r"<script(?![^>]*\bsrc=)", page.text) is None, "inline script on the page"
    assert " style=" not in page.text and "<style" not in page.text


def test_a_revoked_token_ends_its_sessions(console):
    created = console.api("POST", "/tokens", json={"name": "short-lived", "role": "viewer"})
    c, r = login(console.url, created["token"])
    assert r.status_code == 303 and c.get("/").status_code == 200
    console.api("DELETE", f"/tokens/{created['id']}")
    r = c.get("/")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    _, again = login(console.url, created["token"])
    assert again.status_code == 401


def test_users_log_in_with_a_password_and_are_logged_out_when_disabled(console):
    env_args = ["--server", console.url, "--token", console.tokens["admin"]]
    res = _cli("user", "create", "carol", "--role", "analyst", "--password-stdin", *env_args,
               stdin="correct horse battery staple\n")
    assert res.returncode == 0, res.stderr
    bad = _cli("user", "create", "dave", "--role", "analyst", "--password-stdin", *env_args, stdin="short\n")
    assert bad.returncode == 2 and "12 characters" in bad.stderr
    _, wrong = login(console.url, username="carol", password="wrong horse battery staple")
    assert wrong.status_code == 401 and "cg_session" not in wrong.headers.get("set-cookie", "")
    c, ok = login(console.url, username="carol", password="correct horse battery staple")
    assert ok.status_code == 303
    page = c.get("/")
    assert page.status_code == 200 and "carol" in page.text and "(analyst)" in page.text
    res = _cli("user", "disable", "carol", *env_args)
    assert res.returncode == 0, res.stderr
    assert c.get("/").status_code == 303
    _, again = login(console.url, username="carol", password="correct horse battery staple")
    assert again.status_code == 401


def test_under_tls_the_cookie_is_secure_and_host_bound(tmp_path):
    from tests.fixtures import server as srv

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    token = "cg_console-tls-admin-" + "1" * 24
    port = srv.reg.free_port()
    proc = srv.ServerProcess(["server", "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp_path / "d"),
                              "--tls-cert", str(cert), "--tls-key", str(key)],
                             {**__import__("os").environ, "CONTAINERGUARD_BOOTSTRAP_TOKEN": token}, port,
                             tmp_path / "server.log")
    proc.start()
    url = f"https://127.0.0.1:{port}"
    ctx_tls = ssl.create_default_context(cafile=str(cert))
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{url}/readyz", verify=ctx_tls, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            import time

            time.sleep(0.1)
        c = httpx.Client(base_url=url, verify=ctx_tls, follow_redirects=False)
        page = c.get("/login")
        assert page.headers["set-cookie"].startswith("__Host-cg_login_csrf=")
        r = c.post("/login", data={"csrf_token": csrf_of(page.text), "token": token, "next": "/"})
        cookie = r.headers["set-cookie"]
        assert r.status_code == 303 and cookie.startswith("__Host-cg_session=")
        assert "Secure" in cookie and "HttpOnly" in cookie and "Path=/" in cookie and "Domain" not in cookie
        assert c.get("/").status_code == 200
        assert "max-age" in c.get("/").headers["strict-transport-security"]
        # repeated failures from one address are throttled (the API's limiter, shared)
        codes = []
        anon = httpx.Client(base_url=url, verify=ctx_tls, follow_redirects=False)
        for _ in range(25):
            page = anon.get("/login")
            codes.append(anon.post("/login", data={"csrf_token": csrf_of(page.text), "token": "cg_wrong" + "x" * 30}).status_code)
        assert codes[0] == 401 and codes[-1] == 429
    finally:
        proc.stop()
