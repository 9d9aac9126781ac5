"""Policy files: schema errors and CEL errors name FILE:LINE; defaults load; overrides replace by id."""

from __future__ import annotations

from pathlib import Path

import pytest

from containerguard.errors import PolicyError
from containerguard.policy import Action, Stage, inputs, load_policies

GOOD = """\
id: ACME-001
name: no-latest
description: no latest tag
severity: high
condition: image.tag == "latest"
enforcement: {deploy: deny, build: fail}
"""


def _write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    (tmp_path / name).write_text(text)
    return tmp_path


def test_default_set_loads_and_has_about_thirty_policies() -> None:
    ps = load_policies()
    assert 30 <= len(ps.policies) <= 50
    assert len({p.id for p in ps.policies}) == len(ps.policies)
    deny = {p.id for p in ps.for_stage(Stage.DEPLOY) if p.enforcement[Stage.DEPLOY] is Action.DENY}
    # only the unambiguous ones deny out of the box (CG-DEP-020: the host's disks or memory as devices, which is
    # what makes privileged an escape)
    assert deny == {"CG-DEP-001", "CG-DEP-002", "CG-DEP-003", "CG-DEP-004", "CG-DEP-005", "CG-DEP-006", "CG-DEP-007",
                    "CG-DEP-020"}


def test_single_policy_file_and_alias_actions(tmp_path: Path) -> None:
    ps = load_policies([_write(tmp_path, GOOD)], defaults=False)
    (p,) = ps.policies
    assert p.enforcement == {Stage.DEPLOY: Action.DENY, Stage.BUILD: Action.FAIL_BUILD}
    assert p.source.endswith("p.yaml:1")


@pytest.mark.parametrize(("text", "line", "fragment"), [
    (GOOD.replace("severity: high", "severity: extreme"), 4, "severity"),
    (GOOD.replace('condition: image.tag == "latest"', 'condition: image.tag == '), 5, "condition"),
    (GOOD.replace('condition: image.tag == "latest"', 'condition: imag.tag == "x"'), 5, "unknown name(s) imag"),
    (GOOD.replace("enforcement: {deploy: deny, build: fail}", "enforcement: {deploy: fail-build}"), 6,
     "not an action of the deploy stage"),
    (GOOD + "colour: red\n", 7, "colour"),
    (GOOD.replace("id: ACME-001", "id: 1bad id"), 1, "id"),
    ("policies:\n  - " + GOOD.replace("\n", "\n    ").rstrip() + "\n  - " + GOOD.replace("\n", "\n    ").rstrip() + "\n",
     8, "duplicate policy id ACME-001"),
    ("policies:\n  - id: X1\n    name: n\n    description: d\n    severity: low\n    condition: 'true'\n"
     "    enforcement: {runtime: kill}\n    exclusions:\n      - reason: r\n", 9, "exclusion needs"),
    ("id: [unclosed\n", 2, "invalid YAML"),
    ("a: &x 1\nb: *x\n", 1, "anchors"),
])
def test_malformed_policy_names_file_and_line(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    d = _write(tmp_path, text)
    with pytest.raises(PolicyError) as exc:
        load_policies([d], defaults=False)
    msg = str(exc.value)
    assert msg.startswith(f"{d / 'p.yaml'}:{line}:"), msg
    assert fragment in msg
    assert "\n" not in msg


def test_user_policy_replaces_default_and_defaults_false(tmp_path: Path) -> None:
    ps = load_policies([_write(tmp_path, GOOD.replace("ACME-001", "CG-DEP-009").replace("{deploy: deny, build: fail}", "{deploy: deny}"))])
    assert ps.get("CG-DEP-009").enforcement[Stage.DEPLOY] is Action.DENY  # type: ignore[union-attr]
    assert ps.get("CG-DEP-001") is not None
    (tmp_path / "set.yaml").write_text("defaults: false\npolicies: []\n")
    assert [p.id for p in load_policies([tmp_path]).policies] == ["CG-DEP-009"]


def test_evaluation_error_fails_closed_or_open(tmp_path: Path) -> None:
    text = GOOD.replace('image.tag == "latest"', 'container.env["MISSING"] == "x"')
    closed = load_policies([_write(tmp_path, text)], defaults=False)
    doc = inputs.complete({}, "deploy")
    dec = closed.evaluate(doc, Stage.DEPLOY)
    assert not dec.allowed and dec.violations[0].error == "no such key 'MISSING'"
    open_ = load_policies([_write(tmp_path, text + "on_error: fail-open\n")], defaults=False)
    dec = open_.evaluate(doc, Stage.DEPLOY)
    assert dec.allowed and not dec.violations
    assert "fails open" in dec.warnings[0] and "MISSING" in dec.warnings[0]


def test_non_bool_condition_is_an_error_not_a_pass(tmp_path: Path) -> None:
    ps = load_policies([_write(tmp_path, GOOD.replace('image.tag == "latest"', "image.tag"))], defaults=False)
    dec = ps.evaluate(inputs.complete({"image": {"tag": "1"}}, "deploy"), Stage.DEPLOY)
    assert not dec.allowed and "not a bool" in dec.violations[0].error


def test_scope_and_exclusions_with_expiry(tmp_path: Path) -> None:
    import datetime as dt

    text = GOOD + ("scope: {namespaces: [prod*]}\nexclusions:\n"
                   "  - {reason: vendor image, images: ['docker.io/library/nginx*'], expires: 2030-01-01}\n")
    ps = load_policies([_write(tmp_path, text)], defaults=False)

    def decide(image: str, ns: str, today: dt.date = dt.date(2029, 1, 1)) -> set[str]:
        doc = inputs.complete({"image": inputs.parse_image_ref(image), "workload": {"namespace": ns}}, "deploy")
        return {v.policy_id for v in ps.evaluate(doc, Stage.DEPLOY, today=today).violations}

    assert decide("redis:latest", "prod-eu") == {"ACME-001"}
    assert decide("redis:latest", "dev") == set()
    assert decide("nginx:latest", "prod") == set()
    assert decide("nginx:latest", "prod", dt.date(2030, 1, 2)) == {"ACME-001"}


def test_image_reference_parsing() -> None:
    assert inputs.parse_image_ref("nginx") == {"name": "nginx", "registry": "docker.io", "repository": "library/nginx",
                                               "tag": "", "digest": ""}
    r = inputs.parse_image_ref("localhost:5000/team/app:1.2@sha256:" + "a" * 64)
    assert (r["registry"], r["repository"], r["tag"], r["digest"][:7]) == ("localhost:5000", "team/app", "1.2", "sha256:")
    assert inputs.parse_image_ref("quay.io/x/y:latest")["registry"] == "quay.io"
