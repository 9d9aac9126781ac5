"""The same image through every source gives the identical inventory, with layer attribution.

Real components only: Docker Engine (debootstrap'd Debian image and a layered image built on it with
``docker build``), ``docker save`` archives, OCI layouts and archives made by Debian's skopeo (gzip and zstd
layers), and Debian's docker-registry on 127.0.0.1 with htpasswd basic auth (images pushed with skopeo).
Oracle for the Debian packages: ``dpkg-query --admindir`` over the same root filesystem.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures import env
from tests.fixtures import registry as reg

from containerguard.model import Inventory
from containerguard.scanner.cache import LayerCache
from containerguard.scanner.inventory import build_inventory

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory):
    env.ensure_dockerd()
    r = reg.Registry.start(tmp_path_factory.mktemp("registry"), auth=True)
    yield r
    r.stop()


@pytest.fixture(scope="module")
def debian_targets(registry: reg.Registry) -> dict[str, str]:
    tag = env.debian_image()
    oci = reg.skopeo_layout(tag, "oci", "gzip")
    registry.push(f"oci:{oci}:bookworm", "cg/debian:bookworm")
    return {
        "daemon": f"docker:{tag}",
        "docker-archive": f"docker-archive:{env.docker_save(tag)}",
        "oci-gzip": f"oci:{oci}:bookworm",
        "oci-zstd": f"oci:{reg.skopeo_layout(tag, 'oci', 'zstd')}:bookworm",
        "oci-archive": f"oci-archive:{reg.skopeo_layout(tag, 'oci-archive', 'gzip')}",
        "registry": f"registry:{registry.host}/cg/debian:bookworm",
    }


def _scan(target: str, cache: LayerCache | None = None) -> Inventory:
    return build_inventory(target, cache=cache, insecure=True, username=reg.USER, password=reg.PASSWORD)


def _listing(inv: Inventory) -> list[tuple[str, str, str, str, str]]:
    return [(p.type, p.name, p.version, p.arch, p.purl) for p in inv.packages]


def test_debian_identical_through_every_source(debian_targets: dict[str, str]) -> None:
    root = env.debian_rootfs()
    oracle = subprocess.run(
        ["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W", "-f", "${db:Status-Abbrev}|${Package}|${Version}\n"],
        check=True, capture_output=True, text=True).stdout.splitlines()
    expected_debs = sorted((n, v) for s, n, v in (line.split("|") for line in oracle) if s.startswith("ii"))
    assert len(expected_debs) > 50
    listings = {}
    for name, target in debian_targets.items():
        inv = _scan(target)
        assert inv.os.family == "debian" and inv.os.version == "12", (name, inv.os)
        debs = sorted((p.name, p.version) for p in inv.packages if p.type == "deb")
        assert debs == expected_debs, name
        assert all(p.layer is not None and p.layer.index == 0 for p in inv.packages), name
        listings[name] = _listing(inv)
    first = listings["daemon"]
    for name, listing in listings.items():
        assert listing == first, f"{name} differs from the daemon"


def test_dir_rootfs_matches_oracle() -> None:
    root = env.debian_rootfs()
    inv = build_inventory(f"dir:{root}", cache=None)
    ref = _scan(f"docker-archive:{env.docker_save(env.debian_image())}")
    assert inv.os.family == "debian"
    assert sorted((p.name, p.version) for p in inv.packages if p.type == "deb") == \
        sorted((p.name, p.version) for p in ref.packages if p.type == "deb")
    assert all(p.layer is None for p in inv.packages)


@pytest.fixture(scope="module")
def layered_targets(registry: reg.Registry) -> dict[str, str]:
    tag = reg.layered_image()
    oci = reg.skopeo_layout(tag, "oci", "gzip")
    registry.push(f"oci:{oci}:1", "cg/layered:1")
    return {
        "daemon": f"docker:{tag}",
        "docker-archive": f"docker-archive:{env.docker_save(tag)}",
        "oci": f"oci:{oci}:1",
        "registry": f"registry:{registry.host}/cg/layered:1",
    }


def test_layered_image_attribution_and_whiteouts(layered_targets: dict[str, str], tmp_path: Path) -> None:
    cache = LayerCache(tmp_path / "cache")
    results = {}
    for name, target in layered_targets.items():
        inv = _scan(target, cache)
        by_name = {(p.type, p.name): p for p in inv.packages}
        # the whiteout removed requests' dist-info; pyyaml and urllib3 come from the COPY layer (1)
        assert ("pypi", "requests") not in by_name, name
        for py in ("pyyaml", "urllib3"):
            p = by_name[("pypi", py)]
            assert p.version == reg.LAYERED_PY[py]
            assert p.layer is not None and p.layer.index == 1 and "COPY" in p.layer.created_by, (name, p.layer)
        # dpkg --purge in layer 2 removed one package; dpkg -i in layer 4 added one; dpkg's status file
        # was rewritten by both, yet every base package stays credited to the base layer
        assert ("deb", reg.LAYERED_PURGED_DEB) not in by_name, name
        hello = by_name[("deb", reg.LAYERED_ADDED_DEB)]
        assert hello.layer is not None and hello.layer.index == 4 and "dpkg -i" in hello.layer.created_by
        base = [p for p in inv.packages if p.type == "deb" and p.name != reg.LAYERED_ADDED_DEB]
        assert len(base) > 50 and all(p.layer is not None and p.layer.index == 0 for p in base), name
        # history: the ENV instruction made no layer and is skipped
        assert len(inv.layers) == 6
        assert not any("CG_EMPTY_LAYER" in layer.created_by for layer in inv.layers)
        results[name] = [(*t, p.layer.index if p.layer else -1) for t, p in
                         zip(_listing(inv), inv.packages, strict=True)]
    first = results["daemon"]
    assert all(r == first for r in results.values())


def test_bare_image_daemon_then_registry(registry: reg.Registry, debian_targets: dict[str, str]) -> None:
    daemon = build_inventory(env.DEBIAN_IMAGE, cache=None)
    assert daemon.target == env.DEBIAN_IMAGE and daemon.image is not None
    assert env.DEBIAN_IMAGE in daemon.image.repo_tags
    # not in the daemon: the bare name is looked up in its registry
    remote = _scan(f"{registry.host}/cg/debian:bookworm")
    assert _listing(remote) == _listing(daemon)
