"""Dockerfile parser and checks on files written for the purpose (tests/data/misconfig/dockerfiles)."""

from __future__ import annotations

from pathlib import Path

import pytest

from containerguard.errors import MisconfigError
from containerguard.misconfig import shell
from containerguard.misconfig.dockerfile import check_dockerfile, scan_dockerfile
from containerguard.misconfig.dockerfile_parser import parse_dockerfile

DATA = Path(__file__).resolve().parents[2] / "data" / "misconfig" / "dockerfiles"


def _ids(findings: list) -> set[tuple[int | None, str]]:
    return {(f.line, f.id) for f in findings}


def test_bad_dockerfile_every_check_fires_on_its_line() -> None:
    got = _ids(scan_dockerfile(DATA / "bad.Dockerfile"))
    expected = {
        (3, "CG-DF-006"),  # FROM ${BASE} resolves to the untagged ARG default "ubuntu"
        (4, "CG-DF-028"), (5, "CG-DF-005"), (6, "CG-DF-005"), (7, "CG-DF-012"),
        (8, "CG-DF-008"), (8, "CG-DF-009"), (8, "CG-DF-014"), (8, "CG-DF-032"),
        (11, "CG-DF-004"), (11, "CG-DF-031"), (12, "CG-DF-003"), (13, "CG-DF-019"),
        (14, "CG-DF-015"), (14, "CG-DF-026"), (15, "CG-DF-017"), (15, "CG-DF-018"), (15, "CG-DF-054"),
        (16, "CG-DF-013"), (16, "CG-DF-027"), (16, "CG-DF-033"), (17, "CG-DF-020"),
        (18, "CG-DF-021"), (19, "CG-DF-022"), (20, "CG-DF-011"), (20, "CG-DF-023"),
        (21, "CG-DF-025"), (22, "CG-DF-001"), (22, "CG-DF-060"), (23, "CG-DF-024"), (24, "CG-DF-029"),
    }
    assert got == expected


def test_good_dockerfile_is_clean() -> None:
    # escape=` continuations, SHELL pipefail, heredocs, digest-pinned base, scratch, USER, HEALTHCHECK
    assert scan_dockerfile(DATA / "good.Dockerfile") == []


def test_secret_values_are_masked() -> None:
    f = next(x for x in scan_dockerfile(DATA / "bad.Dockerfile") if x.id == "CG-DF-005" and x.line == 5)
    assert "hunter2hunter2" not in f.match + f.description
    assert f.match.startswith("DB_PASSWORD=hu")


def test_parser_continuations_comments_heredocs_and_json() -> None:
    text = (
        "ARG V=1\n"
        "FROM alpine:3.19 AS a\n"
        "RUN echo one \\\n"
        "  # comment inside\n"
        "\n"
        "  two\n"
        "RUN <<EOF bash\n"
        "echo inside | cat\n"
        "EOF\n"
        "COPY <<-X <<'Y' /dst/\n"
        "\tx body\n"
        "\tX\n"
        "y $body\n"
        "Y\n"
        "CMD [\"a\", \"b\"]\n"
        "ENTRYPOINT exec thing\n"
    )
    df = parse_dockerfile(text)
    assert [g.rest for g in df.global_args] == ["V=1"]
    assert [(s.name, s.image) for s in df.stages] == [("a", "alpine:3.19")]
    run1, run2, copy, cmd, ep = df.stages[0].instructions[1:]
    assert (run1.line, run1.end_line, run1.rest) == (3, 6, "echo one   two")
    assert (run2.line, run2.heredocs[0].body) == (7, "echo inside | cat\n")
    assert copy.line == 10 and [h.body for h in copy.heredocs] == ["x body\n", "y $body\n"]
    assert cmd.json_args == ("a", "b") and ep.json_args is None
    assert df.errors == []


def test_escape_directive_and_unterminated_heredoc() -> None:
    df = parse_dockerfile("# escape=`\nFROM x:1\nRUN a `\n  b\nRUN <<EOF\nnever closed\n")
    assert df.escape == "`"
    assert df.stages[0].instructions[1].rest == "a   b"
    assert df.errors and "unterminated heredoc" in df.errors[0][1]
    assert ("CG-DF-037") in {f.id for f in check_dockerfile(df)}


def test_inline_ignore_pragmas() -> None:
    text = "FROM x:1\n# hadolint ignore=DL3008,DL3015\nRUN apt-get install -y curl\n# containerguard ignore=CG-DF-013\nRUN cd /\n"
    ids = {f.id for f in check_dockerfile(parse_dockerfile(text))}
    assert not ids & {"CG-DF-014", "CG-DF-009", "CG-DF-013"}


def test_last_stage_user_inherited_from_stage() -> None:
    text = "FROM x:1 AS base\nUSER 10001\nHEALTHCHECK NONE\nFROM base\nRUN true\n"
    assert {f.id for f in check_dockerfile(parse_dockerfile(text))} == set()


def test_curl_pipe_shell_variants() -> None:
    for script in ("curl -s https://x | bash", "wget -qO- https://x | sudo sh -", 'sh -c "$(curl -fsSL https://x)"',
                   "bash <(curl -s https://x)"):
        df = parse_dockerfile(f"FROM x:1\nSHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\nRUN {script}\n")
        assert "CG-DF-004" in {f.id for f in check_dockerfile(df)}, script
    df = parse_dockerfile("FROM x:1\nRUN curl -s https://x | tee /tmp/f\n")
    assert "CG-DF-004" not in {f.id for f in check_dockerfile(df)}


def test_shell_reader_case_patterns_are_not_pipes() -> None:
    s = shell.parse('case "$a" in x86_64|aarch64) apk add foo ;; *) echo no ;; esac; echo done')
    assert not s.has_pipe
    assert [c.name for c in s.commands] == ["apk", "echo", "echo"]


def test_binary_and_huge_files_refused(tmp_path: Path) -> None:
    b = tmp_path / "Dockerfile"
    b.write_bytes(b"FROM x\x00\x01\x02")
    with pytest.raises(MisconfigError, match="binary"):
        scan_dockerfile(b)
    h = tmp_path / "Huge.Dockerfile"
    h.write_bytes(b"#" * (5 * 1024 * 1024))
    with pytest.raises(MisconfigError, match="larger"):
        scan_dockerfile(h)
