"""Fixtures of the console's browser tests: one chromium per test session, one context per test, and the
screenshot + page HTML of a failing test kept under .artifacts/browser/ (harness.ARTIFACTS)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import harness


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.path.exists(harness.CHROMIUM):
        pytest.skip(f"{harness.CHROMIUM} missing: apt-get install chromium (scripts/setup)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = harness.launch(pw)
        yield b
        b.close()


class Watched:
    """A browser context whose pages' CSP violations and uncaught errors are recorded."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.csp_errors: list[str] = []
        self.page_errors: list[str] = []
        context.on("page", self._watch)

    def _watch(self, page: Any) -> None:
        page.on("console", lambda msg: self.csp_errors.append(msg.text)
                if "Content Security Policy" in msg.text else None)
        page.on("pageerror", lambda err: self.page_errors.append(str(err)))

    def new_page(self) -> Any:
        return self.context.new_page()


@pytest.fixture
def ctx(browser: Any, request: pytest.FixtureRequest) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-GB")
    context.set_default_timeout(10_000)
    watched = Watched(context)
    yield watched
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        where = harness.keep_artefacts(context, request.node.nodeid)
        print(f"browser artefacts kept in {where}")
    context.close()
