"""Registry watching against Debian's docker-registry with notifications pointed at a real server process:
push -> scanned and visible through the API within 10 s; a second tag of the same digest is not pulled
again; polling walks catalog/tags/digests and pulls nothing known; credentials are encrypted at rest."""

from __future__ import annotations

import sqlite3
import time

import httpx
from cryptography.fernet import Fernet
from tests.fixtures import registry as reg
from tests.fixtures import server as srv

SECRET = "notify-shared-secret-0123456789"




def test_push_is_scanned_within_10s_and_a_second_tag_is_not_pulled(tmp_path):
    port = reg.free_port()
    env = {"CONTAINERGUARD_SECRET_KEY": Fernet.generate_key().decode(), "XDG_DATA_HOME": str(tmp_path / "xdg")}
    s = srv.ServerProcess.server(tmp_path, "--data-dir", str(tmp_path / "data"), "--vulndb", str(srv.vulndb()),
                                 env=env, port=port)
    r = None
    try:
        admin = s.first_line().rsplit(" ", 1)[1].strip()
        h = {"Authorization": f"Bearer {admin}"}
        r = reg.Registry.start(tmp_path / "registry", auth=True,
                               notify=(f"{s.url}/api/v1/registries/local/notifications", SECRET))
        # an image pushed before the registry is known: found by polling
        early = srv.image_layout(tmp_path / "early", 2)
        r.push(f"oci:{early}:1", "team/early:1")
        add = httpx.post(f"{s.url}/api/v1/registries", headers=h, json={
            "name": "local", "url": f"http://{r.host}", "username": reg.USER, "password": reg.PASSWORD,
            "interval": 0, "webhook_secret": SECRET})
        assert add.status_code == 201, add.text
        assert add.json()["has_password"] is True and "password" not in add.json()
        # push: the registry notifies, the server pulls and scans
        layout = srv.image_layout(tmp_path / "app", 5)
        t0 = time.time()
        r.push(f"oci:{layout}:1", "team/app:1.0")
        found = srv.wait_for(lambda: [i for i in httpx.get(f"{s.url}/api/v1/images?name=team/app", headers=h).json()["items"]],
                      10)
        elapsed = time.time() - t0
        assert found, f"not visible after {elapsed:.1f} s: {s.log_text()[-2000:]}"
        assert elapsed <= 10
        img = found[0]
        assert img["source"] == "registry" and img["package_count"] >= 2
        assert img["high"] + img["critical"] + img["medium"] > 0
        detail = httpx.get(f"{s.url}/api/v1/images/{img['digest']}", headers=h).json()
        manifest = {n["manifest_digest"] for n in detail["names"] if n["tag"] == "1.0"}
        assert len(manifest) == 1 and next(iter(manifest)).startswith("sha256:")
        # a second tag of the same digest: the name is recorded, nothing is pulled
        r.push(f"oci:{layout}:1", "team/app:latest")
        tags = srv.wait_for(lambda: {n["tag"] for n in httpx.get(f"{s.url}/api/v1/images/{img['digest']}",
                                                              headers=h).json()["names"]} >= {"1.0", "latest"} or None, 10)
        assert tags, httpx.get(f"{s.url}/api/v1/images/{img['digest']}", headers=h).json()["names"]
        time.sleep(1)
        scans = httpx.get(f"{s.url}/api/v1/jobs?kind=scan_image", headers=h).json()
        app_scans = [j for j in scans if "repository=team/app," in j["key"] and "created" in j["result"]]
        assert len(app_scans) == 1, scans
        # a multi-platform index pushed (skopeo --all): each platform's image is scanned on its own, named by
        # its platform and the index the tag points at
        multi, _extra = reg.multiarch_layout(tmp_path / "multi", srv.image_layout(tmp_path / "multi-base", 4))
        r.push(f"oci:{multi}:multi", "team/multi:2", all_images=True)
        _st, hdrs, _body = r.get("/v2/team/multi/manifests/2", accept="application/vnd.oci.image.index.v1+json")
        index = hdrs["Docker-Content-Digest"]

        def platforms() -> list[dict] | None:
            items = httpx.get(f"{s.url}/api/v1/images?name=team/multi", headers=h).json()["items"]
            names = [n for i in items for n in httpx.get(f"{s.url}/api/v1/images/{i['digest']}", headers=h).json()["names"]
                     if n["tag"] == "2" and n["index_digest"] == index]
            return names if len(items) == 2 and len(names) == 2 else None

        named = srv.wait_for(platforms, 20)
        assert named, s.log_text()[-2000:]
        assert sorted(n["platform"] for n in named) == ["linux/amd64", "linux/arm64/v8"]
        # a wrong secret is refused
        bad = httpx.post(f"{s.url}/api/v1/registries/local/notifications", headers={"Authorization": "Bearer nope"},
                         json={"events": []})
        assert bad.status_code == 401
        # the image pushed before the registry was added arrives too (the registry retries its notification)
        early_found = srv.wait_for(lambda: httpx.get(f"{s.url}/api/v1/images?name=team/early", headers=h).json()["items"], 30)
        assert early_found and early_found[0]["source"] == "registry"
        # polling walks catalog -> tags -> digests and pulls nothing already known
        assert httpx.post(f"{s.url}/api/v1/registries/local/poll", headers=h).status_code == 202
        polls = srv.wait_for(lambda: [j for j in httpx.get(f"{s.url}/api/v1/jobs?kind=poll_registry", headers=h).json()
                               if j["status"] == "done"], 30)
        # team/app:1.0, team/app:latest, team/early:1 and team/multi:2's two platform images, all known already
        assert polls and polls[0]["result"]["manifests"] == 5 and polls[0]["result"]["new"] == 0, polls
        assert httpx.get(f"{s.url}/api/v1/images", headers=h).json()["total"] == 4
        # credentials at rest are encrypted
        con = sqlite3.connect(tmp_path / "data" / "containerguard.sqlite")
        (enc,) = con.execute("SELECT password_enc FROM registries").fetchone()
        con.close()
        assert enc and reg.PASSWORD not in enc
        audit = httpx.get(f"{s.url}/api/v1/audit", headers=h).json()
        assert any(a["action"] == "registry.add" and reg.PASSWORD not in str(a["detail"]) for a in audit)
    finally:
        if r is not None:
            r.stop()
        s.stop()
