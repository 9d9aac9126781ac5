"""Editing a registry and a notification target in the console, against real components: a registry added
with a wrong password (its sync fails) is corrected on its edit page and its next sync brings the pushed image
in; a webhook target's rule is changed while its secret URL, left empty, is kept (a test notification still
reaches it). Errors show beside their fields; no secret is ever written into a page; the changes are in the
audit log page. An analyst cannot open an edit page, and a forged edit is refused."""

from __future__ import annotations

import re
import time

from tests.browser.harness import axe_violations
from tests.browser.test_console_manage import _receiver, _wait
from tests.browser.test_console_runtime import _login
from tests.fixtures import registry as reg
from tests.fixtures import server as srv

HOOK_TOKEN = "edit-hook-token-77a1"
WRONG = "not-the-password-3x"


def _registry_row(page, name: str):
    return page.locator("#registries tbody tr", has_text=name)


def test_edit_a_registry_and_a_target(console, ctx, tmp_path):
    registry = reg.Registry.start(tmp_path / "registry", auth=True)
    hook = _receiver()
    try:
        pushed = registry.push(f"oci:{srv.image_layout(tmp_path / 'img', 4)}:1", "edits/console-edit:1")
        console.api("POST", "/registries", json={"name": "edit-registry", "url": f"http://{registry.host}",
                                                 "username": reg.USER, "password": WRONG, "repositories": ["nothing/*"],
                                                 "interval": 3600})
        console.api("POST", "/registries/edit-registry/poll")
        target = console.api("POST", "/notifications/targets", json={
            "name": "edit-hook", "kind": "webhook", "url": f"http://127.0.0.1:{hook.port}/in?token={HOOK_TOKEN}",
            "event_types": ["runtime_alert"]})
        page = ctx.new_page()
        _login(page, console, "admin", "/manage")
        _wait(page, lambda: _registry_row(page, "edit-registry").locator("td.reg-status").inner_text().startswith("error"))

        # 1. the edit page shows what is stored, never the password
        _registry_row(page, "edit-registry").get_by_role("link", name="Edit edit-registry").click()
        page.wait_for_selector("#reg-name")
        assert page.input_value("#reg-name") == "edit-registry"
        assert page.input_value("#reg-url") == f"http://{registry.host}"
        assert page.input_value("#reg-user") == reg.USER
        assert page.input_value("#reg-repos") == "nothing/*"
        assert page.input_value("#reg-interval") == "60"
        assert page.input_value("#reg-pass") == "" and WRONG not in page.content()
        assert "A password is stored" in page.inner_text("#reg-pass-help")
        assert not axe_violations(page)

        # 2. a URL with a path: the error beside its field, the typed password not written back, nothing saved
        page.fill("#reg-pass", reg.PASSWORD)
        page.fill("#reg-url", f"http://{registry.host}/v2/")
        page.click("#edit form.stack button[type=submit]")
        page.wait_for_selector("#reg-url-err")
        assert "https://HOST" in page.inner_text("#reg-url-err")
        assert page.get_attribute("#reg-url", "aria-invalid") == "true"
        assert page.input_value("#reg-url") == f"http://{registry.host}/v2/"
        assert page.input_value("#reg-pass") == "" and reg.PASSWORD not in page.content()
        assert not axe_violations(page)
        assert all(a["detail"]["name"] != "edit-registry"
                   for a in console.api("GET", "/audit", params={"action": "registry.update"}))

        # 3. the password and the filter corrected: saved, a sync queued, the pushed image arrives
        page.fill("#reg-url", f"http://{registry.host}")
        page.fill("#reg-pass", reg.PASSWORD)
        page.fill("#reg-interval", "30")
        page.fill("#reg-repos", "edits/*")
        page.click("#edit form.stack button[type=submit]")
        page.wait_for_url(re.compile(r"/manage"))
        flash = page.locator(".flash.ok").first.inner_text()
        assert "edit-registry saved" in flash and "password" in flash and "repositories" in flash and "sync" in flash
        row = _registry_row(page, "edit-registry")
        assert "edits/*" in row.inner_text() and "30 min" in row.inner_text()
        assert reg.PASSWORD not in page.content() and WRONG not in page.content()
        _wait(page, lambda: _registry_row(page, "edit-registry").locator("td.reg-status").inner_text().strip() == "ok")
        assert srv.wait_for(lambda: [i for i in console.api("GET", "/images", params={"limit": 1000})["items"]
                                     if i["name"].startswith(pushed)], 60), "the corrected registry's image was not scanned"

        # 4. the target: its URL (a secret) is not shown and, left empty, is kept; the rule changes
        page.locator("#targets tbody tr", has_text="edit-hook").get_by_role("link", name="Edit edit-hook").click()
        page.wait_for_selector("#tgt-name")
        assert page.input_value("#tgt-url") == "" and HOOK_TOKEN not in page.content()
        assert f"127.0.0.1:{hook.port}/…" in page.inner_text("#tgt-url-help")
        assert page.is_checked("#tgt-ev-runtime_alert") and page.is_checked("#tgt-enabled")
        page.uncheck("#tgt-ev-runtime_alert")
        page.check("#tgt-ev-image_scanned")
        page.select_option("#tgt-sev", "critical")
        page.select_option("#tgt-kind", "syslog")  # a syslog target cannot keep a webhook's URL: refused
        page.click("#edit form.stack button[type=submit]")
        page.wait_for_selector("#tgt-error")
        assert "needs its new URL" in page.inner_text("#tgt-error")
        assert page.is_checked("#tgt-ev-image_scanned") and page.input_value("#tgt-sev") == "critical"
        assert HOOK_TOKEN not in page.content()
        page.select_option("#tgt-kind", "webhook")
        page.fill("#tgt-name", "edit-hook-renamed")
        page.click("#edit form.stack button[type=submit]")
        page.wait_for_url(re.compile(r"/manage"))
        trow = page.locator("#targets tbody tr", has_text="edit-hook-renamed")
        assert "image_scanned" in trow.inner_text() and "from critical" in trow.inner_text()
        assert "runtime_alert" not in trow.inner_text()
        trow.get_by_role("button", name=re.compile("^Send test")).click()
        page.wait_for_selector("#tgt-done:has-text('Test notification queued')")
        deadline = time.time() + 30
        while time.time() < deadline and not hook.state["got"]:
            time.sleep(0.3)
        assert hook.state["got"] and hook.state["got"][0]["path"] == f"/in?token={HOOK_TOKEN}"
        assert not ctx.csp_errors and not ctx.page_errors

        # 5. an analyst: no edit link, the edit page is refused, a forged edit changes nothing
        other = ctx.context.browser.new_context()
        try:
            ap = other.new_page()
            _login(ap, console, "analyst", "/manage")
            assert ap.locator("a:has-text('Edit')").count() == 0
            rid = next(r["id"] for r in console.api("GET", "/registries") if r["name"] == "edit-registry")
            assert ap.goto(f"{console.url}/manage/registries/{rid}/edit").status == 403
            assert ap.goto(f"{console.url}/manage/targets/{target['id']}/edit").status == 403
            ap.goto(f"{console.url}/manage")
            csrf = ap.locator("input[name=csrf_token]").first.get_attribute("value")
            forged = ap.request.post(f"{console.url}/manage/registries/{rid}/edit",
                                     form={"csrf_token": csrf or "", "name": "hijacked", "url": "http://127.0.0.1:1"})
            assert forged.status == 403
        finally:
            other.close()
        assert "hijacked" not in [r["name"] for r in console.api("GET", "/registries")]
        # and an admin's edit without the CSRF token is refused too
        raw = page.request.post(f"{console.url}/manage/registries/{rid}/edit",
                                form={"name": "x", "url": "http://127.0.0.1:1"})
        assert raw.status == 403

        # 6. both edits are in the audit log page, without a secret
        page.goto(f"{console.url}/audit")
        log = page.locator("table").first.inner_text()
        assert "registry.update" in log and "notification_target.update" in log
        assert reg.PASSWORD not in page.content() and HOOK_TOKEN not in page.content()
    finally:
        for r in console.api("GET", "/registries"):
            if r["name"] == "edit-registry":
                console.api("DELETE", "/registries/edit-registry")
        for t in console.api("GET", "/notifications/targets"):
            if t["name"].startswith("edit-hook"):
                console.api("DELETE", f"/notifications/targets/{t['id']}")
        hook.stop()
        registry.stop()


def test_edit_pages_escape_values_and_work_without_javascript(console, ctx):
    """Hostile stored values stay text on the edit pages (no script runs, no attribute breaks out); a missing
    target is the console's 404 page; the form works as a plain post (303 back to /manage, 422 with errors)."""
    evil = '"><img src=x onerror="window.__xss=3">'
    t = console.api("POST", "/notifications/targets", json={"name": f"esc {evil}", "kind": "syslog",
                                                           "url": "udp://127.0.0.1:5599"})
    try:
        page = ctx.new_page()
        _login(page, console, "admin", f"/manage/targets/{t['id']}/edit")
        assert page.input_value("#tgt-name") == f"esc {evil}"
        assert page.input_value("#tgt-url") == "udp://127.0.0.1:5599"  # a syslog address is no secret
        assert page.evaluate("window.__xss") is None and page.locator("#edit img").count() == 0
        assert not axe_violations(page)
        # a plain post: an unknown event type is an error beside its field, the page keeps what was typed
        csrf = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
        bad = page.request.post(f"{console.url}/manage/targets/{t['id']}/edit", max_redirects=0, form={
            "csrf_token": csrf, "name": "esc-2", "kind": "syslog", "url": "", "event_types": "coffee",
            "min_severity": "unknown", "min_priority": "debug", "enabled": "1"})
        assert bad.status == 422 and 'id="tgt-events-err"' in bad.text()
        ok = page.request.post(f"{console.url}/manage/targets/{t['id']}/edit", max_redirects=0, form={
            "csrf_token": csrf, "name": "esc-2", "kind": "syslog", "url": "", "min_severity": "high",
            "min_priority": "debug", "enabled": "1"})
        assert ok.status == 303 and ok.headers["location"] == "/manage#targets"
        stored = next(x for x in console.api("GET", "/notifications/targets") if x["id"] == t["id"])
        assert (stored["name"], stored["url"], stored["min_severity"]) == ("esc-2", "udp://127.0.0.1:5599", "high")
        assert page.goto(f"{console.url}/manage/targets/999999/edit").status == 404
        assert "no notification target" in page.content()
    finally:
        console.api("DELETE", f"/notifications/targets/{t['id']}")
