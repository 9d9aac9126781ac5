"""CIS check logic on facts from a host tree built in tmp_path (daemon.json, unit files, audit rules)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from containerguard.cis.docker import (
    HostFacts,
    Status,
    parse_dockerd_args,
    run_bench,
    to_findings,
)
from containerguard.errors import MisconfigError
from containerguard.misconfig.catalog import load_catalog_text


def _facts(root: Path, config: dict, info: dict | None = None, containers: list | None = None) -> HostFacts:
    return HostFacts(info=info or {"SecurityOptions": ["name=seccomp,profile=builtin"], "LoggingDriver": "json-file"},
                     version={"Version": "20.10"}, config=config, containers=containers or [], images=[],
                     bridge_options={"com.docker.network.bridge.enable_icc": "true"}, root=root, env={},
                     daemon_json=root / "etc/docker/daemon.json")


def test_dockerd_flags() -> None:
    got = parse_dockerd_args(["-H", "tcp://0.0.0.0:2375", "--host=unix:///var/run/docker.sock", "--icc=false",
                              "--live-restore", "--insecure-registry", "10.0.0.0/8", "--userland-proxy=false"])
    assert got == {"hosts": ["tcp://0.0.0.0:2375", "unix:///var/run/docker.sock"], "icc": False,
                   "live-restore": True, "insecure-registries": ["10.0.0.0/8"], "userland-proxy": False}


def test_daemon_and_file_checks(tmp_path: Path) -> None:
    etc = tmp_path / "etc/docker"
    etc.mkdir(parents=True)
    cfg = {"insecure-registries": ["registry.local:5000"], "hosts": ["tcp://0.0.0.0:2375"], "log-level": "debug",
           "live-restore": True, "no-new-privileges": True, "userland-proxy": False}
    (etc / "daemon.json").write_text(json.dumps(cfg))
    os.chmod(etc / "daemon.json", 0o666)
    (tmp_path / "etc/audit/rules.d").mkdir(parents=True)
    (tmp_path / "etc/audit/rules.d/docker.rules").write_text("-w /etc/docker -k docker\n")
    res = {r.id: r for r in run_bench(_facts(tmp_path, cfg, info={"LiveRestoreEnabled": True}))}
    assert res["2.5"].status is Status.WARN and "registry.local:5000" in res["2.5"].details[0]
    assert res["2.7"].status is Status.WARN
    assert res["2.3"].status is Status.WARN
    assert res["2.14"].status is Status.PASS and res["2.15"].status is Status.PASS and res["2.16"].status is Status.PASS
    assert res["3.18"].status is Status.WARN and "0666" in res["3.18"].details[0]
    assert res["1.1.6"].status is Status.PASS  # audited
    assert res["1.1.5"].status is Status.INFO  # /var/lib/docker does not exist in this tree
    assert res["5.5"].status is Status.INFO  # no containers
    ids = {f.id for f in to_findings(res.values())}
    assert "CG-CIS-2.5" in ids and all(f.kind.value == "compliance" for f in to_findings(res.values()))


def test_container_checks_name_offenders(tmp_path: Path) -> None:
    bad = {"Name": "/bad", "Id": "a" * 64, "Config": {"User": ""}, "State": {"Running": True},
           "HostConfig": {"Privileged": True, "PidMode": "host", "Memory": 0, "RestartPolicy": {"Name": "on-failure",
                                                                                                    "MaximumRetryCount": 10}},
           "Mounts": [{"Source": "/etc", "Destination": "/x", "Propagation": "rshared"}],
           "NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "80"}]}, "Networks": {"bridge": {}}}}
    good = {"Name": "/good", "Id": "b" * 64, "Config": {"User": "1000"}, "State": {"Running": True, "Health": {"Status": "healthy"}},
            "HostConfig": {"Memory": 1 << 26, "PidsLimit": 50, "ReadonlyRootfs": True, "CpuShares": 512,
                           "SecurityOpt": ["no-new-privileges:true"], "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 5}},
            "Mounts": [], "NetworkSettings": {"Ports": {}, "Networks": {"app": {}}}}
    res = {r.id: r for r in run_bench(_facts(tmp_path, {}, containers=[bad, good]))}
    for cid in ("4.1", "5.5", "5.6", "5.8", "5.11", "5.14", "5.15", "5.16", "5.20", "5.29"):
        assert res[cid].status is Status.WARN and res[cid].containers == ("bad",), cid
    only_good = {r.id: r for r in run_bench(_facts(tmp_path, {}, containers=[bad, good]), ["good"])}
    for cid in ("4.1", "5.5", "5.6", "5.11", "5.12", "5.13", "5.15", "5.26", "5.27", "5.29"):
        assert only_good[cid].status is Status.PASS, cid


def test_catalog_validation_errors_name_the_entry() -> None:
    with pytest.raises(MisconfigError, match=r"CG-DF-999.*severity"):
        load_catalog_text("checks:\n- {id: CG-DF-999, title: abc, severity: SEVERE, description: d d d, remediation: r r r}\n")
    with pytest.raises(MisconfigError, match="does not look like"):
        load_catalog_text("checks:\n- {id: X-1, title: abc, severity: LOW, description: ddd, remediation: rrr}\n")
    with pytest.raises(MisconfigError, match="duplicate"):
        load_catalog_text("checks:\n" + "- {id: CG-DF-001, title: abc, severity: LOW, description: ddd, remediation: rrr}\n" * 2)
    with pytest.raises(MisconfigError, match=r"checks.yaml:2: invalid YAML"):
        load_catalog_text("checks: [\n")
