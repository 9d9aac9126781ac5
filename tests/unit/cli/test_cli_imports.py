"""The CLI imports only what the command it runs needs (issue #2: warm `sbom` within 0.3 s of start-up),
and `--help` still lists every command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

HEAVY = ("containerguard.vulndb.build", "containerguard.runtime.rules", "containerguard.detect", "httpx", "docker",
         "rich", "cyclonedx", "jinja2", "containerguard.report.cyclonedx", "containerguard.report.html",
         # pydantic: Typer >= 0.29 builds a TypeAdapter per option (pinned below it), the native JSON loader
         # models are in report.native_schema; the secret scanner loads only for text holding a rule keyword
         "pydantic", "containerguard.report.native_schema", "containerguard.secrets")


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120,
                          check=True)


def test_sbom_of_a_directory_imports_no_heavy_module(tmp_path: Path) -> None:
    status = tmp_path / "root/var/lib/dpkg/status"
    status.parent.mkdir(parents=True)
    status.write_text("Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\n"
                      "Source: zlib\nVersion: 1:1.2.13.dfsg-1\n\n")
    out = tmp_path / "sbom.json"
    proc = _run(f"""
        import json, sys
        from containerguard.cli.main import main
        rc = main(["sbom", "dir:{tmp_path / 'root'}", "-f", "json", "-q", "--no-cache", "-o", "{out}"])
        print(json.dumps({{"rc": rc, "modules": sorted(sys.modules)}}))
    """)
    res = json.loads(proc.stdout)
    assert res["rc"] == 0
    assert [p["name"] for p in json.loads(out.read_text())["packages"]] == ["zlib1g"]
    loaded = [m for m in res["modules"] if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert loaded == []


def test_help_lists_every_command_and_each_format_loads_on_demand() -> None:
    proc = subprocess.run([sys.executable, "-m", "containerguard.cli.main", "--help"], capture_output=True,
                          text=True, timeout=120, check=True, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    for cmd in ("sbom", "scan", "db", "cache", "config", "bench", "rules", "agent", "version"):
        assert f" {cmd} " in proc.stdout, cmd
    proc = _run("""
        import json, sys
        from containerguard.report import get_reporter
        before = "cyclonedx" in sys.modules
        text = get_reporter("cyclonedx")(None, [], target="t", tool_version="0")
        print(json.dumps({"before": before, "after": "cyclonedx" in sys.modules, "doc": json.loads(text)}))
    """)
    res = json.loads(proc.stdout)
    assert (res["before"], res["after"]) == (False, True)
    assert res["doc"]["bomFormat"] == "CycloneDX"


def test_every_command_help_renders() -> None:
    """Help text is Rich markup: a stray "[/WORD]" in an option's help used to crash `sbom --help`."""
    proc = _run("""
        import contextlib, io, json
        from containerguard.cli.main import main
        res = {}
        for cmd in (["sbom"], ["scan"], ["db"], ["db", "update"], ["db", "status"], ["cache"], ["cache", "clean"],
                    ["config"], ["bench"], ["bench", "docker"], ["rules"], ["rules", "replay"], ["rules", "list"],
                    ["agent"], ["version"]):
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                rc = main([*cmd, "--help"])
            res[" ".join(cmd)] = [rc, "Usage" in out.getvalue()]
        print(json.dumps(res))
    """)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {cmd: tuple(v) for cmd, v in res.items() if tuple(v) != (0, True)} == {}


def test_warm_sbom_of_an_image_archive_imports_no_heavy_module(tmp_path: Path) -> None:
    """The image path (layer history goes through the secret masking) stays light on the second run, once
    the layer cache and the secret-keyword list are written (masking itself: tests/unit/report)."""
    from tests.fixtures.registry import tar_bytes, write_docker_archive

    status = ("Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:1.2.13.dfsg-1\n\n")
    archive = write_docker_archive(tmp_path / "img.tar", [tar_bytes([("var/lib/dpkg/status", status)])])
    out = tmp_path / "sbom.json"
    code = f"""
        import json, sys
        from containerguard.cli.main import main
        rc = main(["sbom", "docker-archive:{archive}", "-f", "json", "-q", "-o", "{out}"])
        print(json.dumps({{"rc": rc, "modules": sorted(sys.modules)}}))
    """
    env = {**os.environ, "CONTAINERGUARD_CACHE_DIR": str(tmp_path / "cache")}
    runs = [json.loads(subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                                      timeout=120, check=True, env=env).stdout) for _ in range(2)]
    assert [r["rc"] for r in runs] == [0, 0]
    doc = json.loads(out.read_text())
    assert [p["name"] for p in doc["packages"]] == ["zlib1g"] and doc["layers"][0]["created_by"] == "layer 0"
    loaded = [m for m in runs[1]["modules"] if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert loaded == []
