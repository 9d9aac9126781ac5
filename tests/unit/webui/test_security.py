"""The console's web-security rules, each over inputs of its own class (not just the quoted example)."""

from __future__ import annotations

import pytest

from containerguard.server.webui import security


@pytest.mark.parametrize("value", [
    "https://evil.example/", "http://evil.example", "//evil.example/x", "///evil.example", "/\\evil.example",
    "\\\\evil.example", "javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x", "evil.example",
    "/\tevil", "/\nLocation: x", " /images", "/%0d%0aSet-Cookie:x", "", None, "/" + "a" * 3000,
    "/login?next=//evil", "/logout", "https:/evil.example",
])
def test_safe_next_never_leaves_the_site(value):
    out = security.safe_next(value)
    assert out.startswith("/") and not out.startswith("//") and "\\" not in out
    # whatever came in, what comes out is either the default or a same-origin path kept verbatim
    assert out == "/" or out == value


@pytest.mark.parametrize("value", ["/images", "/images/sha256:abc?severity=critical&kev=1", "/runtime#alerts",
                                   "/images?q=%2F%2Fx"])
def test_safe_next_keeps_local_paths(value):
    assert security.safe_next(value) == value


def test_csrf_token_binds_to_the_session_and_the_key():
    key = b"k" * 32
    a, b = security.new_session_id(), security.new_session_id()
    assert a != b and len(a) >= 40
    ta = security.csrf_token(key, a)
    assert security.csrf_valid(key, a, ta)
    assert not security.csrf_valid(key, b, ta)            # another session's token
    assert not security.csrf_valid(b"x" * 32, a, ta)      # another server key
    assert not security.csrf_valid(key, a, None)
    assert not security.csrf_valid(key, a, "")
    assert not security.csrf_valid(key, a, ta[:-1] + ("0" if ta[-1] != "0" else "1"))


def test_session_key_is_a_hash_not_the_id():
    sid = security.new_session_id()
    assert security.session_key(sid) != sid and len(security.session_key(sid)) == 64


def test_login_double_submit():
    assert security.login_csrf_valid("a" * 32, "a" * 32)
    assert not security.login_csrf_valid("a" * 32, "b" * 32)
    assert not security.login_csrf_valid(None, "a" * 32)
    assert not security.login_csrf_valid("short", "short")


@pytest.mark.parametrize(("site", "origin", "ok"), [
    ("same-origin", None, True), ("none", None, True), ("cross-site", None, False), ("same-site", None, False),
    (None, "http://127.0.0.1:8080", True), (None, "http://evil.example", False), (None, "null", False),
    (None, None, True),
])
def test_same_origin(site, origin, ok):
    assert security.same_origin(site, origin, "127.0.0.1:8080", "http") is ok


def test_csp_has_no_unsafe_sources():
    csp = security.CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "*" not in csp
    directives = dict(d.split(" ", 1) for d in csp.split("; "))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["base-uri"] == "'none'"
