"""The native JSON format: stable, documented in docs/formats.md, and loadable again.

``load_inventory`` reads a document this module wrote (``sbom --format json`` or ``scan --format json``)
back into an :class:`Inventory`, which is what rescans of stored inventories use. Loading validates the
document with pydantic (this is an edge: the file may come from anywhere) and raises ReportError with
the first problem's location.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from containerguard.errors import ReportError
from containerguard.model import Finding, ImageMeta, Inventory, OSInfo
from containerguard.report.base import (
    TOOL_NAME,
    ReportContext,
    finding_dict,
    json_text,
    layer_dict,
    ordered,
    package_dict,
    summarize,
)

if TYPE_CHECKING:
    from containerguard.report.native_schema import _DocM

SCHEMA_VERSION = 1
MAX_DOCUMENT_BYTES = 512 * 1024 * 1024


def os_dict(os_info: OSInfo) -> dict[str, Any]:
    return {
        "family": os_info.family,
        "version": os_info.version,
        "name": os_info.name,
        "codename": os_info.codename,
        "distroless": os_info.distroless,
        "eosl": os_info.eosl,
    }


def image_dict(meta: ImageMeta | None) -> dict[str, Any] | None:
    if meta is None:
        return None
    return {
        "id": meta.id,
        "repo_tags": list(meta.repo_tags),
        "repo_digests": list(meta.repo_digests),
        "architecture": meta.architecture,
        "os": meta.os,
        "created": meta.created,
        "config": dict(meta.config),
        "history": [dict(h) for h in meta.history],
    }


def document(ctx: ReportContext) -> dict[str, Any]:
    inventory, findings, target, tool_version = ctx.inventory, ctx.findings, ctx.target, ctx.tool_version
    opts = ctx.options
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": TOOL_NAME, "version": tool_version},
        "target": target,
        "created": ctx.created,
        "os": os_dict(inventory.os) if inventory else None,
        "image": image_dict(inventory.image) if inventory else None,
        "layers": [layer_dict(layer) for layer in inventory.layers] if inventory else [],
        "packages": [package_dict(p) for p in inventory.packages] if inventory else [],
        "file_findings": [finding_dict(f) for f in inventory.file_findings] if inventory else [],
        "inventory": None if inventory is None else {"target": inventory.target, "created": inventory.created,
                                                     "warnings": list(inventory.warnings)},
        "findings": [finding_dict(f) for f in ordered(findings)],
        "suppressed": [finding_dict(f) for f in ordered(opts.suppressed)],
        "expired_ignores": list(opts.expired_ignores),
        "summary": summarize(findings, suppressed=len(opts.suppressed)).as_dict(),
    }
    return doc


def render(ctx: ReportContext) -> str:
    return json_text(document(ctx))


# --------------------------------------------------------------------------- loading
# the pydantic models live in native_schema: imported (and built) only when a document is read back


def _parse(json_text: str | bytes) -> _DocM:
    if len(json_text) > MAX_DOCUMENT_BYTES:
        raise ReportError(f"ContainerGuard JSON larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        raw = json.loads(json_text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"not ContainerGuard JSON: line {exc.lineno}: {exc.msg}") from exc
    except RecursionError as exc:
        raise ReportError("not ContainerGuard JSON: nested too deeply") from exc
    if not isinstance(raw, dict) or "schema_version" not in raw:
        raise ReportError("not ContainerGuard JSON: no schema_version")
    if type(raw.get("schema_version")) is not int or raw["schema_version"] != SCHEMA_VERSION:
        raise ReportError(f"unsupported ContainerGuard JSON schema_version {raw.get('schema_version')!r} "
                          f"(this version reads {SCHEMA_VERSION})")
    from pydantic import ValidationError

    from containerguard.report.native_schema import _DocM

    try:
        return _DocM.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise ReportError(f"invalid ContainerGuard JSON at {loc}: {err['msg']}") from exc


def load_inventory(json_text: str | bytes) -> Inventory:
    """The Inventory stored in a native JSON document (as written by ``render``)."""
    doc = _parse(json_text)
    if doc.os is None:
        raise ReportError("ContainerGuard JSON holds no inventory (it was written from findings only)")
    from containerguard.report.native_schema import _InvMetaM

    meta = doc.inventory or _InvMetaM(target=doc.target)
    img = doc.image
    return Inventory(
        target=meta.target or doc.target,
        os=OSInfo(doc.os.family, doc.os.version, doc.os.name, doc.os.codename, doc.os.distroless, doc.os.eosl),
        packages=tuple(p.build() for p in doc.packages),
        layers=tuple(layer.build() for layer in doc.layers),
        image=None if img is None else ImageMeta(
            id=img.id, repo_tags=tuple(img.repo_tags), repo_digests=tuple(img.repo_digests),
            architecture=img.architecture, os=img.os, created=img.created, config=dict(img.config),
            history=tuple(img.history),
        ),
        warnings=tuple(meta.warnings),
        created=meta.created,
        file_findings=tuple(f.build() for f in doc.file_findings),
    )


def load_findings(json_text: str | bytes) -> tuple[list[Finding], list[Finding]]:
    """(findings, suppressed) stored in a native JSON document."""
    doc = _parse(json_text)
    return [f.build() for f in doc.findings], [f.build() for f in doc.suppressed]
