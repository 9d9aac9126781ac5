"""Runtime in the browser: an agent reports its containers and alerts through the real agent endpoint
(``POST /api/v1/agent/report`` with an agent token, as ``containerguard agent --server`` does); the alert
timeline shows new alerts without reloading, honours its filters live, acknowledges in place, renders the
alert's output inert; the alert page shows the process tree; the dashboard and the image page know where
the vulnerable image runs."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

import httpx
from tests.browser.harness import axe_violations

_seq = itertools.count(1)


def report(console, *, alerts=(), containers=None, host="host-a") -> None:
    body = {"host": host, "batch_id": f"batch-{uuid.uuid4().hex}", "agent_version": "test", "alerts": list(alerts)}
    if containers is not None:
        body["containers"] = containers
    r = httpx.post(f"{console.url}/api/v1/agent/report", json=body, timeout=30,
                   headers={"Authorization": f"Bearer {console.tokens['agent']}"})
    assert r.status_code == 200, r.text


def alert(rule: str, priority: str = "critical", output: str = "", **fields) -> dict:
    n = next(_seq)
    return {"uid": f"uid-{uuid.uuid4().hex}", "time": dt.datetime.now(dt.UTC).isoformat(), "rule": rule,
            "priority": priority, "output": output or f"{rule} #{n}", "container_id": "c0ffee" * 2,
            "container_name": "web-1", "image": "cg-test/app:1",
            "output_fields": {"proc.name": "sh", "proc.pid": 4242, "proc.cmdline": "sh -c id",
                              "proc.pname": "node", "proc.ppid": 4200, "proc.aname[2]": "containerd-shim", **fields}}


def _login(page, console, role: str, path: str) -> None:
    page.goto(f"{console.url}{path}")
    page.fill("#token", console.tokens[role])
    page.click("form:has(#token) button[type=submit]")
    page.wait_for_url(f"**{path.split('?')[0]}*")


def test_live_timeline_filters_ack_and_process_tree(console, ctx):
    app_digest = console.image_digest("cg-test/app:1")
    report(console, containers=[{"id": "c0ffee" * 2, "name": "web-1", "image": "cg-test/app:1", "image_id": app_digest,
                                 "privileged": True, "ports": [{"host_port": 8080, "container_port": 80}]}],
           alerts=[alert("Earlier alert", "warning")])
    page = ctx.new_page()
    _login(page, console, "analyst", "/runtime?priority=error")
    assert "Earlier alert" not in page.locator("#alerts").inner_text()   # below the priority filter
    assert not axe_violations(page)
    page.evaluate("window.__still_here = 1")

    # a new critical alert with hostile output arrives while the page is open
    evil = '<img src=x onerror="window.__xss = 4"><script>window.__xss = 5</script>'
    report(console, alerts=[alert("Terminal shell in container", "critical", output=evil),
                            alert("Quiet notice", "notice")])
    row = page.locator("#alert-rows tr", has_text="Terminal shell in container")
    row.wait_for(timeout=15_000)
    assert page.evaluate("window.__still_here") == 1           # no reload
    assert evil in row.inner_text()                             # shown as text
    assert page.evaluate("window.__xss") is None                # never ran
    page.wait_for_timeout(2500)                                 # the notice had time to arrive too
    assert page.locator("#alert-rows tr", has_text="Quiet notice").count() == 0   # filtered out live

    # acknowledge in place; the change is in the audit log
    row.locator("button", has_text="Acknowledge").click()
    page.locator("#alert-rows tr", has_text="Terminal shell in container").filter(
        has_text="acknowledged by analyst-1").wait_for()

    # the alert page: process tree (ancestors first) and fields
    page.locator("#alert-rows tr", has_text="Terminal shell in container").locator("a").click()
    tree = [line.strip("└─ ") for line in page.locator("ul.tree").inner_text().splitlines()]
    assert tree == ["containerd-shim", "node [4200]", "sh [4242] sh -c id"]
    assert not axe_violations(page)

    # where the vulnerable image runs: the image page and the dashboard's KEV panel
    page.goto(f"{console.url}/images/{app_digest}")
    runs = page.locator("section[aria-labelledby=h-runs]").inner_text()
    assert "host-a" in runs and "web-1" in runs and "privileged" in runs and "published port" in runs
    page.goto(f"{console.url}/")
    kev = page.locator("section[aria-labelledby=h-kev]").inner_text()
    assert "KEV" in kev and "host-a" in kev
    assert "host-a" in page.locator("section[aria-labelledby=h-sources]").inner_text()
    assert "critical" in page.locator("section[aria-labelledby=h-alerts]").inner_text()

    page.goto(f"{console.url}/runtime")
    assert page.locator("section[aria-labelledby=h-hosts]").inner_text().count("host-a") == 1
    assert not ctx.csp_errors, ctx.csp_errors
    assert not ctx.page_errors, ctx.page_errors
    audit = console.api("GET", "/audit", params={"limit": 50})
    assert any(e["action"] == "alert.acknowledge" and e["actor"].startswith("analyst-1") for e in audit)
