"""Build stage: `containerguard scan IMAGE --policy DIR` fails the CI job on fail-build violations and explains
which policy failed, on what and how to fix it; the default set over the test images, per policy."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures import env, vulnmirror
from tests.fixtures.app_image import app_image
from tests.fixtures.webhook import CLI

pytestmark = [pytest.mark.docker]


@pytest.fixture(scope="module")
def db() -> Path:
    return vulnmirror.built_db()


@pytest.fixture(scope="module")
def app_tar() -> Path:
    return env.docker_save(app_image().tag)


@pytest.fixture(scope="module")
def debian_tar() -> Path:
    return env.docker_save(env.debian_image())


def scan(tar: Path, db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, "scan", f"docker-archive:{tar}", "--db", str(db), "-f", "json", "-o", "/dev/null",
                           "-q", *args], capture_output=True, text=True, timeout=600)


def violations(stderr: str) -> dict[str, str]:
    return {m.group(2): m.group(1) for m in re.finditer(r"^(FAIL-BUILD|WARN|INFORM) (\S+) ", stderr, re.M)}


def test_default_set_on_the_application_image_fails_the_build(app_tar: Path, db: Path, tmp_path: Path) -> None:
    r = scan(app_tar, db, "--policy", str(tmp_path))
    assert r.returncode == 1, r.stderr
    assert violations(r.stderr) == {"CG-IMG-001": "FAIL-BUILD", "CG-IMG-002": "FAIL-BUILD", "CG-IMG-005": "WARN",
                                    "CG-IMG-008": "WARN", "CG-IMG-012": "WARN", "CG-IMG-014": "WARN"}
    block = r.stderr.split("FAIL-BUILD CG-IMG-001 ", 1)[1].split("\nFAIL-BUILD ", 1)[0]
    assert block.startswith("fixable-critical-vulnerability (critical) on cg-test/app:1\n")
    assert "The image has a critical vulnerability that a package update fixes." in block
    assert re.search(r"^    - CVE-\d{4}-\d+ in \S+ \S+ \(fixed in \S+\)$", block, re.M), block
    assert "    fix: Update the listed packages to the fixed versions" in block
    assert "policy decision (build): blocked; 6 violation(s)" in r.stderr


def test_default_set_on_the_debian_image_only_warns(debian_tar: Path, db: Path, tmp_path: Path) -> None:
    r = scan(debian_tar, db, "--policy", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert violations(r.stderr) == {"CG-IMG-008": "WARN", "CG-IMG-012": "WARN", "CG-IMG-014": "WARN"}
    assert "    - USER is not set (root)" in r.stderr
    assert "policy decision (build): allowed" in r.stderr


def test_a_raised_policy_and_exit_code(debian_tar: Path, db: Path, tmp_path: Path) -> None:
    (tmp_path / "strict.yaml").write_text(
        "id: CG-IMG-012\nname: package-manager-in-runtime-image\ndescription: The image ships a package manager.\n"
        "severity: medium\ncondition: packages.exists(p, p.name in params.managers)\n"
        "details: packages.filter(p, p.name in params.managers).map(p, p.name + ' ' + p.version)\n"
        "params: {managers: [apt, apk-tools]}\nremediation: Use a distroless runtime stage.\n"
        "enforcement: {build: fail-build}\n")
    r = scan(debian_tar, db, "--policy", str(tmp_path), "--exit-code", "3")
    assert r.returncode == 3, r.stderr
    assert violations(r.stderr)["CG-IMG-012"] == "FAIL-BUILD"
    assert re.search(r"^    - apt \S+$", r.stderr, re.M)


def test_failing_condition_fails_the_build_closed(debian_tar: Path, db: Path, tmp_path: Path) -> None:
    (tmp_path / "labels.yaml").write_text(
        "id: ACME-OWNER\nname: owner-label\ndescription: Images carry an owner label.\nseverity: low\n"
        "condition: image.labels['org.example.owner'] == ''\nenforcement: {build: fail-build}\n")
    r = scan(debian_tar, db, "--policy", str(tmp_path))
    assert r.returncode == 1
    assert "FAIL-BUILD ACME-OWNER owner-label" in r.stderr
    assert "the condition could not be evaluated and the policy fails closed: no such key 'org.example.owner'" in r.stderr
    (tmp_path / "labels.yaml").write_text((tmp_path / "labels.yaml").read_text() + "on_error: fail-open\n")
    r = scan(debian_tar, db, "--policy", str(tmp_path))
    assert r.returncode == 0
    assert "warning: ACME-OWNER: condition failed on cg-test/debian:bookworm and the policy fails open" in r.stderr


def test_malformed_policy_stops_before_the_scan(debian_tar: Path, db: Path, tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("policies:\n  - id: A-1\n    name: a\n    description: d\n    severity: low\n"
                                       "    condition: image.user ==\n    enforcement: {build: fail-build}\n")
    r = scan(debian_tar, db, "--policy", str(tmp_path))
    assert r.returncode == 2
    assert r.stderr.startswith(f"error: {tmp_path / 'bad.yaml'}:6: policy A-1: condition:")
    assert len(r.stderr.strip().splitlines()) == 1
