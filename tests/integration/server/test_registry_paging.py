"""Registry watching at registry scale, against Debian's docker-registry, on SQLite and on PostgreSQL:

* a catalog of more than 1,000 repositories is walked page by page (``?n=`` and the ``Link`` header), so a
  repository listed after the first 1,000 is polled and scanned; tag lists page the same way;
* a tag that points at a multi-platform image index gives one image per platform, each stored with its
  platform, and the index digest kept as what the tag points at.

The 1,005 repositories are pushed cheaply through the distribution HTTP API: one small image pushed once,
then per repository two cross-repository blob mounts and one manifest PUT.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from tests.fixtures import registry as reg
from tests.fixtures import server as srv

from containerguard.artifact.registry import RegistryClient

N_REPOS = 1005
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _push_copies(r: reg.Registry, source: str, names: list[str], tags: list[str]) -> None:
    """``source:1``'s manifest under every name (blobs mounted, not uploaded) and every tag."""
    with httpx.Client(base_url=f"http://{r.host}", timeout=30) as c:
        resp = c.get(f"/v2/{source}/manifests/1", headers={"Accept": OCI_MANIFEST})
        assert resp.status_code == 200, resp.text
        body = resp.content
        m = json.loads(body)
        blobs = [m["config"]["digest"], *(layer["digest"] for layer in m["layers"])]

    def one(name: str) -> None:
        with httpx.Client(base_url=f"http://{r.host}", timeout=30) as c:
            for d in blobs:
                up = c.post(f"/v2/{name}/blobs/uploads/", params={"mount": d, "from": source})
                assert up.status_code == 201, (name, up.status_code, up.text)
            for t in tags:
                put = c.put(f"/v2/{name}/manifests/{t}", content=body, headers={"Content-Type": OCI_MANIFEST})
                assert put.status_code == 201, (name, put.status_code, put.text)

    with ThreadPoolExecutor(8) as ex:
        list(ex.map(one, names))


@pytest.fixture(scope="module")
def big_registry(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("big-registry")
    r = reg.Registry.start(root / "registry", auth=False)
    try:
        r.push(f"oci:{srv.image_layout(root / 'seed', 7)}:1", "bulk/seed:1")
        _push_copies(r, "bulk/seed", [f"bulk/r{i:04d}" for i in range(N_REPOS)], ["1"])
        _push_copies(r, "bulk/seed", ["bulk/tags"], [f"t{i:02d}" for i in range(8)])
        base = srv.image_layout(root / "base", 3)
        multi, _extra = reg.multiarch_layout(root / "multi", base)
        r.push(f"oci:{multi}:multi", "team/multi:1", all_images=True)
        yield r
    finally:
        r.stop()


def test_registry_api_pages_and_the_client_follows(big_registry):
    status, headers, body = big_registry.get("/v2/_catalog?n=1000")
    assert status == 200 and len(json.loads(body)["repositories"]) == 1000
    assert 'rel="next"' in headers.get("Link", "")  # the registry itself pages: 1,000 is not everything
    c = RegistryClient(big_registry.host, "bulk/tags", insecure=True)
    try:
        repos = c.catalog()
        assert len(repos) == N_REPOS + 3 and len(set(repos)) == len(repos)
        assert {"bulk/r1004", "bulk/seed", "bulk/tags", "team/multi"} <= set(repos)
        assert c.catalog(page_size=97) == repos
        assert sorted(c.tags(page_size=3)) == [f"t{i:02d}" for i in range(8)]
    finally:
        c.close()


def test_poll_reaches_repositories_past_the_first_1000(api, big_registry):
    add = api.post("/registries", json={"name": "big", "url": f"http://{big_registry.host}", "interval": 0,
                                        "repositories": ["bulk/r100?"]})  # bulk/r1000..r1004: catalog entries 1,000+
    assert add.status_code == 201, add.text
    assert api.post("/registries/big/poll").status_code == 202
    api.wait_jobs(180)
    polls = api.get("/jobs?kind=poll_registry").json()
    assert polls and polls[0]["status"] == "done", polls
    # five repositories past the first 1,000 entries; their one digest is queued until a scan has stored it
    assert polls[0]["result"]["manifests"] == 5 and 1 <= polls[0]["result"]["new"] <= 5
    imgs = api.get("/images?name=bulk/r100").json()["items"]
    assert len(imgs) == 1  # one digest under five repositories: scanned once
    names = {n["repository"] for n in api.get(f"/images/{imgs[0]['digest']}").json()["names"]}
    assert names == {f"{big_registry.host}/bulk/r{i}" for i in range(1000, 1005)}
    scans = [j for j in api.get("/jobs?kind=scan_image").json() if "created" in j["result"]]
    assert len(scans) == 1


def test_a_multi_platform_index_is_one_image_per_platform(api, big_registry):
    status, headers, body = big_registry.get("/v2/team/multi/manifests/1", accept=OCI_INDEX)
    assert status == 200
    index_digest = headers["Docker-Content-Digest"]
    children = {d["digest"]: d["platform"] for d in json.loads(body)["manifests"]}
    assert len(children) == 2
    add = api.post("/registries", json={"name": "multi", "url": f"http://{big_registry.host}", "interval": 0,
                                        "repositories": ["team/*"]})
    assert add.status_code == 201, add.text
    assert api.post("/registries/multi/poll").status_code == 202
    api.wait_jobs(180)
    poll = api.get("/jobs?kind=poll_registry").json()[0]
    assert poll["status"] == "done" and poll["result"]["manifests"] == 2 and poll["result"]["new"] == 2, poll
    imgs = api.get("/images?name=team/multi").json()["items"]
    assert sorted(i["architecture"] for i in imgs) == ["amd64", "arm64"]
    for img in imgs:
        names = api.get(f"/images/{img['digest']}").json()["names"]
        mine = [n for n in names if n["tag"] == "1"]
        assert len(mine) == 1, names
        n = mine[0]
        assert n["index_digest"] == index_digest  # the tag's target: the index
        assert n["manifest_digest"] in children  # this platform's own manifest
        p = children[n["manifest_digest"]]
        assert n["platform"] == "/".join(x for x in (p["os"], p["architecture"], p.get("variant", "")) if x)
        assert n["platform"].split("/")[1] == img["architecture"]
    # the arm64 image has the package only its own layer adds: each platform was scanned on its own
    arm = next(i for i in imgs if i["architecture"] == "arm64")
    amd = next(i for i in imgs if i["architecture"] == "amd64")
    assert arm["package_count"] == amd["package_count"] + 1
    # polled again: everything is known, nothing is pulled, the names stay
    assert api.post("/registries/multi/poll").status_code == 202
    api.wait_jobs(120)
    again = api.get("/jobs?kind=poll_registry").json()[0]
    assert again["result"] == {"registry": "multi", "manifests": 2, "new": 0}, again
    assert len([j for j in api.get("/jobs?kind=scan_image").json() if "created" in j["result"]]) == 2


def test_the_pushed_layout_is_a_real_index(tmp_path: Path):
    """The fixture's multi-arch layout is an OCI index of two platform manifests (what skopeo --all pushes)."""
    base = srv.image_layout(tmp_path / "base", 3)
    multi, _ = reg.multiarch_layout(tmp_path / "multi", base)
    top = json.loads((multi / "index.json").read_text())["manifests"][0]
    idx = json.loads((multi / "blobs/sha256" / top["digest"].split(":")[1]).read_text())
    assert idx["mediaType"] == OCI_INDEX
    assert sorted(m["platform"]["architecture"] for m in idx["manifests"]) == ["amd64", "arm64"]
