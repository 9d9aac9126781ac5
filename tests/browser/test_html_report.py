"""The HTML report of `scan --format html`, opened from disk in the real browser with no server and no
network: its CSP admits only its own script; columns sort on click; text and severity filters hide rows;
each advisory links to its primary reference; CVSS, EPSS, layer/path, fix and the risk factors are shown."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures import vulnmirror

from containerguard.cli.main import main


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("app")
    for name, version in (("lodash", "4.17.15"), ("minimist", "0.0.8"), ("ms", "0.7.1")):
        nm = root / "srv" / "node_modules" / name
        nm.mkdir(parents=True)
        (nm / "package.json").write_text(json.dumps({"name": name, "version": version}))
    out = root.parent / "report.html"
    assert main(["scan", f"dir:{root}", "--db", str(vulnmirror.built_db()), "--scanners", "vuln", "-f", "html",
                 "-o", str(out), "-q"]) == 0
    return out


def _visible_rows(page: Any) -> list[list[str]]:
    return page.eval_on_selector_all(
        "tr.finding:not(.hidden)", "rows => rows.map(r => Array.from(r.cells).map(c => c.dataset.v || ''))")


def test_sort_filter_links_offline(ctx: Any, report: Path) -> None:
    page = ctx.new_page()
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
    page.goto(report.as_uri())
    rows = _visible_rows(page)
    assert len(rows) > 5
    risks = [float(r[8]) for r in rows]
    assert risks == sorted(risks, reverse=True)  # report order: risk first
    page.click("th:has-text('Risk')")  # desc
    page.click("th:has-text('Risk')")  # asc
    risks = [float(r[8]) for r in _visible_rows(page)]
    assert risks == sorted(risks)
    page.click("th:has-text('Package')")
    names = [r[2] for r in _visible_rows(page)]
    assert names == sorted(names, reverse=True)
    page.fill("#filter", "minimist")
    assert {r[2] for r in _visible_rows(page)} == {"minimist"}
    page.fill("#filter", "")
    page.select_option("#minsev", "5")
    assert all(r[0] == "5" for r in _visible_rows(page))
    # links to the primary reference, and the factors of the score shown
    hrefs = page.eval_on_selector_all("tr.finding a", "as => as.map(a => a.href)")
    assert hrefs and all(h.startswith(("https://", "http://")) for h in hrefs)
    assert page.locator("small.why").first.inner_text().startswith("impact ")
    assert page.locator("text=srv/node_modules/lodash/package.json").count() >= 1
    assert ctx.csp_errors == [] and ctx.page_errors == []
