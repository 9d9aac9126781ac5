"""Credential-looking variable names and values (for ENV/ARG in Dockerfiles and Env in image configs).

Secret *content* scanning of files belongs to ``containerguard.secrets``; this module only decides
whether a configuration variable is a credential, and masks its value for display.
"""

from __future__ import annotations

import itertools
import re

# name tokens (split on _ - .) that mark a credential
_SECRET_TOKENS = {"password", "passwd", "pword", "pass", "pwd", "secret", "token", "apikey", "credential",
                  "credentials", "privatekey", "accesskey", "secretkey", "authkey", "auth"}
# ...unless the variable only points to where the secret is, or is public by design
_SAFE_SUFFIXES = ("file", "path", "dir", "url", "uri", "endpoint", "host", "port", "name", "user", "username",
                  "id", "type", "mode", "method", "location", "env", "enabled", "policy", "length", "ttl", "version")
_SAFE_TOKENS = {"public", "pubkey", "publickey", "gpg", "fingerprint", "checksum", "sha256", "hash"}
_VALUE_PATTERNS = [
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), "AWS access key id"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"), "GitHub token"),
    (re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}\b"), "GitLab token"),
    (re.compile(r"\bxox[baprs]-[A-Za-z0-9-]{10,}\b"), "Slack token"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "private key"),
]


def _tokens(name: str) -> list[str]:
    parts = [t for t in re.split(r"[_\-.]+", name.lower()) if t]
    # join adjacent pairs too (API_KEY -> apikey, ACCESS_KEY -> accesskey)
    return parts + [a + b for a, b in itertools.pairwise(parts)]


def secret_name(name: str) -> bool:
    toks = _tokens(name)
    if not toks or any(t in _SAFE_TOKENS for t in toks):
        return False
    last = re.split(r"[_\-.]+", name.lower())[-1]
    if last in _SAFE_SUFFIXES:
        return False
    return any(t in _SECRET_TOKENS for t in toks)


def secret_value(value: str) -> str:
    for rx, what in _VALUE_PATTERNS:
        if rx.search(value):
            return what
    return ""


def secret_reason(name: str, value: str | None, *, is_arg: bool = False) -> str:
    """Why NAME=VALUE is a credential, or "" if it is not."""
    if value:
        what = secret_value(value)
        if what:
            return f"value looks like a {what}"
    if not secret_name(name):
        return ""
    if value:
        return "credential-like name with a value baked into the image"
    if is_arg:
        return "credential-like build argument (build args are recorded in the image history)"
    return ""


def mask(value: str | None) -> str:
    if not value:
        return ""
    if len(value) <= 4:
        return "****"
    return value[:2] + "*" * min(len(value) - 2, 12)
