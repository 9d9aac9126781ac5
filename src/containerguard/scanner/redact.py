"""Redaction, once, in the scanner: every text a report could print that an image carries (layer
``created_by`` commands, the image config and history, the free text of misconfiguration, secret and
compliance findings) has its secrets masked here, before any report sees the data.

:func:`redact` skips the secret scanner for texts holding none of the built-in rules' keywords (the
scanner skips such a rule anyway), from a keyword list shipped beside the rules; everything else goes
through :meth:`containerguard.secrets.SecretScanner.redact`. The scanner entry points apply
:func:`redact_inventory` and :func:`redact_findings` to what they return.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from containerguard.model import Finding, FindingKind, ImageMeta, Inventory, Layer


@functools.lru_cache(maxsize=4096)
def redact(text: str) -> str:
    """Mask secrets in free text an image carries (Dockerfile instructions, env values) before printing.

    The secret scanner skips a rule unless one of its keywords occurs in the lower-cased text, so a text
    holding none of the built-in rules' keywords comes back unchanged; that test is made here first, from
    the cached keyword list (:func:`_secret_keywords`), without loading the scanner (PyYAML, pydantic,
    regex compilation). Any other text, or no usable keyword list, goes through the scanner itself."""
    if not text:
        return text
    keywords = _secret_keywords()
    if keywords is not None:
        try:
            lower = text.encode("utf-8", "surrogateescape").lower()  # exactly as SecretScanner.redact
        except UnicodeEncodeError:
            lower = None
        if lower is not None and not any(k in lower for k in keywords):
            return text
    from containerguard.secrets.scanner import redact as _redact

    return _redact(text)


#: bump when the keyword prefilter's contract with SecretScanner.redact changes
_KEYWORDS_FORMAT = 1
_keywords_memo: list[tuple[bytes, ...] | None] = []


def _rules_digest(rules_text: bytes) -> str:
    import hashlib

    return hashlib.sha256(b"%d\0" % _KEYWORDS_FORMAT + rules_text).hexdigest()


def _secret_keywords() -> tuple[bytes, ...] | None:
    """Every keyword of the built-in secret rules (once per process).

    Read from ``containerguard/secrets/keywords.json``, shipped beside ``rules.yaml`` and generated from it
    (:func:`keywords_document`; a unit test keeps the two in step). It is trusted only for the exact rules
    text its digest names; otherwise (or when either file is unreadable) None, and every text goes
    through the scanner: slower, never weaker. Nothing is written at run time."""
    if _keywords_memo:
        return _keywords_memo[0]
    import containerguard

    folder = Path(containerguard.__file__).parent / "secrets"
    result: tuple[bytes, ...] | None = None
    try:
        digest = _rules_digest((folder / "rules.yaml").read_bytes())
        doc = json.loads((folder / "keywords.json").read_text(encoding="utf-8"))
        if isinstance(doc, dict) and doc.get("rules_sha256") == digest and isinstance(doc.get("keywords"), list):
            result = tuple(str(k).encode("utf-8") for k in doc["keywords"])
    except (OSError, ValueError):
        result = None
    _keywords_memo.append(result)
    return result


def keywords_document() -> dict[str, Any]:
    """What ``secrets/keywords.json`` must hold for the shipped rules (regenerate it with
    ``python -c 'import json; from containerguard.scanner.redact import keywords_document as k;
    print(json.dumps(k(), indent=1))' > src/containerguard/secrets/keywords.json``)."""
    from importlib import resources

    from containerguard.secrets.scanner import default_scanner

    rules = resources.files("containerguard.secrets").joinpath("rules.yaml").read_bytes()
    keywords = sorted({k for rule in default_scanner().rules for k in rule.keywords})
    return {"rules_sha256": _rules_digest(rules), "keywords": [k.decode("utf-8") for k in keywords]}


def redact_any(value: Any) -> Any:
    """``redact`` applied to every string inside lists and mappings (image config, history)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {k: redact_any(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_any(v) for v in value]
    return value


def redact_layer(layer: Layer) -> Layer:
    """``layer`` with its ``created_by`` command redacted (the same object when nothing changes)."""
    created_by = redact(layer.created_by)
    return layer if created_by == layer.created_by else dataclasses.replace(layer, created_by=created_by)


def redact_finding(f: Finding, layers: Mapping[Layer, Layer] | None = None) -> Finding:
    """Misconfiguration, secret and compliance findings quote image content (ENV lines, RUN commands):
    their title, description and evidence masked. Vulnerability records are left as they are; every
    finding's layer is swapped for its redacted twin from ``layers``."""
    changes: dict[str, Any] = {}
    if f.layer is not None:
        layer = layers.get(f.layer) if layers is not None else None
        layer = layer if layer is not None else redact_layer(f.layer)
        if layer is not f.layer:
            changes["layer"] = layer
    if f.package is not None and f.package.layer is not None and layers is not None:
        player = layers.get(f.package.layer)
        if player is not None and player is not f.package.layer:
            changes["package"] = dataclasses.replace(f.package, layer=player)
    if f.kind not in (FindingKind.VULNERABILITY, FindingKind.MALICIOUS):
        title, description, match = _redact_text(f, f.title), _redact_text(f, f.description), redact(f.match)
        if (title, description, match) != (f.title, f.description, f.match):
            changes.update(title=title, description=description, match=match)
    return dataclasses.replace(f, **changes) if changes else f


def _shipped(f: Finding) -> tuple[str, ...]:
    """The check catalog's own title and description behind a misconfiguration finding: text shipped with
    the tool (and checked by its tests), never image content."""
    if f.kind not in (FindingKind.MISCONFIG, FindingKind.COMPLIANCE):
        return ()
    from containerguard.misconfig.catalog import catalog

    m = catalog().get(f.id)
    return (m.title, m.description) if m is not None else ()


def _redact_text(f: Finding, text: str) -> str:
    """``redact(text)`` but for the catalog text it ends with: a check's description says "token" or
    "secret" (automountServiceAccountToken), and masking it would load the whole secret scanner for no
    secret. The per-occurrence message before it (which quotes the file) is redacted as ever."""
    for shipped in _shipped(f):
        if text.endswith(shipped):
            head = text[: len(text) - len(shipped)]
            return redact(head) + shipped if head else text
    return redact(text)


def redact_findings(findings: Iterable[Finding], layers: Mapping[Layer, Layer] | None = None) -> tuple[Finding, ...]:
    """:func:`redact_finding` of each."""
    return tuple(redact_finding(f, layers) for f in findings)


def redacted_layers(inv: Inventory) -> dict[Layer, Layer]:
    """Each layer of ``inv`` mapped to its redacted twin (only the layers that change)."""
    out: dict[Layer, Layer] = {}
    for layer in inv.layers:
        twin = redact_layer(layer)
        if twin is not layer:
            out[layer] = twin
    return out


def redact_inventory(inv: Inventory) -> Inventory:
    """``inv`` with its layers' commands, its image config and history, the layers its packages point to
    and its file findings redacted (the same object when nothing changes)."""
    layers = redacted_layers(inv)
    changes: dict[str, Any] = {}
    if layers:
        changes["layers"] = tuple(layers.get(layer, layer) for layer in inv.layers)
        changes["packages"] = tuple(
            dataclasses.replace(p, layer=layers[p.layer]) if p.layer is not None and p.layer in layers else p
            for p in inv.packages)
    if inv.image is not None:
        image = _redact_meta(inv.image)
        if image is not inv.image:
            changes["image"] = image
    if inv.file_findings:
        found = redact_findings(inv.file_findings, layers)
        if any(a is not b for a, b in zip(found, inv.file_findings, strict=True)):
            changes["file_findings"] = found
    return dataclasses.replace(inv, **changes) if changes else inv


def _redact_meta(meta: ImageMeta) -> ImageMeta:
    config = redact_any(dict(meta.config))
    history = tuple(redact_any(dict(h)) for h in meta.history)
    if config == dict(meta.config) and list(history) == [dict(h) for h in meta.history]:
        return meta
    return dataclasses.replace(meta, config=config, history=history)
