"""Filters apply as they are changed, in the browser: the images list, an image's findings, the alert
timeline and the policy violations update in place (no reload), the address bar follows (so it can be
shared, and opening it shows the same), and the live alert timeline keeps to the filters just chosen."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.browser.harness import axe_violations
from tests.browser.test_console_runtime import _login, alert, report


def _query(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def test_filters_apply_live_and_keep_the_url(console, ctx):
    page = ctx.new_page()
    _login(page, console, "analyst", "/images")
    page.evaluate("window.__still_here = 1")

    # images: typing in the search box narrows the list after a short pause
    page.fill("#q", "cg-test/app")
    page.wait_for_url("**/images?*q=cg-test%2Fapp*")
    rows = page.locator("#images-results tbody tr")
    assert rows.count() == 1 and "cg-test/app:1" in rows.inner_text()
    page.select_option("#sort", "name")
    page.wait_for_url("**sort=name*")
    assert page.evaluate("window.__still_here") == 1
    assert _query(page)["q"] == ["cg-test/app"]
    assert not axe_violations(page)

    # an image's findings: the severity and KEV filters swap the table only
    digest = console.image_digest("cg-test/app:1")
    page.goto(f"{console.url}/images/{digest}")
    page.evaluate("window.__still_here = 2")
    total = page.locator("#findings tbody tr").count()
    page.select_option("#f-sev", "critical")
    page.wait_for_url("**severity=critical*")
    page.wait_for_function("() => [...document.querySelectorAll('#findings tbody tr')].every("
                           "r => r.innerText.toLowerCase().includes('critical') || r.innerText.includes('No finding'))")
    assert page.evaluate("window.__still_here") == 2
    critical = page.locator("#findings tbody tr").count()
    assert 0 < critical <= total
    shared = page.url
    page.goto(shared)  # the shared address shows the same
    assert page.locator("#f-sev").input_value() == "critical"
    assert page.locator("#findings tbody tr").count() == critical

    # the alert timeline: a filter chosen in place also governs the live stream
    page.goto(f"{console.url}/runtime")
    page.evaluate("window.__still_here = 3")
    page.fill("#a-rule", "Filtered live")
    page.wait_for_url("**rule=Filtered%20live*")
    page.select_option("#a-pri", "error")
    page.wait_for_url("**priority=error*")
    assert page.evaluate("window.__still_here") == 3
    stream = page.locator("#alert-rows").get_attribute("sse-connect") or ""
    assert "rule=Filtered+live" in stream and "priority=error" in stream
    page.wait_for_timeout(1500)  # the new stream is connected
    report(console, alerts=[alert("Filtered live: match", "critical"), alert("Filtered live: too low", "notice"),
                            alert("Another rule entirely", "critical")])
    page.locator("#alert-rows tr", has_text="Filtered live: match").wait_for(timeout=15_000)
    page.wait_for_timeout(2500)
    assert page.locator("#alert-rows tr", has_text="too low").count() == 0
    assert page.locator("#alert-rows tr", has_text="Another rule entirely").count() == 0
    assert page.evaluate("window.__still_here") == 3
    assert not axe_violations(page)

    # policy violations: the stage filter is in the URL
    page.goto(f"{console.url}/policies")
    page.select_option("#p-stage", "deploy")
    page.wait_for_url("**stage=deploy*")
    assert not ctx.csp_errors, ctx.csp_errors
    assert not ctx.page_errors, ctx.page_errors


def test_filters_still_work_without_javascript(console, browser):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        _login(page, console, "viewer", "/images")
        page.fill("#q", "cg-test/debian")
        page.click("form[role=search] button[type=submit]")
        page.wait_for_url("**q=cg-test%2Fdebian*")
        assert "cg-test/debian" in page.locator("#images-results tbody").inner_text()
        assert "cg-test/app" not in page.locator("#images-results tbody").inner_text()
    finally:
        context.close()
