"""Binary analyzers on real ELF files: Go binaries built here with Debian's Go (module replacements
included) checked against ``go version -m``; a cargo-auditable ``.dep-v0`` section added to a real ELF
with binutils' objcopy; scripts, non-Go ELF files and corrupt ELF files give nothing and never raise."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from containerguard.analyzer.base import AnalyzerInput
from containerguard.analyzer.golang import GoBinaryAnalyzer
from containerguard.analyzer.rust import RustBinaryAnalyzer

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.fixtures import env
from tests.fixtures.app_image import GO_MAIN, GO_XNET_SRC, analyze_tree

pytestmark = pytest.mark.skipif(not shutil.which("go") or not GO_XNET_SRC.exists(),
                                reason="golang-go / golang-golang-x-net-dev not installed (scripts/setup)")


def _vendor_xnet(src: Path, vendor_path: str) -> None:
    for pkg in ("html", "html/atom"):
        dst = src / "vendor" / vendor_path / pkg
        dst.mkdir(parents=True, exist_ok=True)
        for f in (GO_XNET_SRC / pkg).glob("*.go"):
            if not f.name.endswith("_test.go"):
                shutil.copy2(f, dst / f.name)


@pytest.fixture(scope="module")
def replaced_binary() -> Path:
    """A module whose golang.org/x/net is replaced by a fork at another version, vendored."""
    out = env.CACHE / "go-replace" / "cg-replaced"
    with env.machine_lock("go-replace"):
        if out.exists():
            return out
        src = env.CACHE / "go-replace" / "src"
        shutil.rmtree(src, ignore_errors=True)
        src.mkdir(parents=True)
        _vendor_xnet(src, "golang.org/x/net")
        (src / "go.mod").write_text("module example.com/replaced\n\ngo 1.19\n\nrequire golang.org/x/net v0.7.0\n\n"
                                    "replace golang.org/x/net => example.org/fork/net v0.7.1-fork\n")
        (src / "vendor" / "modules.txt").write_text(
            "# golang.org/x/net v0.7.0 => example.org/fork/net v0.7.1-fork\n## explicit; go 1.17\n"
            "golang.org/x/net/html\ngolang.org/x/net/html/atom\n# golang.org/x/net => example.org/fork/net v0.7.1-fork\n")
        (src / "main.go").write_text(GO_MAIN)
        subprocess.run(["go", "build", "-mod=vendor", "-o", str(out), "."], cwd=src, check=True, capture_output=True,
                       env={**os.environ, "GOPROXY": "off", "GOFLAGS": "-mod=vendor", "CGO_ENABLED": "0",
                            "GOCACHE": str(env.CACHE / "go-replace" / ".gocache"), "GOTOOLCHAIN": "local"})
    return out


def _analyze(analyzer, path: Path, image_path: str):  # type: ignore[no-untyped-def]
    st = path.stat()
    assert analyzer.required(image_path, st.st_mode)
    with open(path, "rb") as fh:
        return analyzer.analyze(AnalyzerInput(path=image_path, size=st.st_size, mode=st.st_mode, stream=fh))


def test_go_replacement_matches_go_version_m(replaced_binary: Path) -> None:
    out = subprocess.run(["go", "version", "-m", str(replaced_binary)], check=True, capture_output=True,
                         text=True).stdout
    assert "=>\texample.org/fork/net\tv0.7.1-fork" in out
    result = _analyze(GoBinaryAnalyzer(), replaced_binary, "usr/bin/cg-replaced")
    got = {p.name: p for p in result.packages}
    assert set(got) == {"example.com/replaced", "example.org/fork/net", "stdlib"}
    fork = got["example.org/fork/net"]
    assert fork.version == "v0.7.1-fork"
    assert fork.metadata["replaces"] == "golang.org/x/net@v0.7.0"
    assert fork.purl == "pkg:golang/example.org/fork/net@v0.7.1-fork"
    assert got["stdlib"].version == "v" + out.split(": go", 1)[1].split()[0]


def test_rust_dep_v0_section(tmp_path: Path) -> None:
    deps = {"packages": [
        {"name": "myapp", "version": "0.1.0", "source": "local", "kind": "runtime", "root": True, "dependencies": [1]},
        {"name": "smallvec", "version": "1.6.0", "source": "crates.io", "kind": "runtime"},
    ]}
    section = tmp_path / "dep-v0"
    section.write_bytes(zlib.compress(json.dumps(deps).encode()))
    binary = tmp_path / "myapp"
    subprocess.run(["objcopy", "--add-section", f".dep-v0={section}", "/bin/true", str(binary)], check=True,
                   capture_output=True)
    binary.chmod(0o755)
    result = _analyze(RustBinaryAnalyzer(), binary, "usr/local/bin/myapp")
    assert [(p.name, p.version, p.purl, p.metadata.get("root")) for p in result.packages] == [
        ("myapp", "0.1.0", "pkg:cargo/myapp@0.1.0", "true"), ("smallvec", "1.6.0", "pkg:cargo/smallvec@1.6.0", None)]
    # a zip bomb in the section is refused with a warning
    section.write_bytes(zlib.compress(b"[" + b" " * (80 * 1024 * 1024)))
    bomb = tmp_path / "bomb"
    subprocess.run(["objcopy", "--add-section", f".dep-v0={section}", "/bin/true", str(bomb)], check=True,
                   capture_output=True)
    bomb.chmod(0o755)
    result = _analyze(RustBinaryAnalyzer(), bomb, "usr/local/bin/bomb")
    assert result.packages == [] and "beyond" in result.warnings[0]


def test_non_go_files_give_nothing(tmp_path: Path) -> None:
    script = tmp_path / "run"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    trunc = tmp_path / "truncated"
    trunc.write_bytes(Path("/bin/true").read_bytes()[:200])
    trunc.chmod(0o755)
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x7fELF" + b"\xff" * 100)
    garbage.chmod(0o755)
    shutil.copy2("/bin/true", tmp_path / "true")
    (tmp_path / "noexec").write_bytes(Path("/bin/true").read_bytes())
    (tmp_path / "noexec").chmod(0o644)
    result = analyze_tree(tmp_path, [GoBinaryAnalyzer(), RustBinaryAnalyzer()], prefix="usr/bin")
    assert result.packages == []
    assert not GoBinaryAnalyzer().required("usr/bin/noexec", 0o100644)
    assert not GoBinaryAnalyzer().required("usr/bin/script.sh", 0o100755)
    assert not GoBinaryAnalyzer().required("usr/bin/link", 0o120777)


def test_go_binary_without_section_headers(tmp_path: Path) -> None:
    """As after sstrip or some packers: e_shoff/e_shnum zeroed; the blob is found in the data segment."""
    from tests.fixtures.app_image import app_sources

    app = app_sources()
    data = bytearray(app.go_app.read_bytes())
    assert data[4] == 2  # ELFCLASS64
    data[40:48] = bytes(8)  # e_shoff
    data[60:64] = bytes(4)  # e_shnum, e_shstrndx
    stripped = tmp_path / "cg-goapp"
    stripped.write_bytes(bytes(data))
    stripped.chmod(0o755)
    result = _analyze(GoBinaryAnalyzer(), stripped, "usr/bin/cg-goapp")
    assert {(p.name, p.version) for p in result.packages} >= {("golang.org/x/net", "v0.7.0"), ("example.com/cgapp", "")}
    assert result.warnings == []
