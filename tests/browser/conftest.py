"""Fixtures of the console's browser tests: one chromium per test session, one context per test, and the
screenshot + page HTML of a failing test kept under .artifacts/browser/ (harness.ARTIFACTS)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
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


# --------------------------------------------------------------------------- a real server with real scan data


@dataclass
class Console:
    """A running ``containerguard server`` holding real scans, with one token per role."""

    url: str
    tokens: dict[str, str]
    data_dir: Path
    process: Any
    hostile: dict[str, str] = field(default_factory=dict)

    def api(self, method: str, path: str, role: str = "admin", **kw: Any) -> Any:
        import httpx

        r = httpx.request(method, f"{self.url}/api/v1{path}", headers={"Authorization": f"Bearer {self.tokens[role]}"},
                          timeout=60, **kw)
        assert r.status_code < 400, f"{method} {path}: {r.status_code} {r.text[:300]}"
        return r.json()

    def image_digest(self, name: str) -> str:
        for item in self.api("GET", "/images", params={"limit": 1000})["items"]:
            if item["name"] == name:
                return str(item["digest"])
        raise AssertionError(f"no image {name}")


ADMIN_TOKEN = "cg_console-test-admin-" + "0" * 24
SECRET_KEY = "Y29uc29sZS10ZXN0LWZlcm5ldC1rZXktMzItYnl0ZXM="  # a Fernet key: 32 bytes, urlsafe base64


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    from tests.fixtures import env
    from tests.fixtures import server as srv
    from tests.fixtures.app_image import app_image

    tmp = tmp_path_factory.mktemp("console")
    db = srv.vulndb()
    proc = srv.ServerProcess.server(tmp, "--data-dir", str(tmp / "data"), "--vulndb", str(db),
                                    env={"CONTAINERGUARD_BOOTSTRAP_TOKEN": ADMIN_TOKEN,
                                         # registry credentials and webhook URLs are stored encrypted with it
                                         "CONTAINERGUARD_SECRET_KEY": SECRET_KEY})
    c = Console(proc.url, {"admin": ADMIN_TOKEN}, tmp / "data", proc)
    try:
        for role in ("analyst", "viewer", "agent", "ci"):
            c.tokens[role] = c.api("POST", "/tokens", json={"name": f"{role}-1", "role": role,
                                                             "host": "host-a" if role == "agent" else ""})["token"]
        # the test images through the real ingest path: `containerguard scan ... --server URL --token CI`
        archives = {"cg-test/app:1": env.docker_save(app_image().tag),
                    "cg-test/debian:bookworm": env.docker_save(env.debian_image())}
        for tar in archives.values():
            subprocess.run([sys.executable, "-m", "containerguard.cli.main", "scan", f"docker-archive:{tar}",
                            "--db", str(db), "--server", c.url, "--token", c.tokens["ci"], "-q", "-f", "json",
                            "-o", os.devnull], check=True, capture_output=True, cwd=harness.ROOT)
        yield c
    finally:
        proc.stop()
