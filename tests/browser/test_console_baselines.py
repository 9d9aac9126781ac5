"""The runtime host page lists the behavioural baselines the host's agent reports (issue 14): workload, image,
mode, entries, deviations, last change; text from the agent is rendered inert; the page passes axe."""

from __future__ import annotations

import uuid

import httpx
from tests.browser.harness import axe_violations
from tests.browser.test_console_runtime import _login


def test_host_page_lists_its_baselines(console, ctx):
    evil = '<img src=x onerror="window.__xss = 7">'
    baselines = [{"workload": "k8s:shop/Deployment/web/app", "image": "cg-test/app:1", "image_id": "", "mode": "protect",
                  "entries": {"process": 4, "file": 3, "network": 2, "syscall": 6}, "deviations": 1,
                  "last_change": "2026-12-01T10:00:00Z"},
                 {"workload": f"sha256:1111/{evil}", "image": evil, "mode": "learn", "locked": True}]
    r = httpx.post(f"{console.url}/api/v1/agent/report", timeout=30,
                   headers={"Authorization": f"Bearer {console.tokens['agent']}"},
                   json={"host": "host-a", "batch_id": f"batch-{uuid.uuid4().hex}", "baselines": baselines})
    assert r.status_code == 200, r.text
    page = ctx.new_page()
    _login(page, console, "viewer", "/runtime/hosts/host-a")
    panel = page.locator("section:has(#h-baselines)")
    rows = panel.locator("tbody tr")
    assert rows.count() == 2
    first = rows.nth(0).inner_text()
    assert "k8s:shop/Deployment/web/app" in first and "protect" in first and "15" in first and "2026-12-01" in first
    assert evil in rows.nth(1).inner_text() and "learn (locked)" in rows.nth(1).inner_text()  # shown, not run
    assert page.evaluate("window.__xss") is None
    assert not axe_violations(page)
