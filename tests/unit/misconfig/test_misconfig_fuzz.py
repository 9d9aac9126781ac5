"""Malformed input never raises anything but MisconfigError (and manifests never raise at all)."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from containerguard.errors import MisconfigError
from containerguard.misconfig.dockerfile import check_dockerfile
from containerguard.misconfig.dockerfile_parser import parse_dockerfile
from containerguard.misconfig.kubernetes import scan_yaml_text

DF_TOKENS = ["FROM", "RUN", "COPY", "ADD", "ENV", "ARG", "USER", "ONBUILD", "SHELL", "CMD", "WORKDIR", "LABEL",
             "HEALTHCHECK", "EXPOSE", " ", "\n", "\\\n", "`\n", "#", "# escape=`\n", "<<EOF", "EOF\n", "<<-", "'",
             '"', "$(", ")", "${", "}", "|", "&&", ";", "--from=", "--mount=type=cache,target=/x", "[", "]", ",",
             "apt-get install", "pip install", "case x in a|b)", ";;", "esac", "=", "AS", "a", "1", "\t", "\x00"]
YAML_TOKENS = ["apiVersion: v1\n", "kind: Pod\n", "kind: List\n", "items:\n", "spec:\n", "  containers:\n",
               "  - name: a\n", "    image: x\n", "    securityContext: {privileged: true}\n", "---\n", "&a ", "*a",
               "[", "]", "{", "}", ":", "- ", "  ", "\n", "'", '"', "\t", "%YAML 1.1\n", "!!python/object ", "? ",
               "hostPath: {path: /}\n", "volumes:\n", "# Source: x\n", "null", "~", "0x1F", "true"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(DF_TOKENS), max_size=60))
def test_dockerfile_never_crashes(tokens: list[str]) -> None:
    text = "".join(tokens)
    with contextlib.suppress(MisconfigError):
        check_dockerfile(parse_dockerfile(text))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(YAML_TOKENS), max_size=60))
def test_manifest_never_crashes(tokens: list[str]) -> None:
    res = scan_yaml_text("".join(tokens))
    assert res.skipped >= 0
