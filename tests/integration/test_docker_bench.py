"""`containerguard bench docker` against the real Docker Engine, with containers started to fail specific
CIS 1.6 checks and one hardened container that passes them."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.fixtures import env

from containerguard.cli.main import main

pytestmark = pytest.mark.docker

BAD = {
    "caps": (["--cap-add", "SYS_ADMIN"], ["5.4"]),
    "seccomp": (["--security-opt", "seccomp=unconfined"], ["5.22"]),
    "rootmount": (["-v", "/:/host:ro"], ["5.6"]),
    "hostpid": (["--pid", "host"], ["5.16"]),
    "hostnet": (["--network", "host"], ["5.10"]),
    "sock": (["-v", "/var/run/docker.sock:/var/run/docker.sock"], ["5.32"]),
    "lowport": (["-p", "127.0.0.1:81:80"], ["5.8"]),
    "restart": (["--restart", "always"], ["5.15"]),
}
HARDENED = ["--read-only", "--memory", "64m", "--pids-limit", "50", "--security-opt", "no-new-privileges",
            "--cap-drop", "ALL", "--user", "65534:65534", "--network", "none"]
# every check the bad containers fail, plus the generic ones (memory, read-only, PIDs, no-new-privileges, user)
GOOD_PASSES = ["4.1", "5.4", "5.5", "5.6", "5.8", "5.10", "5.11", "5.13", "5.15", "5.16", "5.17", "5.21",
               "5.22", "5.26", "5.29", "5.31", "5.32"]


@pytest.fixture(scope="module")
def containers() -> Iterator[dict[str, str]]:
    image = env.debian_image()
    run_id = uuid.uuid4().hex[:8]
    names: dict[str, str] = {}
    try:
        for key, (flags, _) in BAD.items():
            name = f"cg-bench-{key}-{run_id}"
            subprocess.run(["docker", "run", "-d", "--name", name, *flags, image, "sleep", "600"],
                           check=True, capture_output=True, timeout=120)
            names[key] = name
        # --privileged cannot start inside this sandbox (its bounding set lacks a capability), so the
        # privileged container is created and audited with --all, which includes non-running containers
        priv = f"cg-bench-priv-{run_id}"
        subprocess.run(["docker", "create", "--name", priv, "--privileged", image, "sleep", "600"],
                       check=True, capture_output=True, timeout=120)
        names["priv"] = priv
        good = f"cg-bench-good-{run_id}"
        subprocess.run(["docker", "run", "-d", "--name", good, *HARDENED, image, "sleep", "600"],
                       check=True, capture_output=True, timeout=120)
        names["good"] = good
        yield names
    finally:
        for name in names.values():
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=120)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, dict]:
    assert main(["bench", "docker", "--format", "json", *args]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["benchmark"].startswith("CIS Docker Benchmark v1.6")
    return {r["id"]: r for r in doc["results"]}


def test_bad_containers_warn_by_name(containers: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    res = _run(capsys, "--all")  # the whole host, every container
    for key, (_, ids) in BAD.items():
        for cid in ids:
            assert res[cid]["status"] == "WARN", (cid, res[cid])
            assert containers[key] in res[cid]["containers"], (cid, key, res[cid]["details"])
    # no memory limit on any of the bad ones
    assert {containers[k] for k in BAD} <= set(res["5.11"]["containers"])
    assert containers["good"] not in res["5.11"]["containers"]
    assert containers["priv"] in res["5.5"]["containers"] and containers["priv"] in res["5.4"]["containers"]
    assert containers["good"] not in res["5.5"]["containers"]


def test_hardened_container_passes(containers: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    res = _run(capsys, "--container", containers["good"])
    for cid in GOOD_PASSES:
        assert res[cid]["status"] == "PASS", (cid, res[cid])


def test_single_bad_container_and_daemon_checks(containers: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    res = _run(capsys, "--all", "--container", containers["priv"])
    assert res["5.5"]["status"] == "WARN" and res["5.5"]["details"] == [f"privileged: {containers['priv']}"]
    assert res["5.6"]["status"] == "PASS"
    # daemon-level checks are decided from the real Engine: every id is present with a known status
    for cid in ("2.2", "2.9", "2.14", "2.15", "3.15", "3.16", "4.5", "5.1"):
        assert res[cid]["status"] in ("PASS", "WARN", "INFO", "NOTE")
    # the socket really is root:docker 660 or not; the result agrees with stat()
    st = Path("/var/run/docker.sock").stat()
    assert (res["3.16"]["status"] == "PASS") == ((st.st_mode & 0o7777) & ~0o660 == 0)


def test_table_output(containers: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "docker", "--container", containers["hostpid"]]) == 0
    out = capsys.readouterr().out
    assert "[WARN] 5.16 - Ensure that the host's process namespace is not shared" in out
    assert f"* PidMode=host: {containers['hostpid']}" in out
    assert "Section C - Score" in out


def test_output_file_and_fail_on(containers: dict[str, str], tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    rc = main(["bench", "docker", "--container", containers["hostpid"], "-f", "json", "-o", str(out),
               "--fail-on", "WARN"])
    assert rc == 1  # 5.16 warns for the container sharing the host's PID namespace
    doc = json.loads(out.read_text())
    assert any(r["id"] == "5.16" and r["status"] == "WARN" for r in doc["results"])
    assert capsys.readouterr().out == ""  # the report went to the file
    assert main(["bench", "docker", "--container", containers["hostpid"], "-o", str(tmp_path / "t.txt")]) == 0
    assert "Section C - Score" in (tmp_path / "t.txt").read_text()
    assert main(["bench", "docker", "--fail-on", "SEVERE"]) == 2
