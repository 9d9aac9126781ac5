"""The security team's daily path through the console in a real browser (Debian chromium driven by
Playwright) against a real server holding real scans of the test images: log in, read the dashboard, open
an image, filter to KEV, accept one finding with an expiry and watch it leave the open list without a
reload, find the change in the audit log, log out. Every page visited passes axe-core (no serious or
critical violation) and trips no Content-Security-Policy report."""

from __future__ import annotations

import datetime as dt

from playwright.sync_api import expect
from tests.browser.harness import axe_violations


def _login(page, url: str, token: str, next_path: str = "/") -> None:
    page.goto(f"{url}{next_path}")
    assert "/login" in page.url
    page.fill("#token", token)
    page.click("form:has(#token) button[type=submit]")
    page.wait_for_url(f"{url}{next_path}")


def _a11y(page) -> None:
    bad = axe_violations(page)
    assert not bad, f"{page.url}: {bad}"


def test_login_dashboard_image_kev_accept_logout(console, ctx):
    page = ctx.new_page()
    _login(page, console.url, console.tokens["analyst"], "/images")
    _a11y(page)

    # the dashboard: top risks with their reasons, counts by severity (SVG) and their figures
    page.click("nav >> text=Dashboard")
    top = page.locator("section[aria-labelledby=h-risks] tbody tr")
    assert top.count() == 10
    first_why = top.first.locator("td.why").inner_text()
    assert "known exploited (KEV)" in first_why and "fix in" in first_why
    desc = page.locator("svg.chart-bars desc").text_content() or ""
    images = console.api("GET", "/images")["items"]
    assert f"critical: {sum(i['critical'] for i in images)}" in desc
    _a11y(page)

    # images list -> the app image -> KEV only
    page.click("nav >> text=Images")
    page.click("text=cg-test/app:1")
    page.select_option("#f-kev", "1")  # applies at once (htmx swaps the findings and pushes the URL)
    page.wait_for_url("**kev=1*")
    rows = page.locator("#findings tbody tr")
    api_kev = [f for f in console.api("GET", f"/images/{console.image_digest('cg-test/app:1')}/findings",
                                      params={"kev": "true", "kind": "vulnerability"})["items"]]
    assert len(api_kev) >= 2
    expect(rows).to_have_count(len(api_kev))
    for i in range(rows.count()):
        assert "KEV" in rows.nth(i).inner_text()
    _a11y(page)

    # accept the first with a reason and an expiry; the row leaves the open list in place (no reload)
    page.evaluate("window.__still_here = 1")
    row = rows.first
    vuln = row.locator("td").nth(1).locator("a").inner_text()
    row.locator("summary").click()
    # bad input first: an expiry in the past is refused with one line, in place, and nothing is written
    row.locator("input[name=reason]").fill("too late")
    row.locator("input[name=expires]").fill((dt.date.today() - dt.timedelta(days=3)).isoformat())
    row.locator("button[type=submit]").click()
    page.locator("#live.error").filter(has_text="in the past").wait_for()
    assert rows.count() == len(api_kev)
    assert not [e for e in console.api("GET", "/exceptions", params={"all": "true"}) if e["reason"] == "too late"]
    expiry = (dt.date.today() + dt.timedelta(days=14)).isoformat()
    row.locator("input[name=reason]").fill("mitigated by the WAF rule 7; fix ships next sprint")
    row.locator("input[name=expires]").fill(expiry)
    row.locator("button[type=submit]").click()
    page.locator("#live").filter(has_text=vuln).wait_for()
    assert rows.count() == len(api_kev) - 1
    assert page.evaluate("window.__still_here") == 1
    assert vuln not in page.locator("#findings").inner_text()

    # the server agrees: an active exception with the reason, author and expiry
    exc = [e for e in console.api("GET", "/exceptions") if e["vuln_id"] == vuln]
    assert exc and exc[0]["kind"] == "risk_accepted" and exc[0]["expires_at"].startswith(expiry)
    assert exc[0]["author"].startswith("analyst-1")
    # and the excepted view lists it with its expiry
    page.select_option("#f-status", "excepted")
    page.wait_for_url("**status=excepted*")
    expect(page.locator("#findings")).to_contain_text(f"until {expiry}")

    # log out: the session is gone, pages send to the login form again
    page.click("header >> text=Log out")
    page.wait_for_url(f"{console.url}/login")
    page.goto(f"{console.url}/")
    assert "/login" in page.url

    # an admin finds the change in the audit log: who, what, the reason
    _login(page, console.url, console.tokens["admin"], "/audit")
    entry = page.locator("main tbody tr", has_text="exception.create").filter(has_text=vuln)
    assert "analyst-1" in entry.inner_text() and "mitigated by the WAF" in entry.inner_text()
    _a11y(page)
    assert not ctx.csp_errors, ctx.csp_errors
    assert not ctx.page_errors, ctx.page_errors


def test_every_page_passes_axe_and_works_from_the_keyboard(console, ctx):
    page = ctx.new_page()
    _login(page, console.url, console.tokens["admin"], "/")
    digest = console.image_digest("cg-test/app:1")
    for path in ("/", "/images", f"/images/{digest}", f"/images/{digest}?status=all&severity=critical", "/runtime",
                 "/audit", "/manage"):
        page.goto(f"{console.url}{path}")
        _a11y(page)
        # keyboard: the first Tab lands on "Skip to content", Enter moves focus to the main region
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content", path
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "content", path
    # every control on the image page is reachable by Tab and shows a focus ring
    page.goto(f"{console.url}/images/{digest}")
    seen = set()
    for _ in range(40):
        page.keyboard.press("Tab")
        info = page.evaluate("""() => { const e = document.activeElement; const s = getComputedStyle(e);
            return [e.tagName, e.id || e.getAttribute('href') || e.textContent.trim().slice(0, 20), s.outlineStyle]; }""")
        seen.add(info[0])
        assert info[2] != "none", info
    assert {"A", "SELECT", "BUTTON"} <= seen
    # the page fits a laptop screen: no horizontal scrolling at 1366 px
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert not ctx.csp_errors, ctx.csp_errors
