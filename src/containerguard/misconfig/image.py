"""Image configuration checks (CG-IMG-*), with no Dockerfile needed.

Two sources:

* the image config (``ImageMeta.config``): User, Env, ExposedPorts, Healthcheck -> :func:`check_config`;
* the image's files: :class:`ImageFileAnalyzer` runs inside the inventory walker (analyzer contract) and
  reports setuid/setgid files, private keys and certificates with their layer; :func:`check_image`
  keeps only setuid/setgid files added by the image's own layers (not its base). World-writable
  directories need directory entries, which the walker does not hand to analyzers: :func:`world_writable_dirs`
  runs as an ``index_check`` of ``build_inventory`` over the merged file index of the same walk (one pass).

This module only checks what the scanner hands it; :func:`containerguard.scanner.scan_target` (with the
``misconfig`` scanner) is the one way to run these checks on an image.
"""

from __future__ import annotations

import dataclasses
import re
import stat
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from containerguard.analyzer.base import AnalysisResult, Analyzer, AnalyzerInput, ConfigAnalyzer
from containerguard.misconfig.catalog import make_finding
from containerguard.misconfig.secretnames import mask, secret_reason
from containerguard.model import Finding, ImageMeta, Inventory, Layer, file_subject

_KEY_EXT = (".key", ".pem", ".p12", ".pfx", ".jks", ".keystore", ".ppk")
_KEY_NAMES = {"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "identity"}
_CERT_EXT = (".crt", ".cer", ".der", ".pem")
_TRUST_STORE_DIRS = ("etc/ssl/certs/", "usr/share/ca-certificates/", "etc/pki/", "usr/share/pki/",
                     "etc/ca-certificates/", "usr/local/share/ca-certificates/", "usr/lib/ssl/",
                     "etc/ssl/", "usr/share/doc/", "usr/lib/python3", "usr/local/lib/python3")
_PRIVATE_KEY = re.compile(rb"-----BEGIN ((RSA|DSA|EC|OPENSSH|ENCRYPTED) )?PRIVATE KEY-----")
_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----")
_SNIFF = 64 * 1024


def _is_root_user(user: str) -> bool:
    u = user.strip()
    return u == "" or u.split(":", 1)[0] in ("root", "0")


def check_config(meta: ImageMeta, target: str = "") -> list[Finding]:
    """Checks on the image config alone: root user, secrets in Env, port 22, no healthcheck."""
    cfg: Mapping[str, Any] = meta.config or {}
    out: list[Finding] = []
    user = str(cfg.get("User") or "")
    if _is_root_user(user):
        out.append(make_finding("CG-IMG-001", target=target, path="config.User",
                                message=f"User is {user!r}" if user else "no User set (defaults to root)"))
    for i, env in enumerate(cfg.get("Env") or []):
        name, _, value = str(env).partition("=")
        reason = secret_reason(name, value)
        if reason and value:
            shown = f"{name}={mask(value)}"
            out.append(make_finding("CG-IMG-002", target=target, path=f"config.Env[{i}]",
                                    message=f"{shown}: {reason}", match=shown, subject=f"config:Env[{i}]"))
    ports = cfg.get("ExposedPorts") or {}
    for port in ports:
        if str(port).split("/", 1)[0] == "22" and str(port).endswith(("/tcp", "22")):
            out.append(make_finding("CG-IMG-003", target=target, path="config.ExposedPorts", message=f"exposes {port}"))
    hc = cfg.get("Healthcheck") or {}
    test = hc.get("Test") if isinstance(hc, Mapping) else None
    if not test or test == ["NONE"]:
        out.append(make_finding("CG-IMG-004", target=target, path="config.Healthcheck",
                                message="Healthcheck disabled" if test == ["NONE"] else "no Healthcheck"))
    return out


class ImageFileAnalyzer(Analyzer):
    """setuid/setgid files, private keys and certificates, found by mode and path inside the walker."""

    type: ClassVar[str] = "misconfig-files"
    #: 2: findings carry their ``subject`` (the scanner merges on it); 3: symlinks no longer followed
    version: ClassVar[int] = 3
    max_size: ClassVar[int] = 16 * 1024 * 1024
    follows_links: ClassVar[bool] = False  # a key is reported once, at the file that holds it

    def required(self, path: str, mode: int) -> bool:
        if mode & (stat.S_ISUID | stat.S_ISGID) and (not mode or stat.S_ISREG(mode)):
            return True
        name = path.rsplit("/", 1)[-1].lower()
        if name in _KEY_NAMES or name.endswith(_KEY_EXT):
            return True
        return name.endswith(_CERT_EXT) and not path.startswith(_TRUST_STORE_DIRS)

    def analyze(self, inp: AnalyzerInput) -> AnalysisResult:
        res = AnalysisResult()
        path = "/" + inp.path
        if inp.mode & (stat.S_ISUID | stat.S_ISGID):
            bits = [b for b, m in (("setuid", stat.S_ISUID), ("setgid", stat.S_ISGID)) if inp.mode & m]
            res.findings.append(make_finding("CG-IMG-005", path=path, message=f"{path} is {'+'.join(bits)} "
                                             f"(mode {stat.S_IMODE(inp.mode):04o})",
                                             extra={"mode": f"{stat.S_IMODE(inp.mode):04o}"}))
        name = inp.path.rsplit("/", 1)[-1].lower()
        if name in _KEY_NAMES or name.endswith(_KEY_EXT + _CERT_EXT):
            head = inp.stream.read(_SNIFF)
            if _PRIVATE_KEY.search(head) or (name in _KEY_NAMES and b"PRIVATE KEY" in head):
                res.findings.append(make_finding("CG-IMG-007", path=path, message=f"private key at {path}",
                                                 subject=file_subject(inp.path, "private-key")))
            elif name.endswith((".p12", ".pfx", ".jks", ".keystore")):
                res.findings.append(make_finding("CG-IMG-007", path=path, message=f"key store at {path}",
                                                 subject=file_subject(inp.path, "key-store")))
            elif (_CERT.search(head) or name.endswith((".crt", ".cer", ".der"))) and not inp.path.startswith(
                    _TRUST_STORE_DIRS):
                res.findings.append(make_finding("CG-IMG-008", path=path, message=f"certificate at {path}",
                                                 subject=file_subject(inp.path, "certificate")))
        return res


def base_layer_count(meta: ImageMeta | None, layers: Sequence[Layer]) -> int:
    """How many leading layers belong to the base image.

    From the history: the base image's own history ends with its CMD/ENTRYPOINT (an empty layer); the
    layers created before the last such entry that is followed by a real layer are the base's. Without
    that marker, the base is layer 0.
    """
    if not layers:
        return 0
    hist = list(meta.history) if meta is not None else []
    layer_no, cut = 0, None
    for i, h in enumerate(hist):
        empty = bool(h.get("empty_layer"))
        cmd = str(h.get("created_by") or "")
        if empty and re.search(r"\b(CMD|ENTRYPOINT)\b", cmd) and any(not x.get("empty_layer") for x in hist[i + 1:]):
            cut = layer_no
        if not empty:
            layer_no += 1
    if cut is None or cut == 0:
        return 1
    return min(cut, len(layers))


class ImageConfigCheckAnalyzer(ConfigAnalyzer):
    """:func:`check_config` as an analyzer: root user, secret-looking Env, port 22, no healthcheck."""

    type: ClassVar[str] = "misconfig-config"
    version: ClassVar[int] = 1

    def analyze_config(self, meta: ImageMeta, layers: Sequence[Layer]) -> AnalysisResult:
        return AnalysisResult(findings=check_config(meta))


def check_image(inventory: Inventory) -> list[Finding]:
    """Image config checks plus the file findings of :class:`ImageFileAnalyzer` that the walker attached
    to the inventory (setuid/setgid only when added above the base layers)."""
    out: list[Finding] = []
    if inventory.image is not None:
        out += check_config(inventory.image, inventory.target)
    return out + image_findings(inventory)


def image_findings(inventory: Inventory) -> list[Finding]:
    """The CG-IMG-* findings the analyzers attached to the inventory, setuid/setgid files kept only when
    a layer above the base image added them, each with the inventory's target."""
    out: list[Finding] = []
    nbase = base_layer_count(inventory.image, inventory.layers)
    for f in inventory.file_findings:
        if not f.id.startswith("CG-IMG-"):
            continue
        if f.id == "CG-IMG-005" and f.layer is not None and f.layer.index < nbase:
            continue
        out.append(f if f.target else _with_target(f, inventory.target))
    return out


def _with_target(f: Finding, target: str) -> Finding:
    return dataclasses.replace(f, target=target)


def world_writable_dirs(files: Mapping[str, Any], layers: Sequence[Layer] | None, target: str = "") -> list[Finding]:
    """World-writable directories without the sticky bit in a merged file index (applier.FileInfo values)."""
    from containerguard.artifact.tarwalk import DIR

    out = []
    for path, info in sorted(files.items()):
        mode = info.mode
        if info.kind != DIR or not mode & stat.S_IWOTH or mode & stat.S_ISVTX:
            continue
        f = make_finding("CG-IMG-006", target=target, path="/" + path,
                         message=f"/{path} is mode {stat.S_IMODE(mode):04o}",
                         extra={"mode": f"{stat.S_IMODE(mode):04o}", "layer_index": info.layer})
        if layers and info.layer < len(layers):
            f = dataclasses.replace(f, layer=layers[info.layer])
        out.append(f)
    return out

