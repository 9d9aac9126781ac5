"""A distroless-style root filesystem (Google distroless layout: os-release plus one control stanza per
package under var/lib/dpkg/status.d, no status file), made from the real debootstrap dpkg database and
read through ``build_inventory("dir:...")`` and as a Docker image built FROM scratch."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.fixtures import env

from containerguard.analyzer.dpkg import paragraphs
from containerguard.scanner import inventory

DISTROLESS_TAG = "cg-test/distroless:1"


@pytest.fixture(scope="module")
def distroless_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = env.debian_rootfs()
    root = tmp_path_factory.mktemp("distroless")
    (root / "etc").mkdir()
    shutil.copy2(src / "usr/lib/os-release", root / "etc/os-release")
    sd = root / "var/lib/dpkg/status.d"
    sd.mkdir(parents=True)
    text = (src / "var/lib/dpkg/status").read_text()
    for _, fields in paragraphs(text):
        if fields.get("Package") in ("libc6", "base-files", "tzdata", "libssl3", "netbase", "zlib1g"):
            body = "".join(f"{k}: {v}\n" for k, v in fields.items() if k not in ("Status", "Conffiles", "Description"))
            (sd / fields["Package"]).write_text(body)
            (sd / f"{fields['Package']}.md5sums").write_text("d41d8cd98f00b204e9800998ecf8427e  usr/share/x\n")
    return root


def _expected(root: Path) -> set[tuple[str, str]]:
    out = subprocess.run(["dpkg-query", f"--admindir={env.debian_rootfs()}/var/lib/dpkg", "-W", "-f",
                          "${Package} ${Version}\n"], check=True, capture_output=True, text=True).stdout
    names = {p.name for p in (root / "var/lib/dpkg/status.d").iterdir() if "." not in p.name}
    return {tuple(line.split(" ")) for line in out.splitlines() if line.split(" ")[0] in names}  # type: ignore[misc]


def test_distroless_dir(distroless_root: Path) -> None:
    inv = inventory.build_inventory(f"dir:{distroless_root}", cache=None)
    assert (inv.os.family, inv.os.version, inv.os.distroless) == ("debian", "12", True)
    debs = [p for p in inv.packages if p.type == "deb"]
    assert {(p.name, p.version) for p in debs} == _expected(distroless_root)
    assert len(debs) == 4  # libc6, base-files, tzdata, zlib1g are in a minbase; libssl3 and netbase are not
    assert all(p.locations == (f"var/lib/dpkg/status.d/{p.name}",) for p in debs)
    libc = next(p for p in debs if p.name == "libc6")
    assert libc.source_name == "glibc"
    assert libc.purl.endswith("distro=debian-12")


@pytest.mark.docker
def test_distroless_image(distroless_root: Path) -> None:
    env.ensure_dockerd()
    (distroless_root / "Dockerfile").write_text("FROM scratch\nCOPY etc /etc\nCOPY var /var\n")
    subprocess.run(["docker", "build", "-q", "-t", DISTROLESS_TAG, str(distroless_root)], check=True,
                   capture_output=True, env={"DOCKER_BUILDKIT": "0", "PATH": "/usr/local/bin:/usr/bin:/bin"})
    (distroless_root / "Dockerfile").unlink()
    inv = inventory.build_inventory(f"docker:{DISTROLESS_TAG}", cache=None)
    assert (inv.os.family, inv.os.distroless) == ("debian", True)
    assert {(p.name, p.version) for p in inv.packages if p.type == "deb"} == _expected(distroless_root)
