"""``--policy-from-server``'s fetcher (policy/remote.py) against a bundle endpoint on loopback that answers as the
server does (ETag, If-None-Match as a list): what names a file names the cache's ``current`` copy, an
unchanged set is a 304, a set that does not load is refused once and not downloaded again."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from containerguard.policy.loader import LivePolicies
from containerguard.policy.remote import ServerPolicies

EXPIRED = """\
id: ACME-NO-LATEST
name: no-latest-tag
description: Images are run by version.
severity: high
condition: image.tag == "latest"
exclusions:
  - reason: vendor image
    images: [vendor/*]
    expires: 2020-01-31
enforcement: {deploy: deny}
"""


class Bundles:
    def __init__(self) -> None:
        self.revision, self.files = "", []  # type: tuple[str, list[dict[str, str]]]
        self.answers: list[int] = []
        self.if_none_match: list[str] = []
        bundles = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                inm = self.headers.get("If-None-Match") or ""
                bundles.if_none_match.append(inm)
                if bundles.revision in [t.strip().strip('"') for t in inm.split(",")]:
                    bundles.answers.append(304)
                    self.send_response(304)
                    self.end_headers()
                    return
                body = json.dumps({"revision": bundles.revision, "files": bundles.files}).encode()
                bundles.answers.append(200)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def set(self, revision: str, name: str, text: str) -> None:
        self.revision, self.files = revision, [{"name": name, "text": text}]


@pytest.fixture
def bundles() -> Iterator[Bundles]:
    b = Bundles()
    yield b
    b.httpd.shutdown()


def test_fetch_names_the_final_copy_then_304_and_a_refused_set_once(bundles: Bundles, tmp_path: Path) -> None:
    local = tmp_path / "local"
    local.mkdir()
    (local / "own.yaml").write_text(EXPIRED.replace("ACME-NO-LATEST", "ACME-OWN"))
    live = LivePolicies([local])
    bundles.set("r1", "acme.yaml", EXPIRED)
    sp = ServerPolicies(bundles.url, "cg_t", tmp_path / "cache", live, interval=3600)
    try:
        assert sp.refresh() is True and sp.revision == "r1"
        assert "ACME-NO-LATEST" in {p.id for p in live.current.policies}
        expired = [w for w in live.current.load_warnings if "ACME-NO-LATEST" in w]
        assert expired and all(str(tmp_path / "cache" / "current" / "acme.yaml") in w for w in expired), expired
        assert not list((tmp_path / "cache").glob(".new-*"))
        assert sp.refresh() is False and bundles.answers[-1] == 304 and bundles.if_none_match[-1] == '"r1"'
        # the server's next set collides with this plugin's own policy: refused, the good one stays
        bundles.set("r2", "own.yaml", EXPIRED.replace("ACME-NO-LATEST", "ACME-OWN"))
        assert sp.refresh() is False and bundles.answers[-1] == 200
        assert sp.revision == "r1" and "duplicate policy id" in sp.last_error
        assert "ACME-NO-LATEST" in {p.id for p in live.current.policies}
        assert sp.refresh() is False and bundles.answers[-1] == 304  # not downloaded (nor loaded) again
        assert bundles.if_none_match[-1] == '"r1", "r2"'
        # a later good set comes in
        bundles.set("r3", "acme.yaml", EXPIRED.replace("vendor/*", "other/*"))
        assert sp.refresh() is True and sp.revision == "r3"
    finally:
        sp.close()
