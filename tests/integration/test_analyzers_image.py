"""The analyzers through the real entry point: ``build_inventory("docker:cg-test/app:1")`` (daemon source,
walker, applier) against the owning tools run on the same files, with layer attribution checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.fixtures import env
from tests.fixtures.app_image import APP_IMAGE, app_image

from containerguard.scanner import inventory

pytestmark = pytest.mark.docker

VENV_PY = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "python"


@pytest.fixture(scope="module")
def inv(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    env.ensure_dockerd()
    app_image()
    return inventory.build_inventory(f"docker:{APP_IMAGE}", cache=None)


@pytest.fixture(scope="module")
def app():  # type: ignore[no-untyped-def]
    return app_image()


def _by_type(inv, t: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {p.name: p for p in inv.packages if p.type == t}


def test_os_and_dpkg(inv) -> None:  # type: ignore[no-untyped-def]
    assert (inv.os.family, inv.os.version, inv.os.codename, inv.os.distroless) == ("debian", "12", "bookworm", False)
    root = env.debian_rootfs()
    out = subprocess.run(["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W", "-f",
                          "${db:Status-Abbrev}|${Package}|${Version}\n"], check=True, capture_output=True, text=True).stdout
    expected = {tuple(line.split("|")[1:]) for line in out.splitlines() if line.startswith("ii")}
    debs = [p for p in inv.packages if p.type == "deb"]
    assert {(p.name, p.version) for p in debs} == expected
    base_layer = inv.layers[0]
    assert all(p.layer is not None and p.layer.diff_id == base_layer.diff_id for p in debs)
    assert all(p.purl.endswith("distro=debian-12") for p in debs)


def test_python_layer(inv, app) -> None:  # type: ignore[no-untyped-def]
    out = subprocess.run([str(VENV_PY), "-m", "pip", "list", "--path", str(app.site_packages), "--format", "json",
                          "--disable-pip-version-check"], check=True, capture_output=True, text=True).stdout
    from containerguard.analyzer._util import pep503

    expected = {(pep503(d["name"]), d["version"]) for d in json.loads(out)}
    pys = [p for p in inv.packages if p.type == "pypi"]
    assert {(p.name, p.version) for p in pys} == expected
    assert all(p.locations[0].startswith("usr/local/lib/python3.11/dist-packages/") for p in pys)
    layers = {p.layer.index for p in pys if p.layer}
    assert len(layers) == 1 and "dist-packages" in inv.layers[layers.pop()].created_by


def test_npm_layer(inv, app) -> None:  # type: ignore[no-untyped-def]
    out = json.loads(subprocess.run(["npm", "ls", "--all", "--json"], cwd=app.npm_dir, check=True,
                                    capture_output=True, text=True).stdout)
    expected = {(n, d["version"]) for n, d in out["dependencies"].items()}
    npms = [p for p in inv.packages if p.type == "npm"]
    assert {(p.name, p.version) for p in npms} == expected
    assert {p.locations[0] for p in npms} == {"app/node_modules/lodash/package.json",
                                              "app/node_modules/minimist/package.json"}


def test_go_and_java_layers(inv, app) -> None:  # type: ignore[no-untyped-def]
    golang = {(p.name, p.version, p.locations[0]) for p in inv.packages if p.type == "golang"}
    go_ver = subprocess.run(["go", "version", "-m", str(app.go_app)], check=True, capture_output=True,
                            text=True).stdout.split(": go", 1)[1].split()[0]
    assert golang == {
        ("example.com/cgapp", "", "usr/local/bin/cg-goapp"),
        ("golang.org/x/net", "v0.7.0", "usr/local/bin/cg-goapp"),
        ("stdlib", f"v{go_ver}", "usr/local/bin/cg-goapp"),
        ("stdlib", f"v{go_ver}", "usr/bin/docker-registry"),
    }
    maven = {(p.name, p.version) for p in inv.packages if p.type == "maven"}
    assert maven == {("org.apache.logging.log4j:log4j-api", "2.19.0"), ("org.apache.logging.log4j:log4j-core", "2.19.0"),
                     ("org.apache.logging.log4j:log4j-1.2-api", "2.19.0")}
    assert {p.type for p in inv.packages} == {"deb", "pypi", "npm", "golang", "maven"}


def test_cli_sbom_json_lists_every_ecosystem(inv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """What a user runs: ``containerguard sbom docker:cg-test/app:1 --format json -o FILE``."""
    from containerguard.cli.main import main

    out = tmp_path / "sbom.json"
    rc = main(["sbom", f"docker:{APP_IMAGE}", "--format", "json", "-o", str(out)])
    assert rc == 0
    doc = json.loads(out.read_text())
    purls = {p["purl"] for p in doc["packages"]}
    for expected in ("pkg:pypi/django@2.0", "pkg:pypi/pillow@6.0.0", "pkg:npm/lodash@4.17.15",
                     "pkg:npm/minimist@0.0.8", "pkg:maven/org.apache.logging.log4j/log4j-core@2.19.0",
                     "pkg:golang/golang.org/x/net@v0.7.0"):
        assert expected in purls
    assert doc["os"]["family"] == "debian"
    assert len(doc["packages"]) == len(inv.packages)
