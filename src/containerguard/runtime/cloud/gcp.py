"""Google Cloud Audit Logs (LogEntry with an AuditLog protoPayload) as rule events (source ``gcp_auditlog``).

Input shapes accepted, one file at a time: a JSON array of LogEntry (``gcloud logging read --format=json``),
JSON lines of LogEntry (what a Cloud Storage log sink writes), ``{"entries": [...]}`` (the entries.list API),
and Pub/Sub messages carrying a LogEntry as base64 ``data`` -- push deliveries ``{"message": {...}}``, pull
responses ``{"receivedMessages": [...]}`` and bare ``{"data": ...}`` messages (a Pub/Sub export file).

Fields carry the names of Falco's gcpaudit plugin (``gcp.*``), with the same meaning, plus the raw entry under
``jevt`` for ``json.value[/pointer]``. docs/cloud.md lists them.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, cast

import orjson

from containerguard.model import Event
from containerguard.runtime.cloud.cloudtrail import (
    BurstCounter,
    RecordError,
    json_text,
    parse_time,
    records_in,
)

SOURCE = "gcp_auditlog"
#: methods that return secret material (Secret Manager payloads, service-account keys)
SECRET_READ_METHODS = frozenset({
    "google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion",
    "google.cloud.secretmanager.v1beta1.SecretManagerService.AccessSecretVersion",
})
#: resource.labels key -> field
_LABEL_FIELDS = {
    "function_name": "gcp.cloudfunctions.function", "database_id": "gcp.cloudsql.databaseId",
    "instance_id": "gcp.compute.instanceId", "network_id": "gcp.compute.networkId",
    "subnetwork_name": "gcp.compute.subnetwork", "subnetwork_id": "gcp.compute.subnetworkId",
    "zone_name": "gcp.dns.zone", "email_id": "gcp.iam.serviceAccount", "unique_id": "gcp.iam.serviceAccountId",
    "project_id": "gcp.projectId", "bucket_name": "gcp.storage.bucket", "cluster_name": "gcp.gke.cluster",
}


def _get(d: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)
    return d


def _unwrap(item: Any) -> Any:
    """A LogEntry from a Pub/Sub message (push envelope, pull item or bare message), or the item itself."""
    if not isinstance(item, dict) or "protoPayload" in item:
        return item
    msg = item.get("message") if isinstance(item.get("message"), dict) else item
    data = msg.get("data") if isinstance(msg, dict) else None
    if not isinstance(data, str):
        return item
    try:
        return orjson.loads(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise RecordError(f"Pub/Sub message data is not base64 JSON: {exc}") from None


class GcpAuditParser:
    """LogEntry -> events; owns the per-principal secret-read counter."""

    source = SOURCE
    lines = True  # a file may hold one JSON document per line

    def __init__(self) -> None:
        self.secret_reads = BurstCounter()

    def records(self, doc: Any) -> list[Any]:
        """The log entries of one document (an entry, an array, or a Pub/Sub push envelope)."""
        return records_in(doc, ("entries", "receivedMessages"), "a GCP audit log entry")

    def event(self, item: Any) -> Event:
        """One Cloud Audit LogEntry as a rule event; RecordError when it is not one."""
        entry = _unwrap(item)
        if not isinstance(entry, dict):
            raise RecordError(f"a log entry must be a JSON object, got {type(entry).__name__}")
        pp = entry.get("protoPayload")
        if not isinstance(pp, dict):
            raise RecordError("log entry has no protoPayload (not a Cloud Audit Logs entry)")
        method = pp.get("methodName")
        if not isinstance(method, str) or not method:
            raise RecordError("audit entry has no protoPayload.methodName")
        ts = parse_time(entry.get("timestamp")) or parse_time(entry.get("receiveTimestamp"))
        if not ts:
            raise RecordError(f"entry {entry.get('insertId', '?')!s:.64}: timestamp missing or not RFC 3339")
        f: dict[str, Any] = {"jevt": entry, "gcp.methodName": method, "evt.rawtime": ts}
        _payload_fields(pp, f)
        _resource_fields(entry.get("resource"), f)
        _policy_delta(pp, f)
        for k in ("severity", "logName", "insertId"):
            v = entry.get(k)
            if isinstance(v, str):
                f["gcp." + k] = v
        return Event(type=SOURCE, time_ns=ts, fields=f, source=SOURCE)

    def stateful(self, ev: Event) -> bool:
        """A secret read: it gets ``gcp.user.secretreads`` in :meth:`ordered`."""
        f = ev.fields
        return f.get("gcp.methodName") in SECRET_READ_METHODS and not f.get("gcp.status.code")

    def ordered(self, ev: Event) -> None:
        """The per-source state, in delivery order (see reader.Parser): secret reads per principal."""
        f = ev.fields
        if self.stateful(ev):
            cast("dict[str, Any]", f)["gcp.user.secretreads"] = \
                self.secret_reads.add(str(f.get("gcp.user", "?")), ev.time_ns)


#: protoPayload member path -> field, copied when a string
_PAYLOAD_FIELDS = ((("authenticationInfo", "principalEmail"), "gcp.user"),
                   (("requestMetadata", "callerIp"), "gcp.callerIP"),
                   (("requestMetadata", "callerSuppliedUserAgent"), "gcp.userAgent"),
                   (("serviceName",), "gcp.serviceName"), (("resourceName",), "gcp.resourceName"),
                   (("status", "message"), "gcp.status.message"))
#: where each service puts its IAM binding changes, first match wins
_DELTA_PATHS = (("serviceData", "policyDelta", "bindingDeltas"), ("metadata", "datasetChange", "bindingDeltas"),
                ("metadata", "tableChange", "bindingDeltas"))


def _payload_fields(pp: dict[str, Any], f: dict[str, Any]) -> None:
    """Caller, service, resource and status from the AuditLog; authorization, request, response as JSON text."""
    for path, field in _PAYLOAD_FIELDS:
        v = _get(pp, *path)
        if isinstance(v, str):
            f[field] = v
    code = _get(pp, "status", "code")
    f["gcp.status.code"] = code if isinstance(code, int) and not isinstance(code, bool) else 0
    for key, field in (("authorizationInfo", "gcp.authorizationInfo"), ("request", "gcp.request"),
                       ("response", "gcp.response")):
        v = pp.get(key)
        if v is not None:
            f[field] = json_text(v, key)


def _resource_fields(res: Any, f: dict[str, Any]) -> None:
    """The monitored resource: its type and labels (project, location, per-service ids)."""
    rtype = _get(res, "type")
    if isinstance(rtype, str):
        f["gcp.resourceType"] = rtype
    labels = _get(res, "labels")
    if not isinstance(labels, dict):
        return
    for key, field in _LABEL_FIELDS.items():
        v = labels.get(key)
        if isinstance(v, str):
            f[field] = v
    loc = labels.get("location") or labels.get("region")
    zone = labels.get("zone")
    if isinstance(loc, str):
        f["gcp.location"] = loc
    elif isinstance(zone, str) and zone:
        f["gcp.location"] = zone[:-2] if len(zone) > 2 else zone
    if rtype == "logging_sink" and isinstance(labels.get("name"), str):
        f["gcp.logging.sink"] = labels["name"]


def _policy_delta(pp: dict[str, Any], f: dict[str, Any]) -> None:
    for path in _DELTA_PATHS:
        deltas = _get(pp, *path)
        if deltas is not None:
            f["gcp.policyDelta"] = json_text(deltas, "policyDelta")
            return
