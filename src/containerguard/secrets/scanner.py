"""Secret scanning over bytes, files and directory trees.

Order of work per file (fast paths first): path allowlist -> size cap -> binary check (NUL byte in the
first 8 KiB) -> one lower-cased copy -> per rule keyword prefilter -> bounded regex -> entropy and
format validation -> allowlists on the secret -> masked Finding. Raw secrets never leave this module:
``Finding.match`` holds the first four characters followed by ``****``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import fnmatch
import json
import math
import os
import re
import stat
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from containerguard.errors import SecretsError
from containerguard.model import Finding, FindingKind, ImageMeta, Layer, file_subject
from containerguard.secrets.rules import RuleSet, SecretRule, builtin_rules

#: files bigger than this are not scanned (counted as a warning)
DEFAULT_MAX_SIZE = 10 * 1024 * 1024
BINARY_SNIFF = 8192
REMEDIATION = (
    "Remove the secret from the image (rebuild without it; use build secrets or runtime injection) "
    "and rotate it: anyone who can pull the image can read it."
)
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#: a standard base64 value long enough to hold a credential (18 bytes decoded); :meth:`SecretScanner._scan_base64`
#: checks that it is a whole word and a whole number of quanta (a plain class run is the fastest regex here)
_B64_RUN = re.compile(rb"[A-Za-z0-9+/]{24,}={0,2}")
_B64_BEFORE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_.-")
_B64_AFTER = _B64_BEFORE | {ord("=")}
#: control bytes that no text a secret rule matches contains (decoded base64 of binary data has them)
_NOT_TEXT = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xff]")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

# Paths that never hold hand-written secrets in an image: shared objects, compiled code, media,
# documentation, locale data. Checked before any byte is read.
_SKIP_DIRS = (
    "usr/share/doc/", "usr/share/man/", "usr/share/info/", "usr/share/locale/", "usr/share/i18n/",
    "usr/share/zoneinfo/", "usr/share/common-licenses/", "usr/share/mime/", "usr/share/icons/",
    "usr/share/fonts/", "usr/share/terminfo/", "usr/share/X11/locale/", "usr/lib/locale/",
    "usr/share/perl/", "usr/share/perl5/", "usr/lib/x86_64-linux-gnu/perl", "usr/share/ca-certificates/",
    "etc/ssl/certs/", "var/lib/dpkg/info/", "usr/lib/python3/dist-packages/__pycache__/",
    "proc/", "sys/", "dev/",
)
_SKIP_EXTS = (
    ".so", ".a", ".o", ".ko", ".pyc", ".pyo", ".class", ".jar", ".war", ".ear", ".whl", ".egg",
    ".png", ".jpg", ".jpeg", ".gif", ".ico", ".bmp", ".webp", ".svgz", ".ttf", ".otf", ".woff", ".woff2",
    ".gz", ".tgz", ".bz2", ".xz", ".zst", ".zip", ".7z", ".rar", ".tar", ".deb", ".rpm", ".apk",
    ".mo", ".gmo", ".mp3", ".mp4", ".ogg", ".wav", ".pdf", ".db", ".sqlite", ".wasm", ".node",
)


def is_candidate_path(path: str) -> bool:
    """Cheap path filter: could this file (path inside the image, no leading slash) hold a secret?"""
    p = path.lstrip("/")
    if p.startswith(_SKIP_DIRS):
        return False
    name = p.rsplit("/", 1)[-1]
    lower = name.lower()
    if lower.endswith(_SKIP_EXTS):
        return False
    # versioned shared objects: libfoo.so.1.2.3
    return ".so." not in lower


def looks_binary(head: bytes) -> bool:
    """A NUL byte in the first bytes means binary, except in UTF-16 text that starts with its byte-order
    mark (Windows tools and PowerShell write it): that is scanned as text."""
    return b"\x00" in head and not head.startswith(_UTF16_BOMS)


def as_utf8(data: bytes) -> bytes:
    """UTF-16 text (with a byte-order mark) as UTF-8, so the rules and line numbers apply; other data as is."""
    if data.startswith(_UTF16_BOMS):
        try:
            return data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            return data
    return data


def shannon_entropy(data: bytes) -> float:
    """Shannon entropy in bits per byte."""
    if not data:
        return 0.0
    n = len(data)
    return -sum((c / n) * math.log2(c / n) for c in Counter(data).values())


def github_checksum_ok(token: str) -> bool:
    """GitHub tokens end with 6 base62 characters: the CRC32 of the random part before them."""
    body = token.rsplit("_", 1)[-1]
    if len(body) < 7:
        return False
    data, checksum = body[:-6], body[-6:]
    n = zlib.crc32(data.encode())
    digits = ""
    while n:
        n, r = divmod(n, 62)
        digits = _BASE62[r] + digits
    return digits.rjust(6, "0") == checksum


def _b64url_json(part: bytes) -> object:
    padded = part + b"=" * (-len(part) % 4)
    return json.loads(base64.urlsafe_b64decode(padded))


def jwt_ok(token: bytes) -> bool:
    """A JWT's header and payload decode to JSON objects and the header names an algorithm."""
    try:
        header_b, payload_b, _sig = token.split(b".")
        header, payload = _b64url_json(header_b), _b64url_json(payload_b)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    return isinstance(header, dict) and "alg" in header and isinstance(payload, dict)


def mask_secret(secret: str, *, keep: int = 4) -> str:
    """``AKIA****``: the first ``keep`` characters, then a fixed ``****`` (length not revealed)."""
    return secret[:keep] + "****"


@dataclass(frozen=True, slots=True)
class AllowEntry:
    """A user allowlist entry: ``rule`` (an id, or None for every rule) and/or ``path`` (a glob)."""

    rule: str | None = None
    path: str | None = None

    def matches(self, rule_id: str, path: str) -> bool:
        if self.rule is not None and self.rule != rule_id:
            return False
        return self.path is None or fnmatch.fnmatchcase(path.lstrip("/"), self.path.lstrip("/"))


@dataclass(slots=True)
class ScanOutcome:
    findings: list[Finding] = field(default_factory=list)
    #: why the file was not scanned: "binary", "too-large", "excluded", or "" when it was
    skipped: str = ""


@dataclass(slots=True)
class DirectoryScan:
    """Result of :func:`scan_directory`."""

    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files_scanned: int = 0
    bytes_scanned: int = 0
    skipped_binary: int = 0
    skipped_large: int = 0
    skipped_unreadable: int = 0


class SecretScanner:
    """Scan bytes with a rule set. Thread-safe (no mutable state after construction)."""

    def __init__(
        self,
        rules: RuleSet | None = None,
        *,
        max_size: int = DEFAULT_MAX_SIZE,
        allow: Iterable[AllowEntry] = (),
        disable_rules: Iterable[str] = (),
    ) -> None:
        self.ruleset = rules if rules is not None else builtin_rules()
        known = set(self.ruleset.ids())
        disabled = set(disable_rules)
        unknown = disabled - known
        if unknown:
            raise SecretsError(f"unknown secret rule id(s): {', '.join(sorted(unknown))}")
        self.rules: tuple[SecretRule, ...] = tuple(r for r in self.ruleset.rules if r.id not in disabled)
        self.max_size = max_size
        self.allow = tuple(allow)

    # ------------------------------------------------------------------ bytes

    def scan(self, path: str, data: bytes) -> ScanOutcome:
        path = path.lstrip("/")
        if any(p.search(path) for p in self.ruleset.allow_paths):
            return ScanOutcome(skipped="excluded")
        if len(data) > self.max_size:
            return ScanOutcome(skipped="too-large")
        if looks_binary(data[:BINARY_SNIFF]):
            return ScanOutcome(skipped="binary")
        data = as_utf8(data)
        findings = self._scan_text(path, data)
        if len(data) >= 24:
            findings = self._scan_base64(path, data, findings)
        return ScanOutcome(findings=findings)

    def _scan_base64(self, path: str, data: bytes, findings: list[Finding]) -> list[Finding]:
        """Secrets inside base64 values (a Kubernetes Secret's ``data:``, ``.dockerconfigjson``, CI variables):
        each value that decodes to text is scanned with the rules, one level deep. A finding is reported at
        the value's line, masked from its decoded form, with ``extra.encoding = "base64"``; a generic
        high-entropy finding on the encoded value itself yields to it."""
        decoded_spans: list[tuple[int, int]] = []
        out: list[Finding] = []
        for m in _B64_RUN.finditer(data):
            start, end = m.span()
            value = m.group(0)
            if len(value) % 4 or (start and data[start - 1] in _B64_BEFORE) \
                    or (end < len(data) and data[end] in _B64_AFTER):
                continue  # a piece of a longer word (a URL, a path, a hash in a name), or not base64
            try:
                text = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                continue
            if _NOT_TEXT.search(text):
                continue
            inner = self._scan_text(path, text)
            if not inner:
                continue
            line = data.count(b"\n", 0, m.start()) + 1
            decoded_spans.append(m.span())
            for f in inner:
                out.append(dataclasses.replace(
                    f, line=line, description=f"{f.title} (base64-encoded) in {path} line {line}",
                    extra={**f.extra, "offset": m.start(), "encoding": "base64"},
                    subject=file_subject(path, f.id)))
        if not out:
            return findings
        fallbacks = {r.id for r in self.rules if r.fallback}
        kept = [f for f in findings if not (f.id in fallbacks and any(
            s <= int(str(f.extra.get("offset", -1))) < e or f.line == data.count(b"\n", 0, s) + 1
            for s, e in decoded_spans))]
        return kept + out

    def _scan_text(self, path: str, data: bytes) -> list[Finding]:
        lower = data.lower()
        findings: list[Finding] = []
        seen: set[tuple[str, int, bytes]] = set()
        spans: list[tuple[int, int]] = []
        for rule in self.rules:
            if not any(k in lower for k in rule.keywords):
                continue
            if rule.requires and not all(r in data for r in rule.requires):
                continue
            if rule.allow_paths and any(p.search(path) for p in rule.allow_paths):
                continue
            if self.allow and any(a.matches(rule.id, path) for a in self.allow):
                continue
            for rx in rule.regexes:
                group: str | int = "secret" if "secret" in rx.groupindex else 0
                for m in rx.finditer(data):
                    secret = m.group(group)
                    start, end = m.span(group)
                    if rule.fallback and any(s < end and start < e for s, e in spans):
                        continue
                    if not self._accept(rule, secret):
                        continue
                    spans.append((start, end))
                    # a PEM block is reported at its BEGIN line, other secrets where the value starts
                    line = data.count(b"\n", 0, m.start() if rule.mask == "header" else start) + 1
                    key = (rule.id, line, secret)
                    if key in seen:
                        continue
                    seen.add(key)
                    findings.append(self._finding(rule, path, line, m.group(0), secret, m.start()))
        return findings

    def _accept(self, rule: SecretRule, secret: bytes) -> bool:
        if rule.entropy is not None:
            # a string of n characters has at most log2(n) bits per character: scale for short ones
            need = min(rule.entropy, 0.9 * math.log2(max(len(secret), 2)))
            if shannon_entropy(secret) < need:
                return False
        if rule.validate == "jwt" and not jwt_ok(secret):
            return False
        if any(p.search(secret) for p in rule.allow_regexes):
            return False
        return not any(p.search(secret) for p in self.ruleset.allow_regexes)

    @staticmethod
    def _finding(rule: SecretRule, path: str, line: int, whole: bytes, secret: bytes, offset: int) -> Finding:
        text = secret.decode("utf-8", "replace")
        if rule.mask == "header":
            shown = whole.split(b"-----", 2)[1].decode("ascii", "replace") if whole.count(b"-----") >= 2 else ""
            match = f"-----{shown}-----****"
        else:
            match = mask_secret(text)
        extra: dict[str, object] = {"rule": rule.id, "offset": offset}
        if rule.validate == "github-checksum":
            extra["checksum"] = "valid" if github_checksum_ok(text) else "invalid"
        return Finding(
            kind=FindingKind.SECRET,
            id=rule.id,
            title=rule.title,
            severity=rule.severity,
            path=path,
            line=line,
            match=match,
            description=f"{rule.title} in {path} line {line}",
            remediation=REMEDIATION,
            cwe=("CWE-798",),
            extra=extra,
            subject=file_subject(path, rule.id),
        )

    def redact(self, text: str) -> str:
        """``text`` with every secret a rule finds replaced by its masked form (for Dockerfile
        instructions, environment values and other strings that reports print)."""
        data = text.encode("utf-8", "surrogateescape")
        lower = data.lower()
        spans: list[tuple[int, int, bytes]] = []
        for rule in self.rules:
            if not any(k in lower for k in rule.keywords):
                continue
            for rx in rule.regexes:
                group: str | int = "secret" if "secret" in rx.groupindex else 0
                for m in rx.finditer(data):
                    if not self._accept(rule, m.group(group)):
                        continue
                    start, end = m.span(group)
                    spans.append((start, end, m.group(group)[:4] + b"****"))
        if not spans:
            return text
        out = bytearray()
        pos = 0
        for start, end, masked in sorted(spans):
            if start < pos:
                continue
            out += data[pos:start] + masked
            pos = end
        out += data[pos:]
        return out.decode("utf-8", "surrogateescape")

    # ------------------------------------------------------------------ trees

    def scan_directory(self, root: str | Path) -> DirectoryScan:
        """Scan every regular text file under ``root`` (symlinks are not followed)."""
        base = Path(root)
        if not base.is_dir():
            raise SecretsError(f"{base}: not a directory")
        out = DirectoryScan()
        stack = [""]
        while stack:
            rel_dir = stack.pop()
            try:
                entries = list(os.scandir(base / rel_dir if rel_dir else base))
            except OSError:
                out.skipped_unreadable += 1
                continue
            for entry in entries:
                rel = f"{rel_dir}{entry.name}"
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    out.skipped_unreadable += 1
                    continue
                if stat.S_ISDIR(st.st_mode):
                    if is_candidate_path(rel + "/"):
                        stack.append(rel + "/")
                    continue
                if stat.S_ISREG(st.st_mode) and is_candidate_path(rel):
                    self._scan_file(entry.path, rel, st.st_size, out)
        if out.skipped_large:
            out.warnings.append(f"secrets: {out.skipped_large} file(s) larger than {self.max_size} bytes not scanned")
        if out.skipped_unreadable:
            out.warnings.append(f"secrets: {out.skipped_unreadable} file(s) or folder(s) could not be read")
        out.findings.sort(key=lambda f: (f.path, f.line or 0, f.id))
        return out

    def _scan_file(self, path: str, rel: str, size: int, out: DirectoryScan) -> None:
        """One regular file of :meth:`scan_directory`: counted as scanned or skipped in ``out``."""
        if size > self.max_size:
            out.skipped_large += 1
            return
        try:
            with open(path, "rb", opener=_nofollow_opener) as fh:
                head = fh.read(BINARY_SNIFF)
                if looks_binary(head):
                    out.skipped_binary += 1
                    return
                data = head + fh.read(self.max_size + 1 - len(head))
        except OSError:
            out.skipped_unreadable += 1
            return
        res = self.scan(rel, data)
        if res.skipped == "too-large":
            out.skipped_large += 1
        elif res.skipped == "binary":
            out.skipped_binary += 1
        elif not res.skipped:
            out.files_scanned += 1
            out.bytes_scanned += len(data)
        out.findings.extend(res.findings)


def _nofollow_opener(path: str, flags: int) -> int:
    return os.open(path, flags | getattr(os, "O_NOFOLLOW", 0))


def scan_bytes(path: str, data: bytes, *, scanner: SecretScanner | None = None) -> list[Finding]:
    """Secrets in one file's content (binary and over-size content gives no findings)."""
    return (scanner or default_scanner()).scan(path, data).findings


def scan_directory(root: str | Path, *, scanner: SecretScanner | None = None) -> DirectoryScan:
    """Secrets in a directory tree (a ``dir:`` target or an unpacked root filesystem)."""
    return (scanner or default_scanner()).scan_directory(root)


_DEFAULT: list[SecretScanner] = []


def default_scanner() -> SecretScanner:
    if not _DEFAULT:
        _DEFAULT.append(SecretScanner())
    return _DEFAULT[0]


def scan_image_config(meta: ImageMeta, layers: Sequence[Layer] = (), *,
                      scanner: SecretScanner | None = None) -> list[Finding]:
    """Secrets in an image's configuration: ``Env`` entries and the ``history`` commands (a secret passed
    to ``RUN`` or ``ARG`` stays readable in the image even when no file keeps it). History entries of
    non-empty layers are attributed to those ``layers`` (in order)."""
    sc = scanner or default_scanner()
    out: list[Finding] = []
    env = meta.config.get("Env") or meta.config.get("env") or []
    for i, entry in enumerate(env if isinstance(env, list) else []):
        if isinstance(entry, str):
            for f in sc.scan(f"(image config) Env[{i}]", entry.encode("utf-8", "replace")).findings:
                out.append(dataclasses.replace(f, line=None, extra={**f.extra, "source": "image-config-env"},
                                               subject=f"config:Env[{i}]"))
    layer_iter = iter(layers)
    for i, h in enumerate(meta.history):
        layer = None if h.get("empty_layer") else next(layer_iter, None)
        cmd = h.get("created_by")
        if not isinstance(cmd, str) or not cmd:
            continue
        for f in sc.scan(f"(image config) history[{i}]", cmd.encode("utf-8", "replace")).findings:
            out.append(dataclasses.replace(f, line=None, layer=layer, extra={**f.extra, "source": "image-history"},
                                           subject=f"config:history[{i}]"))
    return out


def redact(text: str) -> str:
    """Mask every secret the built-in rules find in ``text``."""
    return default_scanner().redact(text)


def findings_sorted(findings: Sequence[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.path, f.line or 0, f.id))
