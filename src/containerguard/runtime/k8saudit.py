"""Kubernetes audit events (audit.k8s.io/v1) as rule events: the ``ka.*`` field view plus the raw ``jevt``.

Accepts what the API server's webhook backend sends: an ``EventList``, a single ``Event`` or a JSON array of
events. Each becomes a :class:`model.Event` with ``type="k8s_audit"`` and ``source="k8s_audit"``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

import orjson

from containerguard.errors import RuntimeSensorError
from containerguard.model import Event

EVENT_TYPE = "k8s_audit"
MAX_BODY_BYTES = 16 << 20
_WORKLOADS = frozenset({"deployments", "daemonsets", "statefulsets", "replicasets", "jobs", "replicationcontrollers"})


class AuditFormatError(RuntimeSensorError):
    """The body is not an audit.k8s.io Event, EventList or array of Events."""


class RecordError(ValueError):
    """One malformed audit event in a log file (the cloud readers' contract: counted and skipped)."""


def parse_time_ns(text: Any) -> int:
    """RFC 3339 time (any number of fractional digits) to nanoseconds since the epoch; 0 when absent/invalid."""
    if not isinstance(text, str) or not text:
        return 0
    s = text.strip()
    frac_ns = 0
    if "." in s:
        head, rest = s.split(".", 1)
        digits = ""
        for ch in rest:
            if not ch.isdigit():
                break
            digits += ch
        tz = rest[len(digits):]
        frac_ns = int((digits + "000000000")[:9]) if digits else 0
        s = head + tz
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return 0
    return int(dt.timestamp()) * 1_000_000_000 + frac_ns


def _get(d: Any, *path: str) -> Any:
    cur = d
    for p in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(p)
    return cur


def _bool_text(v: Any) -> str:
    return "true" if v is True else "false"


def _text(v: Any) -> str:
    """A JSON value as the text a string field holds, as Falco's k8saudit plugin gives it: a string as itself,
    anything else (number, bool, null, array, object) as its compact JSON -- never a Python list or repr."""
    return v if isinstance(v, str) else _json(v)


def _repository(image: str) -> str:
    ref = image.split("@", 1)[0]
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    return ref[:colon] if colon > slash else ref


def _pod_spec(resource: str | None, obj: Any) -> dict[str, Any] | None:
    if not isinstance(obj, dict):
        return None
    if resource == "pods":
        spec = obj.get("spec")
    elif resource == "cronjobs":
        spec = _get(obj, "spec", "jobTemplate", "spec", "template", "spec")
    elif resource in _WORKLOADS:
        spec = _get(obj, "spec", "template", "spec")
    else:
        return None
    return spec if isinstance(spec, dict) else None


def _containers(spec: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = spec.get(key)
    return [c for c in items if isinstance(c, dict)] if isinstance(items, list) else []


def _text_list(values: list[Any]) -> list[str]:
    return [_text(v) for v in values]


def _list(d: dict[str, Any], key: str) -> list[Any]:
    v = d.get(key)
    return v if isinstance(v, list) else []


def _pod_fields(spec: dict[str, Any], fields: dict[str, Any]) -> None:
    """The ka.req.pod.* fields, with the k8saudit plugin's meaning: ``containers`` fields read spec.containers
    only; init and ephemeral containers have their own ka.req.pod.initContainers.* / ephemeralContainers.*."""
    containers = _containers(spec, "containers")
    images = [_text(c.get("image", "")) for c in containers]
    fields["ka.req.pod.containers.image"] = images
    fields["ka.req.pod.containers.image.repository"] = [_repository(i) for i in images]
    if images:
        fields["ka.req.container.image"] = images[0]
        fields["ka.req.container.image.repository"] = _repository(images[0])
    # privileged: one true/false per container (unset counts as false)
    priv = [_get(c, "securityContext", "privileged") for c in containers]
    fields["ka.req.pod.containers.privileged"] = [_bool_text(p) for p in priv]
    fields["ka.req.container.privileged"] = _bool_text(any(p is True for p in priv))
    for key, name in (("initContainers", "initContainers"), ("ephemeralContainers", "ephemeralContainers")):
        others = _containers(spec, key)
        fields[f"ka.req.pod.{name}.image"] = [_text(c.get("image", "")) for c in others]
        fields[f"ka.req.pod.{name}.privileged"] = [_bool_text(_get(c, "securityContext", "privileged"))
                                                   for c in others]
    fields["ka.req.pod.containers.host_port"] = [_text(p["hostPort"]) for c in containers for p in _list(c, "ports")
                                                 if isinstance(p, dict) and "hostPort" in p]
    caps: list[str] = []
    for c in containers:
        add = _get(c, "securityContext", "capabilities", "add")
        caps.extend(x for x in (add if isinstance(add, list) else []) if isinstance(x, str))
    fields["ka.req.pod.containers.add_capabilities"] = caps
    for sc_key, name in (("allowPrivilegeEscalation", "allow_privilege_escalation"),
                         ("readOnlyRootFilesystem", "read_only_fs"), ("runAsUser", "run_as_user"),
                         ("runAsGroup", "run_as_group"), ("procMount", "proc_mount")):
        fields[f"ka.req.pod.containers.{name}"] = _text_list(
            [v for c in containers if (v := _get(c, "securityContext", sc_key)) is not None])
    sc_raw = spec.get("securityContext")
    pod_sc: dict[str, Any] = sc_raw if isinstance(sc_raw, dict) else {}
    for sc_key, name in (("runAsUser", "run_as_user"), ("runAsGroup", "run_as_group")):
        pod_v = pod_sc.get(sc_key)
        if pod_v is not None:
            fields[f"ka.req.pod.{name}"] = _text(pod_v)
        eff = [_get(c, "securityContext", sc_key) for c in containers]
        fields[f"ka.req.pod.containers.eff_{name}"] = [
            _text(v if v is not None else pod_v if pod_v is not None else 0) for v in eff]
    if pod_sc.get("fsGroup") is not None:
        fields["ka.req.pod.fs_group"] = _text(pod_sc["fsGroup"])
    sup = pod_sc.get("supplementalGroups")
    if isinstance(sup, list):
        fields["ka.req.pod.supplemental_groups"] = [_text(g) for g in sup]
    fields["ka.req.pod.host_network"] = _bool_text(spec.get("hostNetwork"))
    fields["ka.req.container.host_network"] = fields["ka.req.pod.host_network"]
    fields["ka.req.pod.host_pid"] = _bool_text(spec.get("hostPID"))
    fields["ka.req.pod.host_ipc"] = _bool_text(spec.get("hostIPC"))
    volumes = [v for v in _list(spec, "volumes") if isinstance(v, dict)]
    fields["ka.req.pod.volumes.hostpath"] = [_text(_get(v, "hostPath", "path")) for v in volumes
                                             if _get(v, "hostPath", "path")]
    fields["ka.req.pod.volumes.flexvolume_driver"] = [_text(_get(v, "flexVolume", "driver")) for v in volumes
                                                      if _get(v, "flexVolume", "driver")]
    fields["ka.req.pod.volumes.volume_type"] = [k for v in volumes for k in v if k != "name"]


def _json(v: Any) -> str:
    return orjson.dumps(v, default=str).decode()


def _object_fields(resource: Any, ref: dict[str, Any], req: Any, f: dict[str, Any]) -> None:
    """The ka.req.* fields of a service, configmap, role or binding in the request."""
    if resource == "services" and isinstance(_get(req, "spec", "type"), str):
        f["ka.req.service.type"] = _get(req, "spec", "type")
    if resource == "services" and isinstance(_get(req, "spec", "ports"), list):
        f["ka.req.service.ports"] = [_json(p) for p in _get(req, "spec", "ports")]
    if resource == "configmaps":
        if isinstance(ref.get("name"), str):
            f["ka.req.configmap.name"] = ref["name"]
        data = _get(req, "data")
        if data is not None:
            f["ka.req.configmap.obj"] = _json(data)
    role_rules = _get(req, "rules")
    if resource in ("roles", "clusterroles") and isinstance(role_rules, list):
        rules = [r for r in role_rules if isinstance(r, dict)]
        f["ka.req.role.rules"] = [_json(r) for r in rules]
        for key, name in (("verbs", "verbs"), ("resources", "resources"), ("apiGroups", "apiGroups"),
                          ("nonResourceURLs", "nonResourceURLs")):
            f[f"ka.req.role.rules.{name}"] = [_text(v) for r in rules for v in _list(r, key)]
    if resource in ("rolebindings", "clusterrolebindings") and isinstance(req, dict):
        if isinstance(_get(req, "roleRef", "name"), str):
            f["ka.req.binding.role"] = _get(req, "roleRef", "name")
        f["ka.req.binding.subjects"] = [_text(s.get("name")) for s in _list(req, "subjects") if isinstance(s, dict)]


def audit_event(raw: dict[str, Any]) -> Event:
    """One audit.k8s.io/v1 Event as a rule event."""
    if not isinstance(raw, dict) or raw.get("kind", "Event") != "Event" or raw.get("verb") is None:
        raise AuditFormatError("not an audit.k8s.io Event (needs kind Event and a verb)")
    try:
        obj = _json(raw)  # first: every other part is shallower than the whole event
    except orjson.JSONEncodeError as exc:
        raise AuditFormatError(f"event cannot be kept as JSON ({exc})") from None
    f: dict[str, Any] = {"jevt": raw}
    ref_raw, ann_raw = raw.get("objectRef"), raw.get("annotations")
    ref: dict[str, Any] = ref_raw if isinstance(ref_raw, dict) else {}
    annotations: dict[str, Any] = ann_raw if isinstance(ann_raw, dict) else {}
    simple = {
        "ka.auditid": raw.get("auditID"),
        "ka.stage": raw.get("stage"),
        "ka.verb": raw.get("verb"),
        "ka.uri": raw.get("requestURI"),
        "ka.useragent": raw.get("userAgent"),
        "ka.user.name": _get(raw, "user", "username"),
        "ka.impuser.name": _get(raw, "impersonatedUser", "username"),
        "ka.target.name": ref.get("name"),
        "ka.target.namespace": ref.get("namespace"),
        "ka.target.resource": ref.get("resource"),
        "ka.target.subresource": ref.get("subresource"),
        "ka.auth.decision": annotations.get("authorization.k8s.io/decision"),
        "ka.auth.reason": annotations.get("authorization.k8s.io/reason"),
        "ka.response.reason": _get(raw, "responseStatus", "reason"),
        "ka.resp.name": _get(raw, "responseObject", "metadata", "name"),
        "jevt.time": raw.get("stageTimestamp") or raw.get("requestReceivedTimestamp"),
    }
    f.update({k: _text(v) for k, v in simple.items() if v is not None})
    code = _get(raw, "responseStatus", "code")
    if isinstance(code, int) and not isinstance(code, bool):
        f["ka.response.code"] = code
    groups = _get(raw, "user", "groups")
    if isinstance(groups, list):
        f["ka.user.groups"] = [_text(g) for g in groups]
    ips = raw.get("sourceIPs")
    if isinstance(ips, list):
        f["ka.sourceips"] = [_text(i) for i in ips]
    req = raw.get("requestObject")
    resource = ref.get("resource")
    spec = _pod_spec(resource, req) if not ref.get("subresource") else None
    if spec is not None:
        _pod_fields(spec, f)
    _object_fields(resource, ref, req, f)
    ts = parse_time_ns(f.get("jevt.time"))
    f["jevt.rawtime"] = ts
    f["jevt.obj"] = obj
    return Event(type=EVENT_TYPE, time_ns=ts, fields=f, source="k8s_audit")


#: the list fields Falco's k8saudit plugin lets a rule index (``ka.req.pod.containers.image[0]``): field -> what
#: the index picks (the ith container, volume, role rule or service port)
INDEXED: dict[str, str] = {
    **{f"ka.req.pod.containers.{k}": "containers" for k in (
        "image", "image.repository", "host_port", "privileged", "allow_privilege_escalation", "read_only_fs",
        "run_as_user", "eff_run_as_user", "run_as_group", "eff_run_as_group", "proc_mount", "add_capabilities")},
    **{f"ka.req.pod.volumes.{k}": "volumes" for k in ("hostpath", "flexvolume_driver", "volume_type")},
    **{f"ka.req.role.rules.{k}": "rules" for k in ("apiGroups", "nonResourceURLs", "verbs", "resources")},
    "ka.req.service.ports": "ports",
}


def indexed(raw: Any, name: str, n: int) -> list[str] | None:
    """Field ``name`` (one of :data:`INDEXED`) of the ``n``-th container, volume, role rule or port of the
    request alone, from the raw event; None (<NA>) when there is no such item."""
    ref = _get(raw, "objectRef")
    ref = ref if isinstance(ref, dict) else {}
    req, what, out = _get(raw, "requestObject"), INDEXED[name], cast("dict[str, Any]", {})
    if what in ("containers", "volumes"):
        spec = _pod_spec(ref.get("resource"), req) if not ref.get("subresource") else None
        items = _list(spec, what) if spec is not None else []
        if spec is None or not 0 <= n < len(items):
            return None
        _pod_fields({**spec, what: [items[n]]}, out)
    else:
        holder = req if what == "rules" else _get(req, "spec")
        items = _list(holder, what) if isinstance(holder, dict) else []
        if not 0 <= n < len(items):
            return None
        one = {**cast("dict[str, Any]", holder), what: [items[n]]}
        _object_fields(ref.get("resource"), ref, one if what == "rules" else {**req, "spec": one}, out)
    v = out.get(name)
    return v if v else None


def volume_hostpath(paths: Any, arg: str) -> str | None:
    """Falco's deprecated ``ka.req.volume.hostpath[PATH]``: "true" when a hostPath volume is PATH (or starts with
    it, when PATH ends with ``*``), else "false"; None when the request has no pod volumes."""
    if not isinstance(paths, list):
        return None
    prefix = arg[:-1] if arg.endswith("*") else None
    hit = any(p == arg or (prefix is not None and p.startswith(prefix)) for p in paths if isinstance(p, str))
    return "true" if hit else "false"


def audit_events(doc: Any, skipped: list[str] | None = None) -> list[Event]:
    """Events from an EventList, a single Event or a JSON array of Events. With ``skipped``, a malformed item is
    described there ("item N: why", N from 1) and the others are still returned (the webhook's batches);
    without it the first malformed item raises."""
    items: Iterable[Any]
    if isinstance(doc, list):
        items = doc
    elif isinstance(doc, dict) and doc.get("kind") == "EventList":
        items = doc.get("items") or []
        if not isinstance(items, list):
            raise AuditFormatError("EventList 'items' must be a list")
    elif isinstance(doc, dict):
        items = [doc]
    else:
        raise AuditFormatError("expected an audit Event, EventList or JSON array")
    out: list[Event] = []
    for i, item in enumerate(items, 1):
        try:
            out.append(audit_event(item))
        except AuditFormatError as exc:
            if skipped is None:
                raise AuditFormatError(f"item {i}: {exc}") from None
            skipped.append(f"item {i}: {exc}")
    return out


def parse_audit_body(body: bytes | str, skipped: list[str] | None = None) -> list[Event]:
    """Parse a webhook request body (JSON) into events; raises AuditFormatError when the body is not an audit
    document, and on a malformed item unless ``skipped`` collects them (see :func:`audit_events`)."""
    if len(body) > MAX_BODY_BYTES:
        raise AuditFormatError(f"audit body larger than {MAX_BODY_BYTES} bytes")
    try:
        doc = json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise AuditFormatError(f"audit body is not JSON: {exc}") from None
    return audit_events(doc, skipped)


class K8sAuditParser:
    """The audit source in the cloud readers' contract (runtime/cloud/reader.py): audit log files as the API
    server's log backend writes them (one Event per line), or an EventList / array document."""

    source = "k8s_audit"
    lines = True

    def stateful(self, ev: Event) -> bool:
        """Never: audit events carry no per-source state."""
        return False

    def ordered(self, ev: Event) -> None:
        """Nothing: audit events carry no per-source state (see the cloud readers' contract)."""

    def records(self, doc: Any) -> list[Any]:
        """The audit events of one document (Event, EventList or a JSON array); RecordError for anything else."""
        if isinstance(doc, list):
            return doc
        if isinstance(doc, dict) and doc.get("kind") == "EventList":
            items = doc.get("items")
            if not isinstance(items, list):
                raise RecordError("EventList 'items' must be a list")
            return items
        if isinstance(doc, dict):
            return [doc]
        raise RecordError("expected an audit Event, EventList or JSON array")

    def event(self, rec: Any) -> Event:
        """One audit.k8s.io Event as a rule event; RecordError (the readers' per-record error, a ValueError) when
        it is malformed, so the reader counts it and goes on."""
        try:
            return audit_event(rec)
        except AuditFormatError as exc:
            raise RecordError(str(exc)) from None
