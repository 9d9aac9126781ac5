"""The input document policies are evaluated over (version :data:`DOC_VERSION`; documented in docs/policies.md).

Every key is always present (with an empty or "unknown" value) so that conditions never hit a missing key
by accident: a missing key is an evaluation error, and errors are never silently allowed. Builders:

* :func:`from_scan` -- build stage: an image scan (image, findings, packages, misconfigurations, secrets);
* :func:`from_k8s_object` -- deploy stage: one document per container of a Pod or of any workload kind;
* :func:`from_docker_create` / :func:`from_docker_exec` / :func:`from_docker_service` / :func:`from_docker_plugin`
  -- deploy stage: Docker Engine API request bodies;
* :func:`from_alert` -- runtime stage: an alert of the runtime agent;
* :func:`complete` -- a partial document (a user's test input) filled up with the defaults.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from containerguard.errors import PolicyError
from containerguard.model import Alert, Finding, FindingKind, Inventory


class ScanLike(Protocol):
    """What :func:`from_scan` reads of a scan result (``containerguard.scanner.ScanResult``)."""

    @property
    def inventory(self) -> Inventory: ...
    @property
    def findings(self) -> tuple[Finding, ...]: ...

DOC_VERSION = "1"
Doc = dict[str, Any]

_BLANK_IMAGE: Doc = {
    "known": False, "name": "", "registry": "", "repository": "", "tag": "", "digest": "", "created": "",
    "age_days": -1, "user": "", "env": {}, "exposed_ports": [], "labels": {}, "layers": 0,
    "os": {"family": "unknown", "version": "", "name": "", "eol": False, "supported": False},
}
_BLANK_CONTAINER: Doc = {
    "name": "", "image": "", "init": False, "privileged": False, "allow_privilege_escalation": False,
    "no_new_privileges": False, "capabilities": {"add": [], "drop": []}, "host_pid": False,
    "host_network": False, "host_ipc": False, "host_ports": [], "mounts": [], "user": "", "run_as_user": -1,
    "run_as_non_root": False, "read_only_root_filesystem": False,
    "resources": {"limits": {}, "requests": {}}, "seccomp": "", "apparmor": "", "env": {}, "ports": [],
    "command": [],
    "host_uts": False, "host_cgroupns": False, "user_namespace": "", "devices": [], "device_cgroup_rules": [],
    "device_requests": [], "sysctls": {}, "proc_mount": "default",
    "selinux": {"disabled": False, "type": "", "user": "", "role": ""},
}
_BLANK_WORKLOAD: Doc = {"kind": "", "name": "", "namespace": "", "labels": {}, "annotations": {},
                        "service_account": "", "operation": ""}
_BLANK_ALERT: Doc = {"rule": "", "priority": "", "priority_level": 0, "tags": [], "output": "", "source": "",
                     "container_id": "", "container_name": "", "image": "", "namespace": "", "pod": "",
                     "fields": {}}


def blank(stage: str) -> Doc:
    """A complete document of ``stage`` with every key at its empty value."""
    return {"version": DOC_VERSION, "stage": stage, "image": copy.deepcopy(_BLANK_IMAGE), "findings": [],
            "packages": [], "misconfigurations": [], "secrets": [], "container": copy.deepcopy(_BLANK_CONTAINER),
            "workload": copy.deepcopy(_BLANK_WORKLOAD), "alert": copy.deepcopy(_BLANK_ALERT)}


_BLANK_FINDING: Doc = {"id": "", "kind": "vulnerability", "severity": "UNKNOWN", "cvss": 0.0, "epss": 0.0,
                       "kev": False, "fixed": False, "fixed_version": "", "status": "", "title": "",
                       "package": {"name": "", "version": "", "type": "", "purl": ""}}
_BLANK_MOUNT: Doc = {"source": "", "destination": "", "type": "", "read_only": False}
_BLANK_DEVICE: Doc = {"host_path": "", "container_path": "", "permissions": ""}
_BLANK_PACKAGE: Doc = {"name": "", "version": "", "type": "", "purl": ""}
_BLANK_ISSUE: Doc = {"id": "", "severity": "UNKNOWN", "title": "", "path": ""}


def complete(partial: Mapping[str, Any], stage: str | None = None) -> Doc:
    """Fill a partial document (a test input, a document from elsewhere) up with the defaults; list items too."""
    if not isinstance(partial, Mapping):
        raise PolicyError("an input document is a mapping (see docs/policies.md)")
    version = str(partial.get("version", DOC_VERSION))
    if version != DOC_VERSION:
        raise PolicyError(f"input document version {version!r} is not supported (this version reads {DOC_VERSION})")
    doc = _merge(blank(str(partial.get("stage", stage or "build"))), partial)
    doc["findings"] = [_merge(copy.deepcopy(_BLANK_FINDING), f) for f in _items(doc["findings"], "findings")]
    doc["packages"] = [_merge(dict(_BLANK_PACKAGE), p) for p in _items(doc["packages"], "packages")]
    doc["misconfigurations"] = [_merge(dict(_BLANK_ISSUE), p) for p in _items(doc["misconfigurations"], "misconfigurations")]
    doc["secrets"] = [_merge(dict(_BLANK_ISSUE), p) for p in _items(doc["secrets"], "secrets")]
    doc["container"]["mounts"] = [_merge(dict(_BLANK_MOUNT), m) for m in _items(doc["container"]["mounts"], "container.mounts")]
    doc["container"]["devices"] = [_merge(dict(_BLANK_DEVICE), d) for d in _items(doc["container"]["devices"], "container.devices")]
    if stage is not None:
        doc["stage"] = stage
    return doc


def _items(value: Any, where: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise PolicyError(f"input document: {where} must be a list of mappings")
    return value


def _merge(base: Doc, over: Mapping[str, Any]) -> Doc:
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(base.get(k), dict) and base[k]:
            base[k] = _merge(base[k], v)
        else:
            base[k] = copy.deepcopy(v) if isinstance(v, Mapping | list) else v
    return base


# ------------------------------------------------------------------ image references

_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-fA-F0-9]{32,}$")


def parse_image_ref(ref: str) -> dict[str, str]:
    """``[REGISTRY/]REPO[:TAG][@DIGEST]`` -> registry (docker.io by default), repository, tag, digest.
    Docker Hub single-name repositories get their ``library/`` prefix, as the Engine resolves them."""
    name, _, digest = ref.partition("@")
    if digest and not _DIGEST_RE.match(digest):
        digest = ""
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = "docker.io", name
    tag = ""
    last_slash = path.rfind("/")
    colon = path.rfind(":")
    if colon > last_slash:
        path, tag = path[:colon], path[colon + 1:]
    if registry == "docker.io" and "/" not in path and path:
        path = f"library/{path}"
    return {"name": ref, "registry": registry, "repository": path, "tag": tag, "digest": digest}


def image_ref_doc(ref: str) -> Doc:
    img = copy.deepcopy(_BLANK_IMAGE)
    img.update(parse_image_ref(ref))
    return img


# ------------------------------------------------------------------ build stage


def from_scan(result: ScanLike, *, now: dt.datetime | None = None) -> Doc:
    """The build-stage document of a scan (after its ignore file and VEX: suppressed findings are not in it)."""
    return from_inventory(result.inventory, result.findings, now=now)


def from_inventory(inv: Inventory, findings: Sequence[Any], *, now: dt.datetime | None = None) -> Doc:
    doc = blank("build")
    img = doc["image"]
    meta = inv.image
    ref = inv.target.split(":", 1)[1] if inv.target.split(":", 1)[0] in (
        "docker", "registry", "podman", "containerd") else inv.target
    if meta is not None and meta.repo_tags:
        ref = meta.repo_tags[0]
    if meta is None:  # a directory or an SBOM: no image reference, no image config
        img["name"] = inv.target
    else:
        img.update(parse_image_ref(ref))
        img["known"] = True
        if meta.repo_digests:
            img["digest"] = meta.repo_digests[0].partition("@")[2]
        cfg = meta.config or {}
        img["user"] = str(cfg.get("User") or "")
        img["env"] = _env_list(cfg.get("Env"))
        img["exposed_ports"] = _ports(cfg.get("ExposedPorts"))
        img["labels"] = {str(k): str(v) for k, v in (cfg.get("Labels") or {}).items()}
        img["created"] = meta.created
        img["age_days"] = _age_days(meta.created, now)
    img["layers"] = len(inv.layers)
    img["os"] = {"family": inv.os.family, "version": inv.os.version, "name": inv.os.name, "eol": inv.os.eosl,
                 "supported": inv.os.known and not inv.os.eosl}
    doc["packages"] = [{"name": p.name, "version": p.version, "type": p.type, "purl": p.purl} for p in inv.packages]
    for f in findings:
        kind = f.kind
        if kind in (FindingKind.VULNERABILITY, FindingKind.MALICIOUS):
            pkg = f.package
            doc["findings"].append({
                "id": f.id, "kind": str(kind), "severity": f.severity.name, "cvss": float(f.cvss_score or 0.0),
                "epss": float(f.epss or 0.0), "kev": bool(f.kev), "fixed": bool(f.fixed_versions),
                "fixed_version": f.fixed_versions[0] if f.fixed_versions else "", "status": f.status,
                "title": f.title,
                "package": {"name": pkg.name if pkg else "", "version": pkg.version if pkg else "",
                            "type": pkg.type if pkg else "", "purl": pkg.purl if pkg else ""}})
        elif kind in (FindingKind.MISCONFIG, FindingKind.COMPLIANCE):
            doc["misconfigurations"].append({"id": f.id, "severity": f.severity.name, "title": f.title, "path": f.path})
        elif kind == FindingKind.SECRET:
            doc["secrets"].append({"id": f.id, "severity": f.severity.name, "title": f.title, "path": f.path})
    return doc


def _env_list(env: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in env or ():
        k, _, v = str(item).partition("=")
        if k:
            out[k] = v
    return out


def _ports(spec: Any) -> list[int]:
    out: set[int] = set()
    for key in spec or ():
        num = str(key).partition("/")[0]
        if _is_int(num):
            out.add(int(num))
    return sorted(out)


def _is_int(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` is true for "²", which int() refuses)."""
    return text.isascii() and text.isdigit()


def _age_days(created: str, now: dt.datetime | None) -> int:
    if not created:
        return -1
    try:
        when = dt.datetime.fromisoformat(created.replace("Z", "+00:00")[:32])
    except ValueError:
        m = re.match(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})", created)
        if not m:
            return -1
        when = dt.datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}+00:00")
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    if when.year < 1990:  # reproducible builds stamp 1970-01-01: the age is unknown, not 56 years
        return -1
    return max(0, ((now or dt.datetime.now(dt.UTC)) - when).days)


# ------------------------------------------------------------------ deploy stage: Kubernetes

#: kind -> path to the pod spec inside the object
POD_SPEC_PATHS: Mapping[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"), "ReplicaSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"), "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"), "ReplicationController": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "PodTemplate": ("template", "spec"),
    # what pods/ephemeralcontainers took before Kubernetes 1.23 (since then: the Pod)
    "EphemeralContainers": (),
}


#: where other kinds keep a pod template (OpenShift DeploymentConfig, Argo Rollout, Knative, operators' CRs),
#: as the misconfiguration checks find them
_TEMPLATE_PATHS = (("spec", "template", "spec"), ("spec", "jobTemplate", "spec", "template", "spec"))


def _at(obj: Mapping[str, Any], path: Sequence[str]) -> Mapping[str, Any] | None:
    cur: Any = obj
    for key in path:
        cur = cur.get(key) if isinstance(cur, Mapping) else None
    return cur if isinstance(cur, Mapping) else None


def pod_spec(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod spec of a Pod or workload; of another kind, the pod template it carries (with containers)."""
    path = POD_SPEC_PATHS.get(str(obj.get("kind", "")))
    if path is not None:
        return _at(obj, path)
    for path in _TEMPLATE_PATHS:
        spec = _at(obj, path)
        if spec is not None and isinstance(spec.get("containers"), list):
            return spec
    return None


def _pod_metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """The metadata of the pods an object makes: its own for a Pod, its pod template's for a workload (the
    annotations the kubelet reads -- seccomp, AppArmor -- are the pod's, never the Deployment's)."""
    path = POD_SPEC_PATHS.get(str(obj.get("kind", "")))
    paths = (path,) if path is not None else tuple(p for p in _TEMPLATE_PATHS if _at(obj, p) is not None)
    for p in paths:
        if p:
            return _at(obj, (*p[:-1], "metadata")) or {}
    return {}


def from_k8s_object(obj: Mapping[str, Any], *, operation: str = "CREATE",
                    namespace: str = "") -> Iterator[tuple[str, Doc]]:
    """(subject, document) per container (init and ephemeral containers included) of a Pod or workload."""
    spec = pod_spec(obj)
    if spec is None:
        return
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    assert isinstance(meta, Mapping)
    kind = str(obj.get("kind", ""))
    ns = str(meta.get("namespace") or namespace or "default")
    name = str(meta.get("name") or meta.get("generateName") or "")
    pod_meta = _pod_metadata(obj)
    pod_labels, pod_annotations = (_str_map(pod_meta.get(k)) for k in ("labels", "annotations"))
    workload: Doc = {"kind": kind, "name": name, "namespace": ns,
                "labels": {**pod_labels, **_str_map(meta.get("labels"))},
                "annotations": {**pod_annotations, **_str_map(meta.get("annotations"))},
                "service_account": str(spec.get("serviceAccountName") or ""), "operation": operation}
    pod_sc = spec.get("securityContext") if isinstance(spec.get("securityContext"), Mapping) else {}
    assert isinstance(pod_sc, Mapping)
    volumes = {str(v.get("name")): v for v in spec.get("volumes") or () if isinstance(v, Mapping)}
    annotations = pod_annotations
    for group, init in (("initContainers", True), ("containers", False), ("ephemeralContainers", False)):
        for c in spec.get(group) or ():
            if not isinstance(c, Mapping):
                continue
            doc = blank("deploy")
            doc["workload"] = copy.deepcopy(workload)
            doc["image"] = image_ref_doc(str(c.get("image") or ""))
            doc["container"] = _k8s_container(c, spec, pod_sc, volumes, annotations, init)
            yield f"{kind} {ns}/{name} container {c.get('name', '?')}", doc


def _str_map(v: Any) -> dict[str, str]:
    return {str(k): str(x) for k, x in v.items()} if isinstance(v, Mapping) else {}


def _k8s_container(c: Mapping[str, Any], spec: Mapping[str, Any], pod_sc: Mapping[str, Any],
                   volumes: Mapping[str, Any], annotations: Mapping[str, str], init: bool) -> Doc:
    sc = c.get("securityContext") if isinstance(c.get("securityContext"), Mapping) else {}
    assert isinstance(sc, Mapping)

    def pick(key: str) -> Any:
        return sc.get(key) if sc.get(key) is not None else pod_sc.get(key)

    caps = sc.get("capabilities") if isinstance(sc.get("capabilities"), Mapping) else {}
    assert isinstance(caps, Mapping)
    add = [_cap(x) for x in _strslice(caps.get("add"), "capabilities.add")]  # a lone string (rejected by the API server) still counts
    # a Windows HostProcess container (pod- or container-level windowsOptions) runs as a process on the node:
    # privileged in all but name
    win: list[Mapping[str, Any]] = [x["windowsOptions"] for x in (sc, pod_sc) if isinstance(x.get("windowsOptions"), Mapping)]
    host_process = next((w.get("hostProcess") for w in win if w.get("hostProcess") is not None), None)
    privileged = sc.get("privileged") is True or host_process is True
    ape = sc.get("allowPrivilegeEscalation")
    run_as_user = pick("runAsUser")
    mounts = []
    for vm in c.get("volumeMounts") or ():
        if not isinstance(vm, Mapping):
            continue
        vol = volumes.get(str(vm.get("name")), {})
        hp = vol.get("hostPath") if isinstance(vol, Mapping) else None
        vtype = next((k for k in (vol or {}) if k != "name"), "") if isinstance(vol, Mapping) else ""
        source = _path(str(hp.get("path", ""))) if isinstance(hp, Mapping) else ""
        sub = str(vm.get("subPath") or "")
        if source and sub and not sub.startswith("/") and ".." not in sub.split("/"):  # the API server refuses others
            source = _path(f"{source}/{sub}")
        mounts.append({"source": source,
                       "destination": str(vm.get("mountPath") or ""), "type": vtype,
                       "read_only": vm.get("readOnly") is True})
    resources = c.get("resources") if isinstance(c.get("resources"), Mapping) else {}
    assert isinstance(resources, Mapping)
    # the kubelet's order: the container's field, the container's annotation (the API server copies it into
    # that field), then the pod's field and the pod's annotation
    name = c.get("name")
    seccomp = _profile_k8s(sc.get("seccompProfile")) or _profile_annotation(
        annotations.get(f"container.seccomp.security.alpha.kubernetes.io/{name}")) or _profile_k8s(
        pod_sc.get("seccompProfile")) or _profile_annotation(annotations.get("seccomp.security.alpha.kubernetes.io/pod"))
    apparmor = _profile_k8s(sc.get("appArmorProfile")) or _profile_annotation(
        annotations.get(f"container.apparmor.security.beta.kubernetes.io/{name}")) or _profile_k8s(
        pod_sc.get("appArmorProfile"))
    sysctls = {str(x.get("name")): str(x.get("value") if x.get("value") is not None else "")
               for x in pod_sc.get("sysctls") or () if isinstance(x, Mapping) and x.get("name")}
    env: dict[str, str] = {}
    for e in c.get("env") or ():
        if isinstance(e, Mapping) and "value" in e and e.get("name"):
            env[str(e["name"])] = str(e.get("value") if e.get("value") is not None else "")
    ports = [p for p in c.get("ports") or () if isinstance(p, Mapping)]
    return {
        "name": str(c.get("name") or ""), "image": str(c.get("image") or ""), "init": init,
        "privileged": privileged,
        "allow_privilege_escalation": ape is True or (ape is None and (privileged or "SYS_ADMIN" in add)),
        "no_new_privileges": ape is False,
        "capabilities": {"add": add, "drop": [_cap(x) for x in _strslice(caps.get("drop"), "capabilities.drop")]},
        "host_pid": spec.get("hostPID") is True, "host_network": spec.get("hostNetwork") is True,
        "host_ipc": spec.get("hostIPC") is True,
        "host_ports": sorted({int(p["hostPort"]) for p in ports if isinstance(p.get("hostPort"), int)}),
        "mounts": mounts,
        "user": str(run_as_user) if isinstance(run_as_user, int) else "",
        "run_as_user": run_as_user if isinstance(run_as_user, int) else -1,
        "run_as_non_root": pick("runAsNonRoot") is True,
        "read_only_root_filesystem": sc.get("readOnlyRootFilesystem") is True,
        "resources": {"limits": _quantities(resources.get("limits")), "requests": _quantities(resources.get("requests"))},
        "seccomp": seccomp, "apparmor": apparmor, "env": env,
        "ports": sorted({int(p["containerPort"]) for p in ports if isinstance(p.get("containerPort"), int)}),
        "command": _strslice(c.get("command"), "command") + _strslice(c.get("args"), "args"),
        "host_uts": False, "host_cgroupns": False,
        "user_namespace": "private" if spec.get("hostUsers") is False else "host",
        "devices": [], "device_cgroup_rules": [], "device_requests": [], "sysctls": sysctls,
        "proc_mount": "unmasked" if sc.get("procMount") == "Unmasked" else "default",
        "selinux": _k8s_selinux(sc.get("seLinuxOptions") if sc.get("seLinuxOptions") is not None
                                else pod_sc.get("seLinuxOptions")),
    }


def _k8s_selinux(opts: Any) -> Doc:
    """seLinuxOptions: the container's replaces the pod's as a whole (the kubelet's effective security context)."""
    o = opts if isinstance(opts, Mapping) else {}
    return {"disabled": False, **{k: str(o.get(k) or "") for k in ("type", "user", "role")}}


def _profile_annotation(v: Any) -> str:
    """A seccomp or AppArmor annotation's value as the profile fields read: ``docker/default`` is the runtime's
    default profile."""
    text = str(v or "")
    return "runtime/default" if text == "docker/default" else text


def host_path(p: str) -> str:
    """A host path normalised as the ``source`` of :data:`container.mounts` (see :func:`_path`)."""
    return _path(p)


def _path(p: str) -> str:
    """A host path as policies compare it: no trailing slash (but "/"), no "//" or "/./" runs."""
    import posixpath

    # Go's filepath.Clean (which dockerd applies) folds a leading "//" too; Python's normpath keeps it
    return "/" + posixpath.normpath(p).lstrip("/") if p.startswith("/") else p


def _cap(x: Any) -> str:
    s = str(x).strip().upper()
    return s[4:] if s.startswith("CAP_") else s


def _quantities(v: Any) -> dict[str, str]:
    return {str(k): str(q) for k, q in v.items()} if isinstance(v, Mapping) else {}


def _profile_k8s(p: Any) -> str:
    """A seccompProfile or appArmorProfile: runtime/default, unconfined, localhost/NAME, or "" when not set."""
    if not isinstance(p, Mapping):
        return ""
    t = str(p.get("type") or "")
    return {"RuntimeDefault": "runtime/default", "Unconfined": "unconfined"}.get(
        t, f"localhost/{p.get('localhostProfile', '')}" if t == "Localhost" else t)


# ------------------------------------------------------------------ deploy stage: Docker Engine API

_SENSITIVE_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")


class GoObject(list[tuple[str, Any]]):
    """A JSON object as its key/value pairs in order, duplicates kept (``json.loads(object_pairs_hook=GoObject)``),
    so that a Docker API body is read as dockerd reads it (:func:`go_struct`)."""


#: the non-ASCII letters Go's encoding/json folds onto ASCII ones when it matches a key to a field
_GO_FOLD = {"\u017f": "S", "\u212a": "K"}


def _go_fold(key: str) -> str:
    return "".join(c.upper() if c.isascii() else _GO_FOLD.get(c, c) for c in key)


@dataclasses.dataclass(frozen=True, slots=True)
class GoStruct:
    """The fields of a Go struct a policy reads: name -> None (any value), a GoStruct, ("list", kind) or
    ("map", kind)."""

    fields: Mapping[str, Any]
    by_fold: Mapping[str, str]


def _struct(**fields: Any) -> GoStruct:
    return GoStruct(fields, {_go_fold(k): k for k in fields})


def _pairs(value: Any) -> Iterable[tuple[Any, Any]] | None:
    if isinstance(value, GoObject):
        return value
    return value.items() if isinstance(value, Mapping) else None


def _plain(value: Any) -> Any:
    pairs = _pairs(value)
    if pairs is not None:
        return {str(k): _plain(v) for k, v in pairs}
    return [_plain(v) for v in value] if isinstance(value, list) else value


def go_struct(value: Any, schema: GoStruct, into: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """``value`` (a JSON object) as Go's encoding/json decodes it into ``schema``: keys matched to fields
    case-insensitively (with Go's Unicode folding), unknown keys dropped, duplicates applied in order (an object
    merges into the struct or map already decoded, anything else replaces it, null clears it). The Docker Engine
    decodes request bodies this way: a policy that read ``HostConfig`` literally would miss ``hostconfig``."""
    pairs = _pairs(value)
    if pairs is None:
        return into  # not an object: dockerd refuses the request itself
    out = into if into is not None else {}
    for key, v in pairs:
        name = schema.by_fold.get(_go_fold(str(key)))
        if name is not None:
            out[name] = _go_value(v, schema.fields[name], out.get(name))
    return out


def _go_value(value: Any, kind: Any, old: Any) -> Any:
    if value is None:
        return None
    if kind is None:
        return _plain(value)
    if isinstance(kind, GoStruct):
        return go_struct(value, kind, old if isinstance(old, dict) else None)
    tag, sub = kind
    if tag == "list":
        return [_go_value(v, sub, None) for v in value] if isinstance(value, list) else old
    pairs = _pairs(value)
    if pairs is None:
        return old
    out = old if isinstance(old, dict) else {}
    for k, v in pairs:
        out[str(k)] = _go_value(v, sub, None)
    return out


_PORT_BINDING = _struct(HostIp=None, HostPort=None)
_DRIVER_CONFIG = _struct(Name=None, Options=("map", None))
_MOUNT = _struct(Type=None, Source=None, Target=None, ReadOnly=None,
                 VolumeOptions=_struct(DriverConfig=_DRIVER_CONFIG))
_DEVICE = _struct(PathOnHost=None, PathInContainer=None, CgroupPermissions=None)
_DEVICE_REQUEST = _struct(Driver=None, Count=None, DeviceIDs=None, Capabilities=None)
DOCKER_HOST_CONFIG = _struct(
    Privileged=None, Binds=None, Mounts=("list", _MOUNT), CapAdd=None, CapDrop=None, PidMode=None, NetworkMode=None,
    IpcMode=None, UTSMode=None, UsernsMode=None, CgroupnsMode=None, SecurityOpt=None, ReadonlyRootfs=None, Memory=None,
    NanoCpus=None, CpuQuota=None, PortBindings=("map", ("list", _PORT_BINDING)), Devices=("list", _DEVICE),
    DeviceCgroupRules=None, DeviceRequests=("list", _DEVICE_REQUEST), Sysctls=("map", None), VolumesFrom=None,
    VolumeDriver=None, MaskedPaths=None, ReadonlyPaths=None)
#: dockerd's ContainerConfigWrapper: the container Config, the HostConfig, and (deprecated, still read) every
#: HostConfig field at the top level, used when there is no "HostConfig"
DOCKER_CREATE = _struct(Image=None, User=None, Env=None, Cmd=None, Entrypoint=None, ExposedPorts=("map", None),
                        Labels=("map", None), HostConfig=DOCKER_HOST_CONFIG, **DOCKER_HOST_CONFIG.fields)
DOCKER_EXEC = _struct(User=None, Privileged=None, Env=None, Cmd=None)


def is_docker_create(data: Mapping[str, Any]) -> bool:
    """Whether a document is a Docker create body: HostConfig, or an Image naming the image (an input document's
    ``image`` is a mapping), in any case dockerd accepts."""
    return any(_go_fold(str(k)) == "HOSTCONFIG" or (_go_fold(str(k)) == "IMAGE" and isinstance(v, str))
               for k, v in data.items())


def docker_create_config(body: Any) -> dict[str, Any]:
    """A ``POST /containers/create`` body (or the HostConfig body an API < 1.24 start takes) as dockerd 20.10+
    reads it: the container config with ``HostConfig`` the host config dockerd applies."""
    w = go_struct(body, DOCKER_CREATE) or {}
    outer = {k: w.pop(k) for k in DOCKER_HOST_CONFIG.fields if k in w}
    inner = w.get("HostConfig")
    if isinstance(inner, dict):
        if not inner.get("Memory") and outer.get("Memory"):
            inner["Memory"] = outer["Memory"]
        w["HostConfig"] = inner
    else:
        w["HostConfig"] = outer
    return w


def from_docker_create(body: Mapping[str, Any] | GoObject, *, name: str = "") -> Doc:
    """The document of a ``POST /containers/create`` body (what `docker run` and `docker create` send),
    read as dockerd reads it (:func:`docker_create_config`)."""
    doc = blank("deploy")
    body = docker_create_config(body)
    hc = body["HostConfig"]
    image = str(body.get("Image") or "")
    doc["image"] = image_ref_doc(image)
    opts = _security_opts(hc.get("SecurityOpt"))
    mounts = []
    devices = [_device(d) for d in _seq(hc.get("Devices")) if isinstance(d, Mapping)]
    for b in _seq(hc.get("Binds")):
        parts = str(b).split(":")
        src = parts[0]
        mounts.append({"source": _path(src) if src.startswith("/") else "", "destination": parts[1] if len(parts) > 1 else "",
                       "type": "bind" if src.startswith("/") else "volume",
                       "read_only": len(parts) > 2 and "ro" in parts[2].split(",")})
    for m in _seq(hc.get("Mounts")):
        if isinstance(m, Mapping):
            mounts.append(_api_mount(m, str(hc.get("VolumeDriver") or ""), devices))
    user = str(body.get("User") or "")
    uid = user.partition(":")[0]
    add = [_cap(x) for x in _strslice(hc.get("CapAdd"), "CapAdd")]
    privileged = hc.get("Privileged") is True
    limits: dict[str, str] = {}
    if _positive(hc.get("Memory")):  # 0: none; a negative CpuQuota (-1) is no quota
        limits["memory"] = str(hc["Memory"])
    cpu = next((hc[k] for k in ("NanoCpus", "CpuQuota") if _positive(hc.get(k))), None)
    if cpu is not None:
        limits["cpu"] = str(cpu)
    host_ports = set()
    for bindings in (hc.get("PortBindings") or {}).values():
        for b in _seq(bindings):
            if isinstance(b, Mapping) and _is_int(str(b.get("HostPort") or "")):
                host_ports.add(int(b["HostPort"]))
    nnp = opts.get("no-new-privileges", "false") in _GO_TRUE
    doc["container"] = {
        "name": name, "image": image, "init": False, "privileged": privileged,
        "allow_privilege_escalation": not nnp and (privileged or "SYS_ADMIN" in add or "ALL" in add),
        "no_new_privileges": nnp,
        "capabilities": {"add": add, "drop": [_cap(x) for x in _strslice(hc.get("CapDrop"), "CapDrop")]},
        "host_pid": hc.get("PidMode") == "host", "host_network": hc.get("NetworkMode") == "host",
        "host_ipc": hc.get("IpcMode") == "host", "host_ports": sorted(host_ports), "mounts": mounts,
        "user": user, "run_as_user": int(uid) if _is_int(uid) else (0 if uid in ("root",) else -1),
        "run_as_non_root": bool(uid) and uid not in ("0", "root"),
        "read_only_root_filesystem": hc.get("ReadonlyRootfs") is True,
        "resources": {"limits": limits, "requests": {}},
        "seccomp": _seccomp(opts.get("seccomp")), "apparmor": _docker_profile(opts.get("apparmor")),
        "env": _env_list(_seq(body.get("Env"))), "ports": _ports(body.get("ExposedPorts")),
        "command": _strslice(body.get("Entrypoint"), "Entrypoint") + _strslice(body.get("Cmd"), "Cmd"),
        "host_uts": hc.get("UTSMode") == "host", "host_cgroupns": hc.get("CgroupnsMode") == "host",
        "user_namespace": "host" if hc.get("UsernsMode") == "host" else "",
        "devices": devices,
        "device_cgroup_rules": [" ".join(str(r).split()).lower() for r in _strslice(hc.get("DeviceCgroupRules"), "DeviceCgroupRules")],
        "device_requests": [_device_request(r) for r in _seq(hc.get("DeviceRequests")) if isinstance(r, Mapping)],
        "sysctls": {str(k): str(v) for k, v in (hc.get("Sysctls") or {}).items()},
        "proc_mount": "unmasked" if "systempaths" in opts or _unmasks(hc.get("MaskedPaths"), _DOCKER_MASKED)
        or _unmasks(hc.get("ReadonlyPaths"), _DOCKER_READONLY) else "default",
        "selinux": _docker_selinux(opts.get("label", "")),
    }
    doc["workload"] = {**_BLANK_WORKLOAD, "kind": "DockerContainer", "name": name, "operation": "CREATE",
                       "labels": {str(k): str(v) for k, v in (body.get("Labels") or {}).items()}}
    return doc


#: strconv.ParseBool's true spellings (dockerd parses ``no-new-privileges=VALUE`` with it)
_GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
#: the paths dockerd masks and makes read-only in /proc and /sys unless told otherwise (oci.DefaultSpec, 20.10)
_DOCKER_MASKED = ("/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                  "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware")
_DOCKER_READONLY = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


def _security_opts(value: Any) -> dict[str, str]:
    """``SecurityOpt`` as dockerd's parseSecurityOpt reads it: ``no-new-privileges`` alone, else KEY=VALUE (or the
    deprecated KEY:VALUE), the last one of a key winning; ``label`` values collected (``disable`` alone counts).
    The Docker CLI turns ``systempaths=unconfined`` into empty MaskedPaths/ReadonlyPaths; sent raw it counts too."""
    opts: dict[str, str] = {}
    for s in (str(x) for x in _seq(value)):
        if s in ("no-new-privileges", "disable"):
            k, v = ("no-new-privileges", "true") if s == "no-new-privileges" else ("label", "disable")
        else:
            k, _, v = s.partition("=") if "=" in s else s.partition(":")
        opts[k] = f"{opts[k]}\n{v}" if k == "label" and k in opts else v
    return opts


def _docker_selinux(labels: str) -> Doc:
    """``--security-opt label=disable`` / ``label=type:T`` (``user:``, ``role:``, ``level:``), the last one winning."""
    out: Doc = {"disabled": False, "type": "", "user": "", "role": ""}
    for item in labels.splitlines():
        key, _, value = item.partition(":")
        if item == "disable":
            out["disabled"] = True
        elif key in ("type", "user", "role"):
            out[key] = value
    return out


def _unmasks(paths: Any, defaults: Sequence[str]) -> bool:
    """A MaskedPaths/ReadonlyPaths list given in the request (null = dockerd's defaults) that leaves a default out."""
    return isinstance(paths, list) and not set(defaults) <= {_path(str(p)) for p in paths}


def _seccomp(value: str | None) -> str:
    """``seccomp=VALUE``: ``unconfined``; the CLI sends a profile file's JSON inline: one whose default action lets
    every system call through confines nothing (``unconfined``), another is ``custom``."""
    if value is None or not value.lstrip().startswith("{"):
        return _docker_profile(value)
    import json

    try:
        profile = json.loads(value)
    except ValueError:
        return "custom"
    action = str(profile.get("defaultAction") or "") if isinstance(profile, dict) else ""
    return "unconfined" if action in ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE") else "custom"


def _device(d: Mapping[str, Any]) -> Doc:
    return {"host_path": _path(str(d.get("PathOnHost") or "")), "container_path": str(d.get("PathInContainer") or ""),
            "permissions": str(d.get("CgroupPermissions") or "rwm")}


def _device_request(r: Mapping[str, Any]) -> str:
    """A DeviceRequest (``--gpus``) as ``DRIVER:CAPABILITY,...`` (``:gpu`` for the default driver)."""
    caps = sorted({str(c) for group in _seq(r.get("Capabilities")) for c in _seq(group)})
    return f"{r.get('Driver') or ''}:{','.join(caps)}"


def _api_mount(m: Mapping[str, Any], driver: str, devices: list[Doc], default_type: str = "") -> Doc:
    """A ``Mounts`` entry of a create body or a service's container spec. A volume's source is its name, not a
    host path, unless its ``local`` driver options (``--mount type=volume,volume-opt=...``: dockerd creates the
    volume with them when it does not exist yet) bind a host path (the source) or mount a host device (added to
    ``devices``)."""
    mount = {"source": _path(str(m.get("Source") or "")), "destination": str(m.get("Target") or ""),
             "type": str(m.get("Type") or default_type), "read_only": m.get("ReadOnly") is True}
    if mount["type"] == "volume":
        mount["source"] = ""
        cfg = (m.get("VolumeOptions") or {}).get("DriverConfig") or {}
        host = local_volume_host_path(str(cfg.get("Name") or driver), cfg.get("Options"))
        if host is not None and host[0] == "bind":
            mount["source"] = host[1]
        elif host is not None:
            devices.append({"host_path": host[1], "container_path": "", "permissions": "rwm"})
    return mount


def docker_named_volumes(body: Any) -> list[tuple[str, str, bool]]:
    """The named volumes a create body mounts, as (name, destination, read-only): an existing one may be a
    ``local`` volume bound to a host path, which only the Engine API can tell."""
    hc = docker_create_config(body)["HostConfig"]
    out = []
    for b in _seq(hc.get("Binds")):
        parts = str(b).split(":")
        if parts[0] and not parts[0].startswith("/"):
            out.append((parts[0], parts[1] if len(parts) > 1 else "", len(parts) > 2 and "ro" in parts[2].split(",")))
    for m in _seq(hc.get("Mounts")):
        if isinstance(m, Mapping) and str(m.get("Type") or "") == "volume" and m.get("Source"):
            out.append((str(m["Source"]), str(m.get("Target") or ""), m.get("ReadOnly") is True))
    return out


def docker_service_named_volumes(body: Any) -> list[tuple[str, str, bool]]:
    """The named volumes a service's tasks mount, as :func:`docker_named_volumes` gives a container's."""
    c = ((go_struct(body, DOCKER_SERVICE) or {}).get("TaskTemplate") or {}).get("ContainerSpec") or {}
    return [(str(m["Source"]), str(m.get("Target") or ""), m.get("ReadOnly") is True) for m in _seq(c.get("Mounts"))
            if isinstance(m, Mapping) and str(m.get("Type") or "volume") == "volume" and m.get("Source")]


def docker_volumes_from(body: Any) -> list[tuple[str, bool]]:
    """``VolumesFrom`` (``--volumes-from ID[:ro|:rw]``): (container, read-only) whose mounts the container gets."""
    out = []
    for v in _seq(docker_create_config(body)["HostConfig"].get("VolumesFrom")):
        cid, _, mode = str(v).partition(":")
        out.append((cid, "ro" in mode.split(",")))
    return out


def with_host_access(doc: Doc, mounts: Iterable[Doc] = (), devices: Iterable[Doc] = ()) -> Doc:
    """``doc`` with more mounts and devices: what a container gets from the volumes and containers it names,
    looked up by the enforcement point."""
    out = copy.deepcopy(doc)
    out["container"]["mounts"] += [{**_BLANK_MOUNT, **m} for m in mounts]
    out["container"]["devices"] += [{**_BLANK_DEVICE, **d} for d in devices]
    return out


def from_docker_volume(body: Any, *, name: str = "") -> Doc:
    """The document of a ``POST /volumes/create`` body (``docker volume create``): a ``local`` volume bound to a
    host path is that host path's bind mount (what a container mounting it gets), one over a host block device
    is that device; ``workload.kind`` = ``DockerVolume``."""
    spec = go_struct(body, DOCKER_VOLUME) or {}
    name = str(spec.get("Name") or "") or name
    doc = blank("deploy")
    host = local_volume_host_path(str(spec.get("Driver") or ""), spec.get("DriverOpts"))
    c = doc["container"]
    c["name"] = name
    if host is not None and host[0] == "bind":
        c["mounts"] = [{"source": host[1], "destination": "", "type": "volume", "read_only": False}]
    elif host is not None:
        c["devices"] = [{"host_path": host[1], "container_path": "", "permissions": "rwm"}]
    doc["workload"].update({"kind": "DockerVolume", "name": name, "operation": "CREATE",
                            "labels": {str(k): str(v) for k, v in (spec.get("Labels") or {}).items()}})
    return doc


DOCKER_VOLUME = _struct(Name=None, Driver=None, DriverOpts=("map", None), Labels=("map", None))


def local_volume_host_path(driver: str, options: Any) -> tuple[str, str] | None:
    """What of the host a volume of Docker's ``local`` driver with these options mounts: ("bind", PATH) when ``o``
    binds ``device`` (``-o type=none -o o=bind -o device=/path``: a bind mount of a host path under a volume's
    name), ("device", PATH) when it mounts a host block device (``-o type=ext4 -o device=/dev/sda1``); None for
    other drivers, no options, tmpfs or a remote file system."""
    if driver not in ("", "local") or not isinstance(options, Mapping):
        return None
    device = str(options.get("device") or "")
    flags = str(options.get("o") or "").split(",")
    if not device.startswith("/"):
        return None  # nfs (addr=...:/path, device ":/path"), tmpfs
    if "bind" in flags or "rbind" in flags:
        return "bind", _path(device)
    if device.startswith("//") or str(options.get("type") or "") in ("tmpfs", "nfs", "nfs4", "cifs", "smb3"):
        return None  # cifs //server/share
    return "device", _path(device)


def _positive(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and v > 0


#: ``POST /containers/ID/update`` (container.UpdateConfig): the resources a policy reads, applied by dockerd only
#: when non-zero (container.UpdateContainer)
DOCKER_UPDATE = _struct(Memory=None, NanoCpus=None, CpuQuota=None, RestartPolicy=None)


def docker_updated(inspect: Mapping[str, Any], update: Any) -> tuple[Doc, Doc, bool]:
    """The documents of a container (``GET /containers/ID/json``) before and after ``update`` is applied as
    dockerd applies it, and whether the update changes what policies read."""
    config = inspect.get("Config") if isinstance(inspect.get("Config"), Mapping) else {}
    hc = dict(inspect["HostConfig"]) if isinstance(inspect.get("HostConfig"), Mapping) else {}
    body = {**(config or {}), "HostConfig": hc}
    name = str(inspect.get("Name") or "").lstrip("/")
    before = from_docker_create(body, name=name)
    changes = {k: v for k, v in (go_struct(update, DOCKER_UPDATE) or {}).items()
               if k != "RestartPolicy" and isinstance(v, int | float) and not isinstance(v, bool) and v != 0}
    after = from_docker_create({**body, "HostConfig": {**hc, **changes}}, name=name)
    for doc in (before, after):
        doc["workload"]["operation"] = "UPDATE"
    return before, after, bool(changes)


def _seq(v: Any) -> list[Any]:
    """A JSON array as a list; anything else (dockerd refuses it) as nothing."""
    return v if isinstance(v, list) else []


def _strslice(v: Any, what: str) -> list[str]:
    """Cmd/Entrypoint (dockerd's StrSlice), a container's command or args, capabilities: a string or a list of
    strings (a lone string counts, though the API server refuses it, so it is never a way past a policy). Any
    other shape (a number, a mapping, a list holding one) is a request the server refuses: it cannot be read,
    so the enforcement point's failure mode decides it, never a policy over a value read as nothing."""
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return list(v)
    raise PolicyError(f"{what}: expected a string or a list of strings, got {type(v).__name__}"
                      f"{' holding another type' if isinstance(v, list) else ''}")


def _docker_profile(v: str | None) -> str:
    if v is None:
        return ""
    return "unconfined" if v == "unconfined" else "runtime/default" if v in ("", "default", "docker-default") else v


def from_docker_exec(body: Mapping[str, Any] | GoObject, *, container: str = "") -> Doc:
    """The document of a ``POST /containers/ID/exec`` body: a privileged exec is a privileged container."""
    doc = blank("deploy")
    body = go_struct(body, DOCKER_EXEC) or {}
    user = str(body.get("User") or "")
    uid = user.partition(":")[0]
    doc["container"].update({"name": container, "privileged": body.get("Privileged") is True,
                             "allow_privilege_escalation": body.get("Privileged") is True, "user": user,
                             "run_as_user": int(uid) if _is_int(uid) else (0 if uid == "root" else -1),
                             "env": _env_list(_seq(body.get("Env"))), "command": _strslice(body.get("Cmd"), "Cmd")})
    doc["workload"].update({"kind": "DockerExec", "name": container, "operation": "EXEC"})
    return doc


def with_effective_user(doc: Doc, user: str) -> Doc:
    """``doc`` (a Docker create or exec that names no user) with the user it really runs as: an exec's container's
    user, a container's image's ``USER``; none at all is root, as dockerd runs it."""
    if doc["container"]["user"]:
        return doc
    out = copy.deepcopy(doc)
    uid = user.partition(":")[0]
    out["container"].update({"user": user or "0", "run_as_user": int(uid) if _is_int(uid) else (0 if uid in ("", "root") else -1),
                             "run_as_non_root": bool(uid) and uid not in ("0", "root")})
    return out


def docker_joined(body: Any) -> dict[str, str]:
    """The namespaces a create body (or an old start's host config) joins from another container:
    ``{"pid"|"ipc"|"network": "ID"}`` for ``PidMode``/``IpcMode``/``NetworkMode`` = ``container:ID``."""
    hc = docker_create_config(body)["HostConfig"]
    out = {}
    for ns, key in (("pid", "PidMode"), ("ipc", "IpcMode"), ("network", "NetworkMode")):
        mode = str(hc.get(key) or "")
        if mode.startswith("container:"):
            out[ns] = mode.partition(":")[2]
    return out


def assume_host_namespaces(doc: Doc, namespaces: Iterable[str]) -> Doc:
    """``doc`` with the given namespaces (pid, ipc, network) taken to be the host's: what joining a container
    whose namespaces cannot be looked up may amount to."""
    out = copy.deepcopy(doc)
    for ns in namespaces:
        out["container"][f"host_{ns}"] = True
    return out


_NETWORK_ATTACHMENT = _struct(Target=None)
_SWARM_CONTAINER = _struct(
    Image=None, User=None, Env=None, Command=None, Args=None, Mounts=("list", _MOUNT), ReadOnly=None, Init=None,
    CapabilityAdd=None, CapabilityDrop=None, Sysctls=("map", None),
    Privileges=_struct(NoNewPrivileges=None, Seccomp=_struct(Mode=None), AppArmor=_struct(Mode=None),
                       SELinuxContext=_struct(Disable=None, User=None, Role=None, Type=None)))
_SWARM_PORT = _struct(PublishedPort=None, PublishMode=None)
#: dockerd's swarm.ServiceSpec (``POST /services/create``, ``/services/ID/update``): the fields policies read
DOCKER_SERVICE = _struct(
    Name=None, Labels=("map", None), Networks=("list", _NETWORK_ATTACHMENT),
    TaskTemplate=_struct(ContainerSpec=_SWARM_CONTAINER, Networks=("list", _NETWORK_ATTACHMENT),
                         Resources=_struct(Limits=_struct(NanoCPUs=None, MemoryBytes=None))),
    EndpointSpec=_struct(Ports=("list", _SWARM_PORT)))


def docker_service_networks(body: Any) -> list[str]:
    """The networks (names or IDs) a service spec attaches its tasks to."""
    spec = go_struct(body, DOCKER_SERVICE) or {}
    task = spec.get("TaskTemplate") or {}
    return [str(n.get("Target") or "") for n in _seq(task.get("Networks")) + _seq(spec.get("Networks")) if n]


def from_docker_service(body: Any, *, name: str = "", operation: str = "CREATE") -> Doc:
    """The document of a swarm service spec: its tasks are containers with the spec's capabilities, mounts
    and networks (the network named ``host`` is the host's network namespace; swarm has no privileged mode
    and no host PID/IPC)."""
    spec = go_struct(body, DOCKER_SERVICE) or {}
    task = spec.get("TaskTemplate") or {}
    c = task.get("ContainerSpec") or {}
    priv = c.get("Privileges") or {}
    image = str(c.get("Image") or "")
    name = str(spec.get("Name") or "") or name
    add = [_cap(x) for x in _seq(c.get("CapabilityAdd"))]
    nnp = priv.get("NoNewPrivileges") is True
    user = str(c.get("User") or "")
    uid = user.partition(":")[0]
    nets = docker_service_networks(body)
    mode = {"default": "runtime/default", "unconfined": "unconfined"}
    limits = (task.get("Resources") or {}).get("Limits") or {}
    devices: list[Doc] = []
    selinux = priv.get("SELinuxContext") or {}
    doc = blank("deploy")
    doc["image"] = image_ref_doc(image)
    doc["container"].update({
        "name": name, "image": image, "init": c.get("Init") is True,
        "allow_privilege_escalation": not nnp and ("SYS_ADMIN" in add or "ALL" in add), "no_new_privileges": nnp,
        "capabilities": {"add": add, "drop": [_cap(x) for x in _seq(c.get("CapabilityDrop"))]},
        "host_network": "host" in nets,
        "host_ports": sorted({int(p["PublishedPort"]) for p in _seq((spec.get("EndpointSpec") or {}).get("Ports"))
                              if p and p.get("PublishMode") == "host" and isinstance(p.get("PublishedPort"), int)}),
        "mounts": [_api_mount(m, "", devices, "volume") for m in _seq(c.get("Mounts")) if m], "devices": devices,
        "sysctls": {str(k): str(v) for k, v in (c.get("Sysctls") or {}).items()},
        "user": user, "run_as_user": int(uid) if _is_int(uid) else (0 if uid == "root" else -1),
        "run_as_non_root": bool(uid) and uid not in ("0", "root"), "read_only_root_filesystem": c.get("ReadOnly") is True,
        "resources": {"limits": {k: str(limits[f]) for k, f in (("memory", "MemoryBytes"), ("cpu", "NanoCPUs"))
                                 if limits.get(f)}, "requests": {}},
        "seccomp": mode.get(str((priv.get("Seccomp") or {}).get("Mode") or ""), ""),
        "apparmor": mode.get(str((priv.get("AppArmor") or {}).get("Mode") or ""), ""),
        "env": _env_list(_seq(c.get("Env"))), "command": _strslice(c.get("Command"), "Command") + _strslice(c.get("Args"), "Args"),
        "selinux": {"disabled": selinux.get("Disable") is True,
                    **{k.lower(): str(selinux.get(k) or "") for k in ("Type", "User", "Role")}}})
    doc["workload"].update({"kind": "DockerService", "name": name, "operation": operation,
                            "labels": {str(k): str(v) for k, v in (spec.get("Labels") or {}).items()}})
    return doc


_PLUGIN_PRIVILEGE = _struct(Name=None, Value=None)


def from_docker_plugin(body: Any, *, name: str = "", operation: str = "INSTALL") -> Doc:
    """The document of the privileges a ``POST /plugins/pull`` or ``/plugins/NAME/upgrade`` body grants a
    managed plugin (dockerd's computePrivileges): ``network`` -> host_network when ``host``, ``host pid
    namespace``/``host ipc namespace`` -> host_pid/host_ipc, ``mount`` -> bind mounts of host paths,
    ``allow-all-devices`` -> privileged (every host device), ``capabilities`` -> capabilities.add."""
    doc = blank("deploy")
    add: list[str] = []
    c = doc["container"]
    for item in _seq(body):
        p = go_struct(item, _PLUGIN_PRIVILEGE) or {}
        kind, values = str(p.get("Name") or "").strip().lower(), [str(v) for v in _seq(p.get("Value"))]
        if kind == "network":
            c["host_network"] = c["host_network"] or "host" in values
        elif kind in ("host pid namespace", "host ipc namespace"):
            c[f"host_{kind.split()[1]}"] = True
        elif kind == "mount":
            c["mounts"] += [{"source": _path(v), "destination": v, "type": "bind", "read_only": False} for v in values]
        elif kind == "allow-all-devices":
            c["privileged"] = c["privileged"] or "true" in values
        elif kind == "capabilities":
            add += [_cap(v) for v in values]
        elif kind == "device":
            c["devices"] += [{"host_path": _path(v), "container_path": v, "permissions": "rwm"} for v in values]
    c.update({"name": name, "capabilities": {"add": add, "drop": []},
              "allow_privilege_escalation": c["privileged"] or "SYS_ADMIN" in add or "ALL" in add})
    doc["workload"].update({"kind": "DockerPlugin", "name": name, "operation": operation})
    return doc


# ------------------------------------------------------------------ runtime stage


def from_alert(alert: Alert) -> Doc:
    doc = blank("runtime")
    fields = {str(k): v if isinstance(v, str | int | float | bool) or v is None else str(v)
              for k, v in alert.output_fields.items()}
    image = alert.image or str(fields.get("container.image.repository") or "")
    ns = str(fields.get("k8s.ns.name") or "")
    doc["alert"] = {"rule": alert.rule, "priority": alert.priority.name, "priority_level": int(alert.priority),
                    "tags": list(alert.tags), "output": alert.output, "source": alert.source,
                    "container_id": alert.container_id, "container_name": alert.container_name,
                    "image": image, "namespace": ns, "pod": str(fields.get("k8s.pod.name") or ""),
                    "fields": fields}
    if image:
        doc["image"] = image_ref_doc(image)
    doc["workload"]["namespace"] = ns
    doc["container"]["name"] = alert.container_name
    return doc
