"""Kubernetes manifest checks (CG-K8S-*): every Pod Security Standards control, plus resources, images,
service-account tokens and RBAC wildcards.

Manifests are composed (not constructed) with libyaml through :func:`containerguard.yamlsafe.compose_all`
(the one hardened YAML loader; its :func:`~containerguard.yamlsafe.expanded_size` is the bomb check): checks walk the node
graph directly, so every finding carries the document line of the offending field and large
documents that are not workloads (CRDs, ConfigMaps) cost only their parse. Aliases are never expanded:
a document whose alias-expanded size would exceed :data:`MAX_EXPANDED_NODES` (billion laughs) is
refused with a counted warning; libyaml itself refuses nesting deeper than 1000 levels.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from containerguard import yamlsafe
from containerguard.misconfig.catalog import make_finding
from containerguard.model import Finding

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_EXPANDED_NODES = yamlsafe.MAX_EXPANDED_NODES
_TAGS: dict[Any, str] = {ScalarNode: "tag:yaml.org,2002:str", SequenceNode: "tag:yaml.org,2002:seq",
                         MappingNode: "tag:yaml.org,2002:map"}


def _make_loader() -> Any:
    """libyaml parser + composer whose scalar tags are not resolved (the checks read values themselves):
    PyYAML's implicit resolver is pure Python and runs per scalar, about half the parse time."""
    parser: Any = getattr(yaml, "cyaml", None) and getattr(yaml.cyaml, "CParser", None)
    if parser is None:  # pragma: no cover - PyYAML built without libyaml
        return yaml.SafeLoader

    class _Loader(parser, yaml.constructor.SafeConstructor, yaml.resolver.BaseResolver):  # type: ignore[misc]
        def __init__(self, stream: str) -> None:
            parser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.BaseResolver.__init__(self)

        def descend_resolver(self, current_node: Any, current_index: Any) -> None:
            return None

        def ascend_resolver(self) -> None:
            return None

        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            return _TAGS[kind]

    return _Loader


_LOADER: Any = _make_loader()


def _compose_all(text: str) -> Iterator[Node]:
    return yamlsafe.compose_all(text, _LOADER)


POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "PodTemplate": ("template", "spec"),
}
CONTAINER_FIELDS = ("initContainers", "containers", "ephemeralContainers")
BASELINE_CAPS = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
                 "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                "net.ipv4.tcp_keepalive_probes"}
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                      "projected", "secret"}
_SOURCE = re.compile(r"^# Source: (.+)$", re.M)
_ANCHOR = re.compile(r"(?:^|[:\-]\s+|[\[{,]\s*)&[A-Za-z0-9_.\-]+(?=\s|$)", re.M)
_ALIAS = re.compile(r"(?:^|[:\-]\s+|[\[{,]\s*)\*[A-Za-z0-9_.\-]+", re.M)


@dataclass(slots=True)
class K8sResult:
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files: int = 0
    documents: int = 0
    objects: int = 0  # Kubernetes objects (apiVersion + kind) checked
    skipped: int = 0  # files or documents refused (bomb, binary, huge, invalid)

    def merge(self, other: K8sResult) -> None:
        self.findings += other.findings
        self.warnings += other.warnings
        self.files += other.files
        self.documents += other.documents
        self.objects += other.objects
        self.skipped += other.skipped


# ----------------------------------------------------------------------------- node helpers


def _get(node: Node | None, key: str) -> Node | None:
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == key:
                return v  # type: ignore[no-any-return]
    return None


def _path(node: Node | None, keys: Iterable[str]) -> Node | None:
    for k in keys:
        node = _get(node, k)
        if node is None:
            return None
    return node


_NULLS = {"", "~", "null", "Null", "NULL"}


def _str(node: Node | None) -> str | None:
    if not isinstance(node, ScalarNode):
        return None
    if not node.style and node.value in _NULLS:  # plain null (style None, or '' from libyaml)
        return None
    return node.value  # type: ignore[no-any-return]


def _bool(node: Node | None) -> bool | None:
    if not isinstance(node, ScalarNode):
        return None
    v = node.value.lower()
    if v in ("true", "yes", "on", "y"):
        return True
    if v in ("false", "no", "off", "n"):
        return False
    return None


def _int(node: Node | None) -> int | None:
    s = _str(node)
    if s is None:
        return None
    try:
        return int(s, 0) if s.lower().startswith(("0x", "0o")) else int(s)
    except ValueError:
        return None


def _items(node: Node | None) -> list[Node]:
    return list(node.value) if isinstance(node, SequenceNode) else []


def _line(node: Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


# ----------------------------------------------------------------------------- merge and repeated keys


def _resolve_keys(root: Node) -> list[tuple[str, int]]:
    """Give every mapping reachable from ``root`` the pairs a YAML-to-JSON reader sees, in place: merge keys
    (``<<: *defaults`` or ``<<: [*a, *b]``) resolved as PyYAML and Helm do (explicit keys win over merged
    ones, an earlier merged mapping over a later one), and a repeated key replaced by its last value, as the
    API server (JSON) and Helm keep it. The checks read one pair per key, so without this a merged
    ``privileged: true`` was never seen and a repeated key was judged by its first, overridden value.

    Returns the repeated keys (name, 0-based line). A merge source is resolved before it is merged; an alias
    cycle is cut, never followed (the bomb check refuses such a document before this runs)."""
    mappings: list[MappingNode] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            mappings.append(node)
            stack.extend(v for _, v in node.value if not isinstance(v, ScalarNode))
        elif isinstance(node, SequenceNode):
            stack.extend(v for v in node.value if not isinstance(v, ScalarNode))
    repeats: list[tuple[str, int]] = []
    state: dict[int, bool] = {}  # id -> resolved (False while in progress)
    for m in reversed(mappings):  # children before parents
        _resolve_mapping(m, repeats, state)
    return repeats


def _is_merge(key: Node) -> bool:
    return isinstance(key, ScalarNode) and key.value == "<<" and not key.style  # plain: None, or '' from libyaml


def _resolve_mapping(node: MappingNode, repeats: list[tuple[str, int]], state: dict[int, bool]) -> None:
    if id(node) in state:
        return
    pairs = node.value
    keys = {k.value for k, _ in pairs if isinstance(k, ScalarNode)}
    if "<<" not in keys and len(keys) == len(pairs):
        state[id(node)] = True
        return  # the common case: nothing to change
    state[id(node)] = False
    merged: dict[str, tuple[Node, Node]] = {}
    explicit: dict[str, tuple[Node, Node]] = {}
    other: list[tuple[Node, Node]] = []
    for k, v in pairs:
        if _is_merge(k):
            for src in [v] if isinstance(v, MappingNode) else _items(v):
                if isinstance(src, MappingNode):
                    _resolve_mapping(src, repeats, state)  # a chain of defaults: resolve the source first
                    for sk, sv in src.value:
                        if isinstance(sk, ScalarNode) and not _is_merge(sk):
                            merged.setdefault(sk.value, (sk, sv))
        elif isinstance(k, ScalarNode):
            if k.value in explicit:
                repeats.append((k.value, k.start_mark.line))
            explicit[k.value] = (k, v)
        else:
            other.append((k, v))
    merged.update(explicit)
    node.value = [*merged.values(), *other]
    state[id(node)] = True


# ----------------------------------------------------------------------------- checks


@dataclass(slots=True)
class _Obj:
    path: str
    doc: int  # 0-based document index in the file
    kind: str
    name: str
    namespace: str
    source: str  # Helm "# Source:" template, when present
    out: list[Finding]
    line_off: int = 0

    def add(self, check_id: str, node_or_line: Node | int | None, field_path: str, message: str = "") -> None:
        line = node_or_line if isinstance(node_or_line, int) or node_or_line is None else _line(node_or_line)
        if line is not None:
            line += self.line_off
        obj = f"{self.kind}/{self.namespace + '/' if self.namespace else ''}{self.name}"
        self.out.append(make_finding(
            check_id, target=self.path, path=self.path, line=line,
            message=f"{obj}: {field_path}" + (f" ({message})" if message else ""),
            match=f"{obj} {field_path}" + (f" = {message}" if message else ""),
            extra={"kind": self.kind, "name": self.name, "namespace": self.namespace, "document": self.doc,
                   "field": field_path, "source": self.source},
        ))


def _check_pod_spec(o: _Obj, spec: Node, prefix: str, annotations: Node | None) -> None:
    p = prefix
    for fname, cid in (("hostNetwork", "CG-K8S-002"), ("hostPID", "CG-K8S-003"), ("hostIPC", "CG-K8S-004")):
        n = _get(spec, fname)
        if _bool(n):
            o.add(cid, n, f"{p}.{fname}")
    psc = _get(spec, "securityContext")
    _check_volumes(o, spec, p)
    # sysctls
    for i, sc in enumerate(_items(_get(psc, "sysctls"))):
        name = _str(_get(sc, "name")) or ""
        if name not in SAFE_SYSCTLS:
            o.add("CG-K8S-013", sc, f"{p}.securityContext.sysctls[{i}]", name)
    pod_sec = _sec_fields(psc)
    _check_sec_common(o, psc, f"{p}.securityContext", pod_level=True)
    if _bool(_get(spec, "automountServiceAccountToken")) is not False:
        n = _get(spec, "automountServiceAccountToken")
        o.add("CG-K8S-025", n if n is not None else spec, f"{p}.automountServiceAccountToken")
    _check_apparmor_annotations(o, annotations)
    for cf in CONTAINER_FIELDS:
        for i, c in enumerate(_items(_get(spec, cf))):
            if isinstance(c, MappingNode):
                _check_container(o, c, f"{p}.{cf}[{i}]", pod_sec, ephemeral=cf == "ephemeralContainers")


def _check_volumes(o: _Obj, spec: Node, p: str) -> None:
    """hostPath volumes (CG-K8S-007) and volume types outside the restricted profile's list (CG-K8S-014)."""
    for i, vol in enumerate(_items(_get(spec, "volumes"))):
        if not isinstance(vol, MappingNode):
            continue
        for k, v in vol.value:
            key = k.value if isinstance(k, ScalarNode) else ""
            if key == "name":
                continue
            if key == "hostPath":
                hp = _str(_get(v, "path")) or ""
                o.add("CG-K8S-007", v, f"{p}.volumes[{i}].hostPath", hp)
            if key not in RESTRICTED_VOLUMES:
                o.add("CG-K8S-014", k, f"{p}.volumes[{i}].{key}")


def _check_apparmor_annotations(o: _Obj, annotations: Node | None) -> None:
    """AppArmor profiles set by annotation (the pre-1.30 form): only runtime/default or localhost/*."""
    if not isinstance(annotations, MappingNode):
        return
    for k, v in annotations.value:
        key = k.value if isinstance(k, ScalarNode) else ""
        if key.startswith("container.apparmor.security.beta.kubernetes.io/"):
            val = _str(v) or ""
            if val and val != "runtime/default" and not val.startswith("localhost/"):
                o.add("CG-K8S-009", v, f"metadata.annotations[{key}]", val)


def _sec_fields(sc: Node | None) -> dict[str, Any]:
    return {
        "runAsNonRoot": _bool(_get(sc, "runAsNonRoot")),
        "runAsUser": _int(_get(sc, "runAsUser")),
        "seccomp": _str(_path(sc, ("seccompProfile", "type"))),
    }


def _check_sec_common(o: _Obj, sc: Node | None, p: str, *, pod_level: bool) -> None:
    """Controls that exist at both pod and container level."""
    if sc is None:
        return
    hp = _path(sc, ("windowsOptions", "hostProcess"))
    if _bool(hp):
        o.add("CG-K8S-001", hp, f"{p}.windowsOptions.hostProcess")
    se = _get(sc, "seLinuxOptions")
    if se is not None:
        t = _str(_get(se, "type")) or ""
        if t not in SELINUX_TYPES:
            o.add("CG-K8S-010", _get(se, "type"), f"{p}.seLinuxOptions.type", t)
        for f in ("user", "role"):
            n = _get(se, f)
            if _str(n):
                o.add("CG-K8S-010", n, f"{p}.seLinuxOptions.{f}", _str(n) or "")
    seccomp = _path(sc, ("seccompProfile", "type"))
    if _str(seccomp) == "Unconfined":
        o.add("CG-K8S-012", seccomp, f"{p}.seccompProfile.type")
    aa = _path(sc, ("appArmorProfile", "type"))
    if _str(aa) not in (None, "RuntimeDefault", "Localhost"):
        o.add("CG-K8S-009", aa, f"{p}.appArmorProfile.type", _str(aa) or "")
    ru = _get(sc, "runAsUser")
    if _int(ru) == 0:
        o.add("CG-K8S-017", ru, f"{p}.runAsUser")


def _check_container(o: _Obj, c: Node, p: str, pod: dict[str, Any], *, ephemeral: bool) -> None:
    sc = _get(c, "securityContext")
    sp = f"{p}.securityContext"
    cline = _line(c)
    priv = _get(sc, "privileged")
    if _bool(priv):
        o.add("CG-K8S-005", priv, f"{sp}.privileged")
    _check_sec_common(o, sc, sp, pod_level=False)
    _check_capabilities(o, sc, sp, cline)
    for i, port in enumerate(_items(_get(c, "ports"))):
        hp = _get(port, "hostPort")
        if (_int(hp) or 0) != 0:
            o.add("CG-K8S-008", hp, f"{p}.ports[{i}].hostPort", str(_int(hp)))
    pm = _get(sc, "procMount")
    if _str(pm) not in (None, "Default"):
        o.add("CG-K8S-011", pm, f"{sp}.procMount", _str(pm) or "")
    ape = _get(sc, "allowPrivilegeEscalation")
    if _bool(ape) is not False:
        o.add("CG-K8S-015", ape if ape is not None else (sc if sc is not None else cline),
              f"{sp}.allowPrivilegeEscalation")
    rnr = _bool(_get(sc, "runAsNonRoot"))
    if not (rnr is True or (rnr is None and pod["runAsNonRoot"] is True)):
        rnr_node = _get(sc, "runAsNonRoot")
        o.add("CG-K8S-016", rnr_node if rnr_node is not None else (sc if sc is not None else cline),
              f"{sp}.runAsNonRoot")
    seccomp = _str(_path(sc, ("seccompProfile", "type"))) or pod["seccomp"]
    if seccomp not in ("RuntimeDefault", "Localhost"):
        o.add("CG-K8S-018", sc if sc is not None else cline, f"{sp}.seccompProfile.type", seccomp or "unset")
    ro = _get(sc, "readOnlyRootFilesystem")
    if _bool(ro) is not True:
        o.add("CG-K8S-027", ro if ro is not None else (sc if sc is not None else cline), f"{sp}.readOnlyRootFilesystem")
    if not ephemeral:
        _check_resources(o, c, p, cline)
    _check_image_ref(o, c, p)


def _check_capabilities(o: _Obj, sc: Node | None, sp: str, cline: int | None) -> None:
    """Added capabilities beyond the baseline (CG-K8S-006) or beyond NET_BIND_SERVICE (020); ALL not
    dropped (019)."""
    caps = _get(sc, "capabilities")
    added = [(n, (_str(n) or "").upper()) for n in _items(_get(caps, "add"))]
    for n, cap in added:
        if cap.removeprefix("CAP_") not in BASELINE_CAPS:
            o.add("CG-K8S-006", n, f"{sp}.capabilities.add", cap)
        if cap.removeprefix("CAP_") != "NET_BIND_SERVICE":
            o.add("CG-K8S-020", n, f"{sp}.capabilities.add", cap)
    dropped = {(_str(n) or "").upper() for n in _items(_get(caps, "drop"))}
    if "ALL" not in dropped:
        o.add("CG-K8S-019", caps if caps is not None else (sc if sc is not None else cline), f"{sp}.capabilities.drop")


def _check_resources(o: _Obj, c: Node, p: str, cline: int | None) -> None:
    """CPU and memory limits (CG-K8S-021) and requests (022)."""
    res = _get(c, "resources")
    lim, req = _get(res, "limits"), _get(res, "requests")
    missing = [k for k in ("cpu", "memory") if _get(lim, k) is None]
    if missing:
        o.add("CG-K8S-021", lim or res or cline, f"{p}.resources.limits", "no " + " and ".join(missing))
    missing = [k for k in ("cpu", "memory") if _get(req, k) is None]
    if missing:
        o.add("CG-K8S-022", req or res or cline, f"{p}.resources.requests", "no " + " and ".join(missing))


def _check_image_ref(o: _Obj, c: Node, p: str) -> None:
    """An image without a tag or with :latest (CG-K8S-023), and without a digest (024)."""
    img = _get(c, "image")
    ref = _str(img)
    if ref is not None:
        name, _, digest = ref.partition("@")
        tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else None
        if not digest and (tag is None or tag == "latest"):
            o.add("CG-K8S-023", img, f"{p}.image", ref)
        if not digest:
            o.add("CG-K8S-024", img, f"{p}.image", ref)


def _check_rbac(o: _Obj, root: Node) -> None:
    for i, rule in enumerate(_items(_get(root, "rules"))):
        for f in ("verbs", "resources", "apiGroups"):
            vals = _items(_get(rule, f))
            if any(_str(v) == "*" for v in vals):
                o.add("CG-K8S-026", _get(rule, f), f"rules[{i}].{f}", "'*'")


#: where other kinds keep a pod template (OpenShift DeploymentConfig, Argo Rollout, Knative, operators' CRs)
_TEMPLATE_PATHS = (("spec", "template", "spec"), ("spec", "jobTemplate", "spec", "template", "spec"))


def _template_path(root: Node) -> tuple[str, ...] | None:
    """The pod spec path of a kind not listed in POD_SPEC_PATHS that carries ``spec.template.spec.containers``."""
    return next((p for p in _TEMPLATE_PATHS if _get(_path(root, p), "containers") is not None), None)


def _is_patch_fragment(spec: Node) -> bool:
    """A kustomize patch (strategic merge) names containers without images: not a workload by itself, so no
    check runs on it (none of the pod-level or container-level ones)."""
    containers = [c for cf in ("initContainers", "containers") for c in _items(_get(spec, cf))
                  if isinstance(c, MappingNode)]
    return any(_get(c, "image") is None for c in containers)


def _check_object(path: str, doc: int, root: Node, source: str, out: list[Finding], line_off: int = 0) -> int:
    """Check one Kubernetes object (recursing into List items); returns the number of objects seen."""
    kind = _str(_get(root, "kind")) or ""
    if kind == "List" or (kind.endswith("List") and _get(root, "items") is not None):
        return sum(_check_object(path, doc, item, source, out, line_off) for item in _items(_get(root, "items"))
                   if isinstance(item, MappingNode))
    if _get(root, "apiVersion") is None or not kind:
        return 0
    meta = _get(root, "metadata")
    name = _str(_get(meta, "name")) or _str(_get(meta, "generateName")) or ""
    o = _Obj(path, doc, kind, name, _str(_get(meta, "namespace")) or "", source, out,
             line_off)
    spec_path = POD_SPEC_PATHS.get(kind) or _template_path(root)
    if spec_path is not None:
        spec = _path(root, spec_path)
        if isinstance(spec, MappingNode) and not _is_patch_fragment(spec):
            tmpl_meta = _path(root, (*spec_path[:-1], "metadata")) if len(spec_path) > 1 else meta
            _check_pod_spec(o, spec, ".".join(spec_path), _get(tmpl_meta, "annotations"))
    elif kind in ("Role", "ClusterRole"):
        _check_rbac(o, root)
    return 1


_DOC_SPLIT = re.compile(r"^---[ \t]*(?:#[^\n]*)?$", re.M)
_TOP_KIND = re.compile(r"^kind:[ \t]*[\"']?([A-Za-z0-9]+)[\"']?[ \t]*(?:#.*)?$", re.M)
_TOP_API = re.compile(r"^apiVersion:", re.M)
_CHECKED_KINDS = {*POD_SPEC_PATHS, "Role", "ClusterRole"}


def _split_documents(text: str) -> list[tuple[int, int, str]]:
    """(line offset, char offset, text) per document; a ``---`` at column 0 always starts a document."""
    out: list[tuple[int, int, str]] = []
    start, line = 0, 0
    for m in _DOC_SPLIT.finditer(text):
        out.append((line, start, text[start:m.start()]))
        line += text.count("\n", start, m.end())
        start = m.end()
    out.append((line, start, text[start:]))
    return out


def scan_yaml_text(text: str, path: str = "<string>") -> K8sResult:
    """Check every Kubernetes object in one YAML text (multi-document, List kinds, Helm output).

    Documents are split at column-0 ``---`` markers first; a document whose top-level ``kind:`` names a
    kind with no checks (CRD, ConfigMap, Service ...) is counted without being parsed.
    """
    res = K8sResult(files=1)
    if "\x00" in text:
        res.warnings.append(f"{path}: skipped: binary file")
        res.skipped += 1
        return res
    sources = [(m.start(), m.group(1).strip()) for m in _SOURCE.finditer(text)] if "# Source:" in text else []
    doc_index = 0
    for line_off, char_off, chunk in _split_documents(text):
        kinds = _TOP_KIND.findall(chunk)  # a repeated kind: the last one counts, so every one must be unchecked
        if kinds and not any(k in _CHECKED_KINDS or k.endswith("List") for k in kinds) \
                and "containers" not in chunk and "<<" not in chunk:  # pod templates under other kinds
            # ("containers" without its colon: a quoted key, "containers": [...], is a key all the same)
            res.documents += 1
            res.objects += 1 if _TOP_API.search(chunk) else 0
            doc_index += 1
            continue
        if not chunk.strip():
            continue
        sub = _scan_chunk(chunk, path, doc_index, line_off, char_off, sources)
        doc_index += max(sub.documents, 1)
        res.merge(sub)
        res.files -= sub.files
        if sub.skipped and any("invalid YAML" in w for w in sub.warnings):
            break
    return res


def _scan_chunk(text: str, path: str, first_doc: int, line_off: int, char_off: int,
                sources: list[tuple[int, str]]) -> K8sResult:
    """Check every Kubernetes object in one YAML text (multi-document, List kinds, Helm output)."""
    res = K8sResult(files=1)
    check_bombs = "&" in text and _ANCHOR.search(text) is not None and _ALIAS.search(text) is not None
    try:
        for i, root in enumerate(_compose_all(text)):
            doc_index = first_doc + i
            if root is None:
                continue
            res.documents += 1
            if check_bombs and yamlsafe.expanded_size(root, MAX_EXPANDED_NODES) > MAX_EXPANDED_NODES:
                res.warnings.append(f"{path}: document {doc_index + 1} (line {line_off + (_line(root) or 0)}) skipped: alias expansion "
                                    f"exceeds {MAX_EXPANDED_NODES} nodes (YAML bomb?)")
                res.skipped += 1
                continue
            if not isinstance(root, MappingNode):
                continue
            for key, line in _resolve_keys(root):
                res.warnings.append(f"{path}:{line_off + line + 1}: duplicate key '{key}' (the last value is "
                                    "checked, as the Kubernetes API server keeps it)")
            source = ""
            if sources:
                pos = char_off + root.start_mark.index
                for off, src in sources:
                    if off <= pos:
                        source = src
            res.objects += _check_object(path, doc_index, root, source, res.findings, line_off)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {line_off + mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        res.warnings.append(f"{path}: invalid YAML{where}: {problem}; rest of file skipped")
        res.skipped += 1
    except RecursionError:
        res.warnings.append(f"{path}: skipped: nesting too deep")
        res.skipped += 1
    return res


def scan_manifest(path: str | Path) -> K8sResult:
    """Check one manifest file; unreadable, binary, huge or hostile files are skipped with a warning."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            return K8sResult(files=1, skipped=1,
                             warnings=[f"{p}: skipped: {size} bytes is larger than {MAX_FILE_BYTES}"])
        data = p.read_bytes()
    except OSError as exc:
        return K8sResult(files=1, skipped=1, warnings=[f"{p}: skipped: cannot read: {exc.strerror}"])
    if b"\x00" in data:
        return K8sResult(files=1, skipped=1, warnings=[f"{p}: skipped: binary file"])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return K8sResult(files=1, skipped=1, warnings=[f"{p}: skipped: not UTF-8 text"])
    return scan_yaml_text(text, str(p))


def scan_manifests(paths: Iterable[str | Path]) -> K8sResult:
    total = K8sResult()
    for p in paths:
        total.merge(scan_manifest(p))
    return total


def iter_pss_controls() -> Iterator[tuple[str, str]]:
    """(check id, PSS control) for every check that implements a Pod Security Standards control."""
    from containerguard.misconfig.catalog import catalog

    for m in catalog().values():
        if m.references.pss:
            yield m.id, m.references.pss
