"""The browser side of the console tests: Debian's chromium driven by Playwright, failure artefacts, axe.

- ``launch()`` starts /usr/bin/chromium headless (``--no-sandbox`` when root), with background networking,
  component updates and sync off so the browser itself talks to nobody; Playwright never downloads one.
- On a failing test, every open page's screenshot and HTML are written under
  ``$CG_TEST_ARTIFACTS/browser/<test id>/`` (default ``.artifacts/`` in the checkout; CI keeps that folder).
- ``axe_violations(page)`` runs axe-core (installed by scripts/setup into tests/browser/axe/node_modules,
  pinned by its package-lock) in the page and returns the serious and critical violations.
- ``csp_errors`` collects the page's Content-Security-Policy reports from the console: a page of ours that
  trips its own CSP is a bug (and a planted script that tried to run shows up here too).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("CG_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("CG_TEST_ARTIFACTS", ROOT / ".artifacts")) / "browser"
AXE_JS = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-default-apps", "--disable-domain-reliability", "--metrics-recording-only",
]


def launch(playwright: Any) -> Any:
    args = list(CHROMIUM_ARGS)
    if os.geteuid() == 0:
        args.append("--no-sandbox")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)


def safe_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid)[-150:]


def keep_artefacts(context: Any, nodeid: str) -> Path:
    """Screenshot + HTML of every page still open in ``context``; returns the folder."""
    out = ARTIFACTS / safe_name(nodeid)
    out.mkdir(parents=True, exist_ok=True)
    for i, page in enumerate(context.pages):
        try:
            page.screenshot(path=str(out / f"page{i}.png"), full_page=True)
            (out / f"page{i}.html").write_text(page.content(), encoding="utf-8")
            (out / f"page{i}.url").write_text(page.url + "\n", encoding="utf-8")
        except Exception as exc:  # a crashed page: say so instead of hiding the test's own failure
            (out / f"page{i}.error").write_text(repr(exc), encoding="utf-8")
    return out


def axe_violations(page: Any, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
    """axe-core's violations of the given impacts on the current page (WCAG 2.x A/AA rules)."""
    if not AXE_JS.is_file():
        raise FileNotFoundError(f"{AXE_JS} missing: run scripts/setup (npm ci --prefix tests/browser/axe)")
    # evaluated through the DevTools protocol, which the page's CSP does not govern: the page itself
    # still loads no script but its own
    page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;true")
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}, resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "nodes": [n["html"][:200] for n in v["nodes"][:5]]}
        for v in result["violations"] if v.get("impact") in impacts
    ]
