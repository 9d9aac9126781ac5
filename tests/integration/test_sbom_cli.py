"""`containerguard sbom` and `containerguard cache` through the real CLI on the debootstrap image."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures import env
from tests.fixtures import registry as reg

from containerguard.cli.main import main

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def archive() -> Path:
    return env.docker_save(env.debian_image())


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(args)
    out = capsys.readouterr()
    return rc, out.out, out.err


def _zero_layers(src: Path, dest: Path) -> None:
    """Copy a docker-save archive with every layer's bytes zeroed (tar headers, manifest and config kept):
    any scan that reads a layer now fails its digest check."""
    shutil.copy(src, dest)
    with tarfile.open(src) as tf, open(dest, "r+b") as out:
        for ti in tf:
            if ti.isreg() and ti.name not in ("manifest.json", "index.json", "oci-layout", "repositories") and \
                    ti.size > 100_000:
                out.seek(ti.offset_data)
                left = ti.size
                while left:
                    n = min(left, 1 << 20)
                    out.write(b"\0" * n)
                    left -= n


def test_sbom_formats_and_warm_cache(archive: Path, tmp_path: Path, capsys) -> None:
    cache = tmp_path / "cache"
    target = f"docker-archive:{archive}"
    rc, out, err = _run(["sbom", target, "-f", "json", "--cache-dir", str(cache)], capsys)
    assert rc == 0, err
    cold = json.loads(out)
    assert cold["os"]["family"] == "debian"
    names = {p["name"] for p in cold["packages"]}
    assert {"apt", "dpkg", "libc6", "bash"} <= names
    # warm: the same answer from a copy whose layer bytes are destroyed, so no layer can have been read
    broken = tmp_path / "zeroed.tar"
    _zero_layers(archive, broken)
    rc, out, err = _run(["sbom", f"docker-archive:{broken}", "-f", "json", "--cache-dir", str(cache)], capsys)
    assert rc == 0, err
    warm = json.loads(out)
    assert [(p["name"], p["version"]) for p in warm["packages"]] == [(p["name"], p["version"]) for p in cold["packages"]]
    # ...and without the cache that copy is refused
    rc, out, err = _run(["sbom", f"docker-archive:{broken}", "--no-cache"], capsys)
    assert rc == 2 and "digest mismatch" in err
    # the other formats, to a file
    for fmt, check in (("cyclonedx", lambda d: len(d["components"]) >= len(names)),
                       ("spdx-json", lambda d: d["spdxVersion"] == "SPDX-2.3" and len(d["packages"]) >= len(names))):
        outfile = tmp_path / f"out.{fmt}"
        rc, out, err = _run(["sbom", target, "-f", fmt, "-o", str(outfile), "--cache-dir", str(cache)], capsys)
        assert rc == 0, err
        assert out == ""
        assert check(json.loads(outfile.read_text()))
    rc, out, err = _run(["sbom", target, "--cache-dir", str(cache)], capsys)
    assert rc == 0 and "libc6" in out
    rc, out, err = _run(["sbom", target, "-f", "yaml"], capsys)
    assert rc == 2 and "unknown format" in err


def test_cache_info_clean_and_no_cache(archive: Path, tmp_path: Path, capsys) -> None:
    cache = tmp_path / "cache"
    rc, out, err = _run(["sbom", f"docker-archive:{archive}", "--no-cache", "-f", "json", "--cache-dir", str(cache)], capsys)
    assert rc == 0, err
    assert not (cache / "layers").exists() or not list((cache / "layers").rglob("*.json"))
    rc, out, err = _run(["sbom", f"docker-archive:{archive}", "-f", "json", "--cache-dir", str(cache)], capsys)
    assert rc == 0
    rc, out, _ = _run(["cache", "info", "--json", "--cache-dir", str(cache)], capsys)
    info = json.loads(out)
    assert rc == 0 and info["entries"] >= 1 and info["bytes"] > 0 and info["path"] == str(cache)
    rc, out, _ = _run(["cache", "clean", "--cache-dir", str(cache)], capsys)
    assert rc == 0 and out.startswith("removed ")
    rc, out, _ = _run(["cache", "info", "--json", "--cache-dir", str(cache)], capsys)
    assert json.loads(out)["entries"] == 0
    # the environment variable picks the directory too
    os.environ["CONTAINERGUARD_CACHE_DIR"] = str(tmp_path / "envcache")
    try:
        rc, out, _ = _run(["cache", "info", "--json"], capsys)
        assert json.loads(out)["path"] == str(tmp_path / "envcache")
    finally:
        del os.environ["CONTAINERGUARD_CACHE_DIR"]


def test_two_scans_at_once_share_the_cache(archive: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    layered = env.docker_save(reg.layered_image())
    cmds = [[sys.executable, "-m", "containerguard.cli.main", "sbom", f"docker-archive:{a}", "-f", "json", "-q",
             "--cache-dir", str(cache)] for a in (archive, layered, archive)]
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in cmds]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    a1, lay, a2 = (json.loads(o[0]) for o in outs)
    assert [p["name"] for p in a1["packages"]] == [p["name"] for p in a2["packages"]]
    assert "hello" in [p["name"] for p in lay["packages"]]
    for f in (cache / "layers").rglob("*.json"):
        json.loads(f.read_text())  # every entry is whole
    assert list((cache / "tmp").iterdir()) == []


def test_daemon_warm_scan_exports_nothing(tmp_path: Path, capsys) -> None:
    cache = tmp_path / "cache"
    tag = env.debian_image()
    rc, out, err = _run(["sbom", f"docker:{tag}", "-f", "json", "--cache-dir", str(cache)], capsys)
    assert rc == 0, err
    cold = json.loads(out)
    # the image config was kept (verified against the image id) so the next scan needs no export
    image_id = cold["image"]["id"]
    assert (cache / "blobs" / "sha256" / image_id.split(":")[1]).is_file()
    from containerguard.artifact.daemon import DaemonImage
    from containerguard.model import ImageRef
    from containerguard.scanner.cache import LayerCache

    art = DaemonImage(ImageRef("docker", tag), cache=LayerCache(cache))
    try:
        assert art._archive is None  # no export happened while opening
        assert [layer.diff_id for layer in art.layers()] == [layer["diff_id"] for layer in cold["layers"]]
    finally:
        art.close()
    rc, out, err = _run(["sbom", f"docker:{tag}", "-f", "json", "--cache-dir", str(cache)], capsys)
    assert rc == 0
    assert [p["name"] for p in json.loads(out)["packages"]] == [p["name"] for p in cold["packages"]]


def test_docker_host_is_honoured(tmp_path: Path) -> None:
    tag = env.debian_image()
    base = [sys.executable, "-m", "containerguard.cli.main", "sbom", f"docker:{tag}", "-f", "json", "-q",
            "--cache-dir", str(tmp_path / "cache")]
    ok = subprocess.run(base, env={**os.environ, "DOCKER_HOST": f"unix://{env.DOCKER_SOCK}"}, capture_output=True,
                        text=True, timeout=600)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["os"]["family"] == "debian"
    bad = subprocess.run(base, env={**os.environ, "DOCKER_HOST": "tcp://127.0.0.1:9"}, capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("error: cannot reach the Docker daemon (tcp://127.0.0.1:9)")
    assert bad.stderr.count("\n") == 1


def test_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    import pty

    archive = env.docker_save(reg.layered_image())
    out = tmp_path / "out.txt"
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, "-m", "containerguard.cli.main", "sbom", f"docker-archive:{archive}",
                                  "-o", str(out), "--cache-dir", str(tmp_path / "cache")])
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    screen = b"".join(chunks).decode(errors="replace")
    assert "reading layer" in screen and "6/6 layers" in screen
    assert "hello" in out.read_text()
