"""The registry source against Debian's docker-registry on 127.0.0.1, and against real HTTP servers that
misbehave on purpose: bearer-token auth, multi-arch indexes, digest lies, slow answers, cross-host redirects.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures import env
from tests.fixtures import registry as reg

from containerguard.cli.main import main
from containerguard.errors import DigestMismatchError, RegistryError
from containerguard.scanner.inventory import build_inventory

OS_RELEASE = 'PRETTY_NAME="Alpine Linux v3.19"\nNAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n'


def _small_layers() -> list[bytes]:
    rnd = os.urandom(300_000)  # incompressible, so the layer blob is big enough to stall inside
    return [
        reg.tar_bytes([("etc/os-release", OS_RELEASE),
                       ("usr/lib/python3.11/site-packages/six-1.10.0.dist-info/METADATA", reg._metadata("six", "1.10.0"))]),
        reg.tar_bytes([("usr/lib/python3.11/site-packages/idna-2.7.dist-info/METADATA", reg._metadata("idna", "2.7")),
                       ("opt/blob.bin", rnd)]),
    ]


@pytest.fixture(scope="module")
def small_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("small") / "layout"
    desc = reg.write_oci_image(root, _small_layers(), how="gzip",
                               history=[{"created_by": "ADD base"}, {"created_by": "ADD app"}])
    return reg.write_oci_layout(root, [desc], "1")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, small_layout: Path):
    r = reg.Registry.start(tmp_path_factory.mktemp("registry"), auth=True)
    r.push(f"oci:{small_layout}:1", "cg/small:1")
    yield r
    r.stop()


@pytest.fixture(scope="module")
def open_registry(tmp_path_factory: pytest.TempPathFactory, small_layout: Path):
    r = reg.Registry.start(tmp_path_factory.mktemp("open-registry"), auth=False)
    r.push(f"oci:{small_layout}:1", "cg/small:1")
    yield r
    r.stop()


def _sbom(args: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> tuple[int, dict, str]:
    out = tmp_path / "out.json"
    rc = main(["sbom", *args, "-f", "json", "-o", str(out), "--cache-dir", str(tmp_path / "cache"), "-q"])
    err = capsys.readouterr().err
    data = json.loads(out.read_text()) if rc == 0 else {}
    return rc, data, err


def _names(data: dict) -> list[tuple[str, str]]:
    return sorted((p["name"], p["version"]) for p in data["packages"])


def test_basic_auth_with_flags(registry: reg.Registry, capsys, tmp_path: Path) -> None:
    rc, data, err = _sbom([f"registry:{registry.host}/cg/small:1", "--insecure", "--username", reg.USER,
                           "--password", reg.PASSWORD], capsys, tmp_path)
    assert rc == 0, err
    assert data["os"]["family"] == "alpine"
    assert _names(data) == [("idna", "2.7"), ("six", "1.10.0")]


def test_basic_auth_from_docker_config(registry: reg.Registry, capsys, tmp_path: Path, monkeypatch) -> None:
    cfg = tmp_path / "dockercfg"
    cfg.mkdir()
    auth = base64.b64encode(f"{reg.USER}:{reg.PASSWORD}".encode()).decode()
    (cfg / "config.json").write_text(json.dumps({"auths": {registry.host: {"auth": auth}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(cfg))
    rc, data, err = _sbom([f"registry:{registry.host}/cg/small:1", "--insecure"], capsys, tmp_path)
    assert rc == 0, err
    assert _names(data) == [("idna", "2.7"), ("six", "1.10.0")]


def test_missing_and_wrong_credentials(registry: reg.Registry, capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "none"))
    rc, _, err = _sbom([f"registry:{registry.host}/cg/small:1", "--insecure"], capsys, tmp_path)
    assert rc == 2 and err.startswith("error: ") and "authentication required" in err and err.count("\n") == 1
    rc, _, err = _sbom([f"registry:{registry.host}/cg/small:1", "--insecure", "--username", reg.USER,
                        "--password", "wrong"], capsys, tmp_path)
    assert rc == 2 and "access denied" in err and err.count("\n") == 1


def test_bearer_token_auth(registry: reg.Registry, capsys, tmp_path: Path) -> None:
    front = reg.token_proxy(registry, user="tokenuser", password="tokenpw")
    try:
        host = f"127.0.0.1:{front.port}"
        rc, data, err = _sbom([f"registry:{host}/cg/small:1", "--insecure", "--username", "tokenuser",
                               "--password", "tokenpw"], capsys, tmp_path)
        assert rc == 0, err
        assert _names(data) == [("idna", "2.7"), ("six", "1.10.0")]
        assert front.state["challenged"] >= 1
        assert front.state["token_requests"] and "scope=repository" in front.state["token_requests"][0]
        rc, _, err = _sbom([f"registry:{host}/cg/small:1", "--insecure", "--username", "tokenuser",
                            "--password", "nope", "--no-cache"], capsys, tmp_path)
        assert rc == 2 and "refused the credentials" in err
    finally:
        front.stop()


def test_pull_by_digest(open_registry: reg.Registry, tmp_path: Path) -> None:
    _, headers, _ = open_registry.get("/v2/cg/small/manifests/1", "application/vnd.oci.image.manifest.v1+json")
    digest = headers["Docker-Content-Digest"]
    inv = build_inventory(f"registry:{open_registry.host}/cg/small@{digest}", insecure=True, cache=None)
    assert [p.name for p in inv.packages] == ["idna", "six"]
    assert inv.image is not None and inv.image.repo_digests[0].endswith(digest)
    assert [p.layer.created_by for p in inv.packages if p.layer] == ["ADD app", "ADD base"]
    wrong = "sha256:" + "0" * 64
    with pytest.raises(RegistryError, match="manifest unknown"):
        build_inventory(f"registry:{open_registry.host}/cg/small@{wrong}", insecure=True, cache=None)


def test_multiarch_index_by_platform(open_registry: reg.Registry, small_layout: Path, tmp_path: Path) -> None:
    layout, extra = reg.multiarch_layout(tmp_path / "multi", small_layout)
    open_registry.push(f"oci:{layout}:multi", "cg/multi:1", all_images=True)
    for target in (f"oci:{layout}:multi", f"registry:{open_registry.host}/cg/multi:1"):
        amd = build_inventory(target, insecure=True, cache=None)
        arm = build_inventory(target, insecure=True, cache=None, platform="linux/arm64")
        assert extra not in [p.name for p in amd.packages]
        assert extra in [p.name for p in arm.packages]
        assert amd.image is not None and amd.image.architecture == "amd64"
        assert arm.image is not None and arm.image.architecture == "arm64"
        with pytest.raises(Exception, match=r"no image for platform linux/s390x \(available: linux/amd64, linux/arm64/v8\)"):
            build_inventory(target, insecure=True, cache=None, platform="linux/s390x")


def _manifest(r: reg.Registry, repo: str, tag: str) -> dict:
    _, _, body = r.get(f"/v2/{repo}/manifests/{tag}", "application/vnd.oci.image.manifest.v1+json")
    return json.loads(body)


def test_digest_lies_are_caught(open_registry: reg.Registry, small_layout: Path, tmp_path: Path, capsys) -> None:
    # each lie in its own repository copy; blobs are shared in storage, so tamper after pushing fresh images
    lies = {}
    for kind in ("layer", "config"):
        root = tmp_path / f"img-{kind}"
        layers = _small_layers()  # fresh random data: fresh blobs
        desc = reg.write_oci_image(root, layers, how="gzip")
        reg.write_oci_layout(root, [desc], "1")
        open_registry.push(f"oci:{root}:1", f"cg/lie-{kind}:1")
        m = _manifest(open_registry, f"cg/lie-{kind}", "1")
        digest = m["layers"][1]["digest"] if kind == "layer" else m["config"]["digest"]
        p = open_registry.blob_path(digest)
        data = bytearray(p.read_bytes())
        data[len(data) // 2] ^= 0xFF  # same size, different content
        p.write_bytes(bytes(data))
        lies[kind] = f"registry:{open_registry.host}/cg/lie-{kind}:1"
    for kind, target in lies.items():
        with pytest.raises(DigestMismatchError, match="digest mismatch"):
            build_inventory(target, insecure=True, cache=None)
        cache_dir = tmp_path / f"cache-{kind}"
        rc = main(["sbom", target, "--insecure", "--cache-dir", str(cache_dir), "-q", "-f", "json"])
        err = capsys.readouterr().err
        assert rc == 2 and "digest mismatch" in err and err.count("\n") == 1
        # nothing from the lying layer was cached
        assert not list((cache_dir / "layers").rglob("*.json")) or kind == "layer"
        if kind == "layer":
            cached = list((cache_dir / "layers").rglob("*.json"))
            assert len(cached) <= 1  # the honest first layer may be cached, never the second


def test_manifest_digest_lie(open_registry: reg.Registry, small_layout: Path, tmp_path: Path) -> None:
    root = tmp_path / "img"
    desc = reg.write_oci_image(root, _small_layers(), how="gzip")
    reg.write_oci_layout(root, [desc], "1")
    open_registry.push(f"oci:{root}:1", "cg/lie-manifest:1")
    p = open_registry.blob_path(desc["digest"])
    body = p.read_bytes()
    p.write_bytes(body.replace(b'"schemaVersion": 2', b'"schemaVersion":  2'))
    with pytest.raises(DigestMismatchError, match="manifest digest mismatch"):
        build_inventory(f"registry:{open_registry.host}/cg/lie-manifest:1", insecure=True, cache=None)
    with pytest.raises(DigestMismatchError, match="manifest"):
        build_inventory(f"registry:{open_registry.host}/cg/lie-manifest@{desc['digest']}", insecure=True, cache=None)


def test_slow_registry_times_out(open_registry: reg.Registry, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CONTAINERGUARD_REGISTRY_TIMEOUT", "1")
    silent = reg.stalling_server()
    try:
        t = time.monotonic()
        with pytest.raises(RegistryError, match="timed out"):
            build_inventory(f"registry:127.0.0.1:{silent.port}/cg/small:1", insecure=True, cache=None)
        assert time.monotonic() - t < 10
    finally:
        silent.state["stop"].set()
        silent.stop()
    midway = reg.stalling_server(after_headers=True, body_prefix=50_000, backend=open_registry)
    try:
        t = time.monotonic()
        with pytest.raises(RegistryError, match="stopped sending data"):
            build_inventory(f"registry:127.0.0.1:{midway.port}/cg/small:1", insecure=True,
                            cache=None)
        assert time.monotonic() - t < 10
    finally:
        midway.state["stop"].set()
        midway.stop()


def test_redirect_to_another_host_is_refused(open_registry: reg.Registry, tmp_path: Path) -> None:
    import http.server

    hits: list[str] = []

    class Elsewhere(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a) -> None:
            pass

        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    other = reg.serve(Elsewhere, host="127.0.0.2")
    try:
        for kinds, what in ((("manifests",), "manifest"), (("blobs",), "blob")):
            front = reg.redirecting_server(f"127.0.0.2:{other.port}", kinds=kinds, backend=open_registry)
            try:
                with pytest.raises(RegistryError, match=f"refused {what} redirect to another host"):
                    build_inventory(f"registry:127.0.0.1:{front.port}/cg/small:1", insecure=True, cache=None)
                assert front.state["redirected"]
            finally:
                front.stop()
        assert hits == []  # the other host was never contacted
    finally:
        other.stop()


def test_blob_redirect_to_https_host_is_followed_and_verified(open_registry: reg.Registry, tmp_path: Path,
                                                              monkeypatch) -> None:
    store = reg.tls_blob_server(open_registry, tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
    front = reg.redirecting_server(f"127.0.0.2:{store.port}", kinds=("blobs",), backend=open_registry, scheme="https")
    try:
        inv = build_inventory(f"registry:127.0.0.1:{front.port}/cg/small:1", insecure=True, cache=None)
        assert [p.name for p in inv.packages] == ["idna", "six"]
        assert store.state["requests"] and all(auth is None for _, auth in store.state["requests"])
        # a store that is not trusted is a one-line TLS error, not a silent downgrade
        monkeypatch.delenv("SSL_CERT_FILE")
        with pytest.raises(RegistryError, match="blob request failed"):
            build_inventory(f"registry:127.0.0.1:{front.port}/cg/small:1", insecure=True, cache=None)
    finally:
        front.stop()
        store.stop()


def test_env_registry_is_local_only() -> None:
    # guard for this module: every server above listens on loopback
    assert env.CACHE.is_absolute()


def test_tls_to_a_plain_http_registry_suggests_insecure(open_registry: reg.Registry, capsys, tmp_path: Path) -> None:
    rc, _, err = _sbom([f"registry:{open_registry.host}/cg/small:1"], capsys, tmp_path)
    assert rc == 2 and err.count("\n") == 1 and "use --insecure" in err, err


def test_docker_config_problems_are_warnings_naming_them(registry: reg.Registry, open_registry: reg.Registry,
                                                         capsys, tmp_path: Path, monkeypatch) -> None:
    cfg = tmp_path / "dockercfg"
    cfg.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(cfg))
    (cfg / "config.json").write_text('{"auths": {')  # malformed: the scan goes on without its credentials
    capsys.readouterr()
    out = tmp_path / "o.json"
    assert main(["sbom", f"registry:{open_registry.host}/cg/small:1", "--insecure", "-f", "json", "-o", str(out),
                 "--no-cache"]) == 0
    err = capsys.readouterr().err
    assert f"warning: {cfg / 'config.json'}: not a valid Docker config" in err, err
    (cfg / "config.json").write_text(json.dumps({"credHelpers": {open_registry.host: "cg-nosuch"}}))
    assert main(["sbom", f"registry:{open_registry.host}/cg/small:1", "--insecure", "-f", "json", "-o", str(out),
                 "--no-cache"]) == 0
    err = capsys.readouterr().err
    assert "docker-credential-cg-nosuch (for " in err and "is not on PATH" in err, err
    # a helper that is there is used, as the Docker CLI uses it: `docker-credential-NAME get`, host on stdin
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-cgtest"
    helper.write_text(f"#!/bin/sh\nread host\n[ \"$host\" = \"{registry.host}\" ] || exit 1\n"
                      f"printf '{{\"Username\": \"{reg.USER}\", \"Secret\": \"{reg.PASSWORD}\"}}'\n")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    (cfg / "config.json").write_text(json.dumps({"credsStore": "cgtest"}))
    rc, data, err = _sbom([f"registry:{registry.host}/cg/small:1", "--insecure"], capsys, tmp_path)
    assert rc == 0, err
    assert _names(data) == [("idna", "2.7"), ("six", "1.10.0")]
