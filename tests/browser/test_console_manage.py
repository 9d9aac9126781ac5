"""Manage from the console, in the browser, against real components: an admin adds a registry pointed at a
real docker-registry (htpasswd auth) and sees its first sync bring in the image pushed there; adds a webhook
target pointed at a local receiver and sees a test notification arrive; a form that does not validate shows
its errors beside the fields without echoing secrets; hostile names stay text; every change is in the audit
log page; both are removed again. An analyst sees the lists but no form, and a forged post is refused."""

from __future__ import annotations

import http.server
import json
import re
import time

import httpx
from tests.browser.harness import axe_violations
from tests.browser.test_console_runtime import _login
from tests.fixtures import registry as reg
from tests.fixtures import server as srv

EVIL = '<img src=x onerror="window.__xss = 1">'
EVIL_SCRIPT = "<script>window.__xss = 2</script>"
HOOK_SECRET = "hook-token-0f3c9a"


def _receiver() -> reg.HttpServer:
    got: list[dict[str, object]] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            got.append({"path": self.path, "body": json.loads(body or b"{}")})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = reg.serve(Hook)
    server.state["got"] = got
    return server


def _wait(page, check, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        page.wait_for_timeout(1000)
        page.reload()
    assert check()


def test_add_sync_notify_remove_registry_and_target(console, ctx, tmp_path):
    registry = reg.Registry.start(tmp_path / "registry", auth=True)
    hook = _receiver()
    try:
        layout = srv.image_layout(tmp_path / "img", 7)
        pushed = registry.push(f"oci:{layout}:1", "team/console-sync:1")
        page = ctx.new_page()
        page.on("dialog", lambda d: d.accept())  # the remove buttons ask first
        _login(page, console, "admin", "/manage")
        assert not axe_violations(page)

        # 1. a form that does not validate: errors beside the fields, the password not written back
        page.fill("#reg-name", "local-registry")
        page.fill("#reg-url", f"ftp://{registry.host}")
        page.fill("#reg-pass", reg.PASSWORD)
        page.click("#registries form.stack button[type=submit]")
        page.wait_for_selector("#reg-url-err")
        assert "https://HOST" in page.inner_text("#reg-url-err")
        assert page.get_attribute("#reg-url", "aria-invalid") == "true"
        assert "reg-url-err" in (page.get_attribute("#reg-url", "aria-describedby") or "")
        assert page.input_value("#reg-name") == "local-registry"  # what was typed stays ...
        assert page.input_value("#reg-pass") == ""                  # ... but never a secret
        assert reg.PASSWORD not in page.content()
        assert page.url.endswith("/manage")  # swapped in place, no reload
        assert not axe_violations(page)

        # 2. the registry, with credentials and a repository filter: its first sync brings the pushed image in
        page.fill("#reg-name", f"local-registry{EVIL_SCRIPT}")
        page.fill("#reg-url", f"http://{registry.host}")
        page.fill("#reg-user", reg.USER)
        page.fill("#reg-pass", reg.PASSWORD)
        page.fill("#reg-repos", "team/*")
        page.fill("#reg-interval", "1")
        page.click("#registries form.stack button[type=submit]")
        page.wait_for_selector("#reg-done")
        assert f"local-registry{EVIL_SCRIPT} added" in page.inner_text("#reg-done")
        row = page.locator("#registries tbody tr", has_text="local-registry")
        assert "team/*" in row.inner_text() and "1 min" in row.inner_text() and reg.USER in row.inner_text()
        assert reg.PASSWORD not in page.content()
        _wait(page, lambda: page.locator("#registries tbody tr", has_text="local-registry")
              .locator("td.reg-status").inner_text().strip() == "ok")
        # the poll queued a scan of the pushed image: it arrives through the registry path
        synced = srv.wait_for(lambda: [i for i in console.api("GET", "/images", params={"limit": 1000})["items"]
                                       if i["name"].startswith(pushed)], 60)
        assert synced, "the registry's image was not scanned"

        # 3. a webhook target (its URL carries a token): shown redacted; a test notification arrives
        page.fill("#tgt-name", f"hook {EVIL}")
        page.select_option("#tgt-kind", "webhook")
        page.fill("#tgt-url", f"http://127.0.0.1:{hook.port}/hook?token={HOOK_SECRET}")
        page.check("#tgt-ev-runtime_alert")
        page.select_option("#tgt-sev", "high")
        page.click("#targets form.stack button[type=submit]")
        page.wait_for_selector("#tgt-done")
        target = page.locator("#targets tbody tr", has_text="hook <img")
        assert f"hook {EVIL}" in target.inner_text()
        assert "runtime_alert" in target.inner_text() and "from high" in target.inner_text()
        assert HOOK_SECRET not in page.content()
        assert page.evaluate("window.__xss") is None and page.locator("#targets img, #registries script").count() == 0
        target.get_by_role("button", name=re.compile("^Send test")).click()
        page.wait_for_selector("#tgt-done:has-text('Test notification queued')")
        deadline = time.time() + 30
        while time.time() < deadline and not hook.state["got"]:
            time.sleep(0.3)
        assert hook.state["got"], "no test notification reached the receiver"
        first = hook.state["got"][0]
        assert first["path"] == f"/hook?token={HOOK_SECRET}"
        assert "test notification" in json.dumps(first["body"])
        _wait(page, lambda: "1 sent" in page.locator("#targets tbody tr", has_text="hook <img")
              .locator("td.deliveries").inner_text(), 20)
        assert not axe_violations(page)
        assert not ctx.csp_errors and not ctx.page_errors

        # 4. an analyst sees both but no form, and a forged post is refused
        other = ctx.context.browser.new_context()
        try:
            ap = other.new_page()
            _login(ap, console, "analyst", "/manage")
            assert ap.locator("#registries tbody tr", has_text="local-registry").count() == 1
            assert ap.locator("#reg-name, #tgt-name, button:has-text('Remove')").count() == 0
            csrf = ap.locator("input[name=csrf_token]").first.get_attribute("value")
            forged = ap.request.post(f"{console.url}/manage/registries",
                                     form={"csrf_token": csrf or "", "name": "x", "url": "http://127.0.0.1:1"})
            assert forged.status == 403
        finally:
            other.close()

        # 5. remove both, and find every change in the audit log page
        page.locator("#targets tbody tr", has_text="hook <img").get_by_role("button", name=re.compile("^Remove")).click()
        page.wait_for_selector("#tgt-done:has-text('removed')")
        assert page.locator("#targets tbody tr", has_text="hook <img").count() == 0
        page.locator("#registries tbody tr", has_text="local-registry").get_by_role("button", name=re.compile("^Remove")).click()
        page.wait_for_selector("#reg-done:has-text('removed')")
        assert page.locator("#registries tbody tr", has_text="local-registry").count() == 0
        assert "local-registry" not in [r["name"] for r in console.api("GET", "/registries")]
        page.goto(f"{console.url}/audit")
        log = page.locator("table").first.inner_text()
        for action in ("registry.add", "registry.remove", "notification_target.create", "notification_target.test",
                       "notification_target.delete"):
            assert action in log, action
        assert reg.PASSWORD not in page.content() and HOOK_SECRET not in page.content()
        assert page.evaluate("window.__xss") is None
    finally:
        hook.stop()
        registry.stop()


def test_manage_forms_work_without_javascript(console):
    """The same forms as plain HTML posts: a redirect back with a status line on success, 422 with the
    errors on the page otherwise."""
    c = httpx.Client(base_url=console.url, follow_redirects=False, timeout=30)
    login = c.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
    assert c.post("/login", data={"csrf_token": csrf, "token": console.tokens["admin"], "next": "/manage"}).status_code == 303
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/manage").text).group(1)
    bad = c.post("/manage/targets", data={"csrf_token": csrf, "name": "", "kind": "carrier-pigeon", "url": "",
                                          "min_severity": "dire", "min_priority": "debug"})
    assert bad.status_code == 422
    for field in ("tgt-name-err", "tgt-kind-err", "tgt-url-err", "tgt-sev-err"):
        assert f'id="{field}"' in bad.text, field
    secret_url = "https://127.0.0.1:9/slack/T000/B000/XXXXSECRET"
    dup = c.post("/manage/targets", data={"csrf_token": csrf, "name": "nojs", "kind": "slack", "url": secret_url,
                                          "min_severity": "unknown", "min_priority": "debug"})
    assert dup.status_code == 303 and dup.headers["location"] == "/manage#targets"
    again = c.post("/manage/targets", data={"csrf_token": csrf, "name": "nojs", "kind": "slack", "url": secret_url,
                                            "min_severity": "unknown", "min_priority": "debug"})
    assert again.status_code == 422 and "exists" in again.text and "XXXXSECRET" not in again.text
    listed = c.get("/manage").text
    assert "XXXXSECRET" not in listed and "nojs" in listed
    tid = next(t["id"] for t in console.api("GET", "/notifications/targets") if t["name"] == "nojs")
    gone = c.post(f"/manage/targets/{tid}/remove", data={"csrf_token": csrf})
    assert gone.status_code == 303
    assert "nojs" not in [t["name"] for t in console.api("GET", "/notifications/targets")]
    # without the CSRF token nothing changes
    assert c.post("/manage/registries", data={"name": "x", "url": "http://127.0.0.1:1"}).status_code == 403


def test_a_syslog_target_from_the_keyboard_alone(console, ctx):
    """Tab order follows the form; a syslog CEF target is added and removed without the mouse; its address
    (no secret) is listed as typed; the focus ring shows on every control passed."""
    page = ctx.new_page()
    page.on("dialog", lambda d: d.accept())
    _login(page, console, "admin", "/manage")
    page.focus("#tgt-name")
    page.keyboard.type("siem-cef")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "tgt-kind"
    page.keyboard.press("End")  # the last kind: syslog
    assert page.input_value("#tgt-kind") == "syslog"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "tgt-url"
    page.keyboard.type("udp://127.0.0.1:5514")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "tgt-ev-new_finding"
    page.keyboard.press("Space")
    rings = []
    for _ in range(12):  # on through the other boxes and selects to the submit button
        page.keyboard.press("Tab")
        rings.append(page.evaluate("getComputedStyle(document.activeElement).outlineStyle"))
        if page.evaluate("document.activeElement.textContent") == "Add target":
            break
    assert page.evaluate("document.activeElement.textContent") == "Add target"
    assert "none" not in rings
    page.keyboard.press("Enter")
    page.wait_for_selector("#tgt-done")
    row = page.locator("#targets tbody tr", has_text="siem-cef")
    assert "udp://127.0.0.1:5514" in row.inner_text() and "new_finding" in row.inner_text()
    row.get_by_role("button", name=re.compile("^Remove")).focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#tgt-done:has-text('removed')")
    assert page.locator("#targets tbody tr", has_text="siem-cef").count() == 0
    assert not axe_violations(page)
