"""Read an SBOM back into an Inventory: CycloneDX JSON, SPDX 2.x JSON, or ContainerGuard's native JSON.

This is what ``scan sbom:FILE`` and rescans of stored inventories use. Packages are recovered from their
purls (type, namespace, name, version, ``distro``/``epoch``/``upstream`` qualifiers) plus the source
package properties that ContainerGuard, Trivy and Syft write; the OS from an ``operating-system``
component (CycloneDX), an OPERATING-SYSTEM package (SPDX) or the purls' ``distro`` qualifier.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson
from packageurl import PackageURL

from containerguard.detect.fast_construct import gc_paused, positional_builder
from containerguard.ecosystems import BY_TYPE, ECOSYSTEMS
from containerguard.errors import ReportError, UsageError
from containerguard.inputfile import read_input
from containerguard.model import ImageMeta, Inventory, Layer, OSInfo, Package

MAX_BYTES = 512 * 1024 * 1024

#: purl type -> Package.type (the same names: the one table, containerguard.ecosystems)
PURL_TYPES = {e.type: e.type for e in ECOSYSTEMS}
_OS_FAMILIES = {"debian": "debian", "ubuntu": "ubuntu", "alpine": "alpine", "almalinux": "alma", "alma": "alma",
                "rocky": "rocky", "redhat": "rhel", "rhel": "rhel", "centos": "centos", "fedora": "fedora",
                "amazon": "amzn", "amzn": "amzn", "oracle": "ol", "ol": "ol", "wolfi": "wolfi",
                "chainguard": "chainguard", "suse": "sles", "sles": "sles", "opensuse": "opensuse-leap",
                "opensuse-leap": "opensuse-leap"}
_SRC_NAME_PROPS = ("containerguard:package:source_name", "containerguard:source_name", "aquasecurity:trivy:SrcName",
                   "syft:metadata:source", "syft:metadata:originPackage")
_SRC_VER_PROPS = ("containerguard:package:source_version", "containerguard:source_version",
                  "aquasecurity:trivy:SrcVersion", "syft:metadata:sourceVersion")
_SPDX_LAYER = re.compile(r"^layer (\d+) (\S+)(?: created by: (.*))?$")


def load_inventory(path: Path | str) -> Inventory:
    """The Inventory in an SBOM file; raises UsageError/ReportError with one line on bad input."""
    p = Path(path)
    data = read_input(p, MAX_BYTES, UsageError, "SBOM")
    return parse_inventory(data, str(p))


def parse_inventory(data: bytes | str, name: str = "sbom") -> Inventory:
    """An inventory from a stored SBOM (native JSON, CycloneDX or SPDX JSON); ``name`` labels errors.
    Secrets in the text it carries (layer commands, image config) are masked, as in a scanned one."""
    from containerguard.scanner.redact import redact_inventory

    with gc_paused():  # decoding builds many small acyclic objects
        return redact_inventory(_parse_inventory(data, name))


def _parse_inventory(data: bytes | str, name: str) -> Inventory:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ReportError(f"{name}: not JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise ReportError(f"{name}: not an SBOM (top level is not an object)")
    if doc.get("bomFormat") == "CycloneDX":
        return _cyclonedx(doc, name)
    if isinstance(doc.get("spdxVersion"), str):
        return _spdx(doc, name)
    if "schema_version" in doc:
        fast = _native_fast(doc)
        if fast is not None:
            return fast
        from containerguard.report.native import load_inventory as native

        return native(data)
    raise ReportError(f"{name}: not CycloneDX, SPDX or ContainerGuard JSON")


def _props(items: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(items, list):
        for it in items:
            if isinstance(it, dict) and isinstance(it.get("name"), str):
                out[it["name"]] = str(it.get("value", ""))
    return out


def _os_from(name: str, version: str) -> OSInfo:
    fam = _OS_FAMILIES.get(name.strip().lower(), name.strip().lower() or "unknown")
    return OSInfo(family=fam, version=version.strip(), name=f"{name} {version}".strip())


def package_from_purl(purl: str, props: Mapping[str, str] | None = None, location: str = "",
                      locations: tuple[str, ...] = (), layer: Layer | None = None) -> Package | None:
    """A Package from a purl (None for purl types the detector has no use for or malformed purls)."""
    try:
        p = PackageURL.from_string(purl)
    except ValueError:
        return None
    ptype = PURL_TYPES.get(p.type)
    if ptype is None or not p.version:
        return None
    q: dict[str, str] = dict(p.qualifiers) if isinstance(p.qualifiers, dict) else {}
    props = props or {}
    name = p.name
    if ptype == "maven" and p.namespace:
        name = f"{p.namespace}:{p.name}"
    elif BY_TYPE[ptype].namespaced_name and p.namespace:
        name = f"{p.namespace}/{p.name}"
    src_name = next((props[k] for k in _SRC_NAME_PROPS if props.get(k)), "")
    src_ver = next((props[k] for k in _SRC_VER_PROPS if props.get(k)), "")
    upstream = q.get("upstream", "")
    if upstream and not src_name:  # pkg:deb/debian/libc6@2.36-9?upstream=glibc%402.36-9
        src_name, _, up_ver = upstream.partition("@")
        src_ver = src_ver or up_ver
    version = p.version
    epoch: int | None = None
    if q.get("epoch", "").isdigit():
        epoch = int(q["epoch"])
        if ptype == "deb" and not version.startswith(f"{epoch}:"):
            version = f"{epoch}:{version}"
    release = ""
    if ptype == "rpm" and "-" in version:
        version, release = version.rsplit("-", 1)
    meta = {"distro": q["distro"]} if q.get("distro") else {}
    locs = locations or ((location,) if location else ())
    return Package(name=name, version=version, type=ptype, purl=purl, locations=locs, layer=layer,
                   arch=q.get("arch", ""), source_name=src_name if src_name != name or src_ver else "",
                   source_version=src_ver, epoch=epoch if ptype == "rpm" else None, release=release,
                   analyzer="sbom", metadata=meta)


def _os_from_distro(pkgs: Iterable[Package]) -> OSInfo:
    for pkg in pkgs:
        d = pkg.metadata.get("distro", "")
        if d and "-" in d:
            fam, _, ver = d.partition("-")
            return _os_from(fam, ver)
    return OSInfo()


def _cyclonedx(doc: dict[str, Any], name: str) -> Inventory:
    comps: list[dict[str, Any]] = []

    def walk(items: Any, where: str) -> None:
        for i, c in enumerate(_objects(items, name, "CycloneDX", where)):
            comps.append(c)
            walk(c.get("components"), f"{where}[{i}].components")

    walk(doc.get("components"), "components")
    os_info: OSInfo | None = None
    pkgs: list[Package] = []
    layers: dict[tuple[int, str], Layer] = {}
    skipped = Counter[str]()
    for c in comps:
        if c.get("type") == "operating-system":
            os_info = _os_from(str(c.get("name", "")), str(c.get("version", "")))
            continue
        purl = c.get("purl")
        if isinstance(purl, str):
            props = _props(c.get("properties"))
            raw = c.get("properties")
            raw_props: list[Any] = raw if isinstance(raw, list) else []
            locs = tuple(str(p.get("value", "")) for p in raw_props
                         if isinstance(p, dict) and p.get("name") in ("containerguard:location", "aquasecurity:trivy:FilePath"))
            pkg = package_from_purl(purl, props, locations=locs, layer=_cdx_layer(props, layers))
            if pkg is not None:
                pkgs.append(pkg)
            else:
                skipped["purl"] += 1
        elif c.get("type") in (None, "library", "application", "framework"):
            skipped["no purl"] += 1
    meta: dict[str, Any] = doc["metadata"] if isinstance(doc.get("metadata"), dict) else {}
    comp = meta.get("component")
    target = str(comp.get("name", "")) if isinstance(comp, dict) else ""
    return Inventory(target=target or f"sbom:{name}", os=os_info or _os_from_distro(pkgs), packages=tuple(pkgs),
                     layers=tuple(sorted(layers.values(), key=lambda x: x.index)), created=str(meta.get("timestamp", "")),
                     warnings=_skipped_lines(skipped, name, "components"))


def _objects(items: Any, name: str, fmt: str, where: str) -> list[dict[str, Any]]:
    """``items`` (a list of objects, or absent), else ReportError: a document whose package list is not one
    is not read as an empty SBOM (that would pass a vulnerability gate it never met)."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise ReportError(f"{name}: not valid {fmt}: {where} is not a list")
    for i, it in enumerate(items):
        if not isinstance(it, dict):
            raise ReportError(f"{name}: not valid {fmt}: {where}[{i}] is not an object")
    return items


def _skipped_lines(skipped: Counter[str], name: str, what: str) -> tuple[str, ...]:
    """One warning per kind of entry that gave no package (counted): a gate that passes says so."""
    out = []
    if skipped["purl"]:
        out.append(f"{name}: {skipped['purl']} {what} skipped: their purl is malformed, has no version or is of a "
                   "type with no advisories")
    if skipped["no purl"]:
        out.append(f"{name}: {skipped['no purl']} {what} without a purl skipped (nothing to match them by)")
    return tuple(out)


def _cdx_layer(props: Mapping[str, str], layers: dict[tuple[int, str], Layer]) -> Layer | None:
    """The layer a component came from (ContainerGuard's ``containerguard:layer:*`` properties)."""
    idx, digest = props.get("containerguard:layer:index", ""), props.get("containerguard:layer:digest", "")
    if not idx.isdigit() or not digest:
        return None
    key = (int(idx), digest)
    if key not in layers:
        layers[key] = Layer(key[0], digest, props.get("containerguard:layer:diff_id", ""),
                            created_by=props.get("containerguard:layer:created_by", ""))
    return layers[key]


def _spdx_source_info(info: Any, layers: dict[tuple[int, str], Layer]
                      ) -> tuple[dict[str, str], tuple[str, ...], Layer | None]:
    """Source package, locations and layer from an SPDX ``sourceInfo`` as ContainerGuard, syft and Trivy
    write it ("source package: glibc 2.36-9; locations: a, b; layer 0 sha256:..." / "built package from: ...")."""
    props: dict[str, str] = {}
    locs: tuple[str, ...] = ()
    layer: Layer | None = None
    if not isinstance(info, str):
        return props, locs, layer
    for part in info.split("; "):
        for prefix in ("source package: ", "built package from: "):
            if part.startswith(prefix):
                words = part.removeprefix(prefix).split()
                if words:
                    props["containerguard:package:source_name"] = words[0]
                if len(words) > 1:
                    props["containerguard:package:source_version"] = words[1]
        if part.startswith("locations: "):
            locs = tuple(x.strip() for x in part.removeprefix("locations: ").split(",") if x.strip())
        m = _SPDX_LAYER.match(part)
        if m:
            key = (int(m.group(1)), m.group(2))
            layer = layers.setdefault(key, Layer(key[0], key[1], created_by=m.group(3) or ""))
    return props, locs, layer


def _spdx(doc: dict[str, Any], name: str) -> Inventory:
    os_info: OSInfo | None = None
    pkgs: list[Package] = []
    layers: dict[tuple[int, str], Layer] = {}
    skipped = Counter[str]()
    for i, sp in enumerate(_objects(doc.get("packages"), name, "SPDX", "packages")):
        if sp.get("primaryPackagePurpose") in ("OPERATING-SYSTEM", "OPERATING_SYSTEM"):
            os_info = _os_from(str(sp.get("name", "")), str(sp.get("versionInfo", "")))
            continue
        for ref in _objects(sp.get("externalRefs"), name, "SPDX", f"packages[{i}].externalRefs"):
            if ref.get("referenceType") == "purl" and isinstance(ref.get("referenceLocator"), str):
                props, locs, layer = _spdx_source_info(sp.get("sourceInfo"), layers)
                pkg = package_from_purl(ref["referenceLocator"], props, locations=locs, layer=layer)
                if pkg is not None:
                    pkgs.append(pkg)
                else:
                    skipped["purl"] += 1
                break
        else:
            if sp.get("primaryPackagePurpose") in (None, "LIBRARY", "APPLICATION", "FRAMEWORK"):
                skipped["no purl"] += 1
    ci: dict[str, Any] = doc["creationInfo"] if isinstance(doc.get("creationInfo"), dict) else {}
    return Inventory(target=str(doc.get("name") or f"sbom:{name}"), os=os_info or _os_from_distro(pkgs),
                     packages=tuple(pkgs), layers=tuple(sorted(layers.values(), key=lambda x: x.index)),
                     created=str(ci.get("created", "")), warnings=_skipped_lines(skipped, name, "packages"))


def _s(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError("expected a string")
    return v


def _strs(v: Any) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise TypeError("expected a list of strings")
    return tuple(v)


_new_package = positional_builder(Package)
#: a native package object's fields in Package order (docs/formats.md), and its source's
_package_fields = itemgetter("name", "version", "type", "purl", "locations", "layer", "arch", "source", "epoch",
                             "release", "licenses", "analyzer", "metadata")
_source_fields = itemgetter("name", "version")
_STR_TYPE = frozenset({str})


def _native_fast(doc: dict[str, Any]) -> Inventory | None:
    """The common case of a native document (docs/formats.md, schema_version 1) read without pydantic:
    rescans load thousands of stored inventories. Every field is type-checked; anything unexpected (or
    file findings to rebuild) returns None and the validating loader in report.native takes over."""
    try:
        if doc.get("schema_version") != 1 or doc.get("file_findings") or not isinstance(doc.get("os"), dict):
            return None
        o = doc["os"]
        os_info = OSInfo(_s(o.get("family", "unknown")), _s(o.get("version", "")), _s(o.get("name", "")),
                         _s(o.get("codename", "")), bool(o.get("distroless", False)), bool(o.get("eosl", False)))
        layers: dict[tuple[int, str], Layer] = {}

        def layer(d: Any) -> Layer | None:
            if d is None:
                return None
            key = (int(d["index"]), _s(d["digest"]))
            got = layers.get(key)
            if got is None:
                got = layers[key] = Layer(key[0], key[1], _s(d.get("diff_id", "")), int(d.get("size", 0)),
                                          _s(d.get("created_by", "")), _s(d.get("media_type", "")))
            return got

        pkgs: list[Package] = []
        add = pkgs.append
        new = _new_package
        for p in doc.get("packages") or []:
            # one C-level lookup of every field (a missing key raises KeyError: the validating loader decides)
            name, version, typ, purl, locs, lay, arch, src, epoch, release, lic, analyzer, meta = _package_fields(p)
            sname, sver = _source_fields(src)
            if (type(name) is not str or type(version) is not str or type(typ) is not str or type(purl) is not str
                    or type(arch) is not str or type(sname) is not str or type(sver) is not str
                    or type(release) is not str or type(analyzer) is not str or type(meta) is not dict
                    or type(locs) is not list or type(lic) is not list
                    or (meta and not _STR_TYPE.issuperset(map(type, meta.values())))):
                return None
            add(new((name, version, typ, purl, _strs(locs) if locs else (), None if lay is None else layer(lay), arch,
                     sname, sver, None if epoch is None else int(epoch), release, _strs(lic) if lic else (), analyzer,
                     meta)))
        all_layers = tuple(x for x in (layer(d) for d in doc.get("layers") or []) if x is not None)
        inv_meta = doc.get("inventory") or {}
        img = doc.get("image")
        image = None
        if isinstance(img, dict):
            image = ImageMeta(_s(img.get("id", "")), _strs(img.get("repo_tags", [])), _strs(img.get("repo_digests", [])),
                              _s(img.get("architecture", "")), _s(img.get("os", "")), _s(img.get("created", "")),
                              dict(img.get("config") or {}), tuple(dict(h) for h in img.get("history") or []))
        return Inventory(target=_s(inv_meta.get("target") or doc["target"]), os=os_info, packages=tuple(pkgs),
                         layers=all_layers, image=image, warnings=_strs(inv_meta.get("warnings", [])),
                         created=_s(inv_meta.get("created", "")))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
