"""A hostile or broken registry in front of a real Debian docker-registry, polled and notified through the
server's API and jobs (SQLite and PostgreSQL):

* one repository or tag that cannot be read (a tag listed whose manifest is gone, a manifest whose digest
  lies, a tag list the registry refuses, names that are no repository or tag name) costs that repository
  or tag, never the poll: every other image is still scanned, the poll says what failed, and one
  ``scan_failed`` event summarises it; names that are not valid are never put in a request path;
* a push notification naming an invalid repository queues nothing;
* a Bearer realm (or any address a registry's answer points at) that the egress policy refuses gets no
  connection (here a loopback address put on CONTAINERGUARD_EGRESS_DENY: no traffic leaves the machine).
"""

from __future__ import annotations

import http.server
import json
import threading
from typing import Any

import pytest
from tests.fixtures import registry as reg
from tests.fixtures import server as srv

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
BAD_REPOS = ["Team/Upper", "x/../../v2/_catalog", "a b", "team/q?n=1", "-lead", "x" * 300]
BAD_TAGS = ["../../x", "a/b", ".dot", "t" * 200, "sp ace"]


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("hostile-registry")
    r = reg.Registry.start(root / "registry", auth=False)
    try:
        r.push(f"oci:{srv.image_layout(root / 'good', 8)}:1", "team/good:1")
        r.push(f"oci:{srv.image_layout(root / 'other', 9)}:1", "team/other:1")
        yield r
    finally:
        r.stop()


def front(upstream: reg.Registry, *, realm: str = "") -> reg.HttpServer:
    """Forwards to ``upstream`` but lies: extra catalog entries (a repository whose tag list the registry
    refuses, one whose tag's manifest is gone, one whose manifest digest lies, invalid names), extra invalid
    tags on team/good. With ``realm``: every /v2/ request is challenged with that Bearer realm."""
    seen: list[str] = []

    class H(reg.Handler):
        def do_GET(self) -> None:
            seen.append(self.path)
            if realm:
                self._send(401, b"{}", {"WWW-Authenticate": f'Bearer realm="{realm}",service="x"'})
                return
            path = self.path.split("?")[0]
            if path == "/v2/_catalog":
                _s, _h, body = reg._backend_get(upstream, "/v2/_catalog?n=1000", "*/*")
                repos = json.loads(body)["repositories"] + ["gone/app", "team/liar", "team/denied", *BAD_REPOS]
                self._send(200, json.dumps({"repositories": repos}).encode(), {"Content-Type": "application/json"})
            elif path == "/v2/team/good/tags/list":
                self._send(200, json.dumps({"name": "team/good", "tags": ["1", *BAD_TAGS]}).encode())
            elif path in ("/v2/gone/app/tags/list", "/v2/team/liar/tags/list"):
                self._send(200, json.dumps({"tags": ["1"]}).encode())
            elif path == "/v2/gone/app/manifests/1":
                self._send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
            elif path == "/v2/team/denied/tags/list":
                self._send(403, b'{"errors":[{"code":"DENIED"}]}')
            elif path == "/v2/team/liar/manifests/1":
                status, headers, body = reg._backend_get(upstream, "/v2/team/good/manifests/1", OCI_MANIFEST)
                headers["Docker-Content-Digest"] = "sha256:" + "0" * 64
                self._send(status, body, headers)
            else:
                status, headers, body = reg._backend_get(upstream, self.path, self.headers.get("Accept", "*/*"))
                self._send(status, body, headers)

    s = reg.serve(H)
    s.state["seen"] = seen
    return s


def _poll(api, name: str, url: str) -> dict[str, Any]:
    add = api.post("/registries", json={"name": name, "url": url, "interval": 0})
    assert add.status_code == 201, add.text
    assert api.post(f"/registries/{name}/poll").status_code == 202
    api.wait_jobs(180)
    return dict(api.get("/jobs?kind=poll_registry").json()[0])


def test_a_bad_repository_or_tag_costs_itself_not_the_poll(api, upstream):
    f = front(upstream)
    try:
        host = f"127.0.0.1:{f.port}"
        poll = _poll(api, "hostile", f"http://{host}")
        assert poll["status"] == "done", poll
        res = poll["result"]
        assert res["manifests"] == 2 and res["new"] == 2, res  # team/good:1 and team/other:1
        failed = "\n".join(res["failed"])
        assert res["errors"] == len(res["failed"]) == 3 + len(BAD_REPOS) + len(BAD_TAGS), failed
        for what in ("gone/app:1", "manifest unknown", "team/liar:1", "team/denied", "access denied",
                     "not a valid repository name", "not a valid tag"):
            assert what in failed, (what, failed)
        # invalid names never reached a request path
        seen = f.state["seen"]
        assert not [p for p in seen if any(b in p for b in ("Upper", "..", " ", "?n=1/", "-lead", "x" * 300))], seen
        assert not [p for p in seen if "/manifests/" in p and any(t in p for t in ("..", "a/b", ".dot", "sp"))]
        imgs = {n["repository"] for i in api.get("/images?name=team").json()["items"]
                for n in api.get(f"/images/{i['digest']}").json()["names"]}
        assert imgs == {f"{host}/team/good", f"{host}/team/other"}
        regs = api.get("/registries").json()
        assert regs[0]["last_error"].startswith(f"{res['errors']} repositories or tags failed"), regs
        events = api.get("/events", params={"type": "scan_failed"}).json()
        assert len(events) == 1 and f"{res['errors']} repositories or tags failed" in events[0]["summary"], events
        assert any("gone/app:1" in f for f in events[0]["detail"]["failed"]), events
    finally:
        f.stop()


def test_a_notification_naming_an_invalid_repository_queues_nothing(api, upstream, monkeypatch):
    secret = "hostile-notify-secret-0123456789"
    add = api.post("/registries", json={"name": "n", "url": f"http://{upstream.host}", "interval": 0,
                                        "webhook_secret": secret})
    assert add.status_code == 201, add.text
    digest = "sha256:" + "1" * 64
    events = [{"action": "push", "target": {"mediaType": OCI_MANIFEST, "repository": repo, "tag": "1",
                                            "digest": digest}} for repo in BAD_REPOS] + \
             [{"action": "push", "target": {"mediaType": OCI_MANIFEST, "repository": "team/good", "tag": tag,
                                            "digest": digest}} for tag in BAD_TAGS]
    r = api.client.post("/api/v1/registries/n/notifications", json={"events": events},
                        headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code in (200, 202), r.text
    assert r.json()["queued"] == 0, r.json()
    api.wait_jobs(60)
    assert api.get("/jobs?kind=scan_image").json() == []


def test_a_bearer_realm_the_egress_policy_refuses_gets_no_connection(api, upstream, monkeypatch):
    monkeypatch.setenv("CONTAINERGUARD_EGRESS_DENY", "127.0.0.2/32")
    hits: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"token":"t"}')

        def log_message(self, *a: Any) -> None:
            pass

    realm_srv = http.server.ThreadingHTTPServer(("127.0.0.2", 0), Recorder)
    threading.Thread(target=realm_srv.serve_forever, daemon=True).start()
    f = front(upstream, realm=f"http://127.0.0.2:{realm_srv.server_address[1]}/token")
    try:
        poll = _poll(api, "realm", f"http://127.0.0.1:{f.port}")
        assert poll["status"] == "failed", poll
        err = api.get("/registries").json()[0]["last_error"]
        assert "egress policy" in err and "127.0.0.2" in err, err
        assert hits == []
    finally:
        f.stop()
        realm_srv.shutdown()
        realm_srv.server_close()


OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _push_index(r: reg.Registry, repo: str, tag: str, child_repo: str, platforms: int) -> None:
    """An index of ``platforms`` entries (distinct variants) all naming ``child_repo:1``'s manifest."""
    import httpx

    with httpx.Client(base_url=f"http://{r.host}", timeout=30) as c:
        m = c.get(f"/v2/{child_repo}/manifests/1", headers={"Accept": OCI_MANIFEST})
        body, digest = m.content, m.headers["Docker-Content-Digest"]
        doc = json.loads(body)
        for d in [doc["config"]["digest"], *(x["digest"] for x in doc["layers"])]:
            assert c.post(f"/v2/{repo}/blobs/uploads/", params={"mount": d, "from": child_repo}).status_code == 201
        assert c.put(f"/v2/{repo}/manifests/1", content=body, headers={"Content-Type": OCI_MANIFEST}).status_code == 201
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(body),
             "platform": {"architecture": "arm", "os": "linux", "variant": f"v{i}"}} for i in range(platforms)]}
        put = c.put(f"/v2/{repo}/manifests/{tag}", content=json.dumps(index).encode(), headers={"Content-Type": OCI_INDEX})
        assert put.status_code == 201, put.text


def test_an_index_of_thousands_of_platforms_queues_nothing_and_costs_only_its_tag(api, upstream):
    _push_index(upstream, "wide/many", "wide", "team/good", 2000)
    _push_index(upstream, "wide/few", "few", "team/good", 3)
    add = api.post("/registries", json={"name": "wide", "url": f"http://{upstream.host}", "interval": 0,
                                        "repositories": ["wide/*"]})
    assert add.status_code == 201, add.text
    assert api.post("/registries/wide/poll").status_code == 202
    api.wait_jobs(180)
    poll = api.get("/jobs?kind=poll_registry").json()[0]
    assert poll["status"] == "done", poll
    res = poll["result"]
    assert res["errors"] == 1 and "wide/many:wide" in res["failed"][0] and "2000 platform images" in res["failed"][0]
    scans = api.get("/jobs?kind=scan_image").json()
    assert not [j for j in scans if "repository=wide/many,tag=wide" in j["key"]], len(scans)
    # the small index and the plain tags beside it were polled: 3 platform images of one manifest, and :1 twice.
    # All five name one digest: on PostgreSQL the worker may finish the first scan of it while the poll still
    # runs, and a later reference is then recorded without another scan job (SQLite runs the jobs after the poll)
    assert res["manifests"] == 5 and 1 <= len(scans) <= 5 and res["new"] == len(scans), \
        (res, [j["key"] for j in scans])
