"""AWS CloudTrail records as rule events (source ``aws_cloudtrail``).

CloudTrail delivers ``{"Records": [...]}`` documents (gzip on S3). Each record becomes one :class:`Event` whose
fields carry Falco's cloudtrail-plugin names (``ct.*``, ``s3.*``, ``ec2.*``, ``ecr.*``) with the same
meaning, so upstream rules run unmodified, plus the raw record under ``jevt`` for ``json.value[/pointer]``.
The field list and what each reads is in docs/cloud.md; record layout from the CloudTrail record-contents
reference (eventVersion 1.08-1.11).

Beyond the plugin's fields, ``ct.user.secretreads`` counts secret reads by the same principal in the last
ten minutes of event time (see :class:`BurstCounter`), so a rule can see "secrets read in bulk".
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

import msgspec
import orjson

from containerguard.model import Event
from containerguard.runtime.events import LazyFields, LazyJSON

SOURCE = "aws_cloudtrail"
#: a record whose request or response serialises larger than this is skipped as bad input
MAX_PART_BYTES = 256 << 10

#: API calls that hand out secret material (Secrets Manager, SSM parameters, KMS decrypt of data keys)
SECRET_READ_CALLS = frozenset({
    "GetSecretValue", "BatchGetSecretValue", "GetParameter", "GetParameters", "GetParametersByPath",
})
_MGMT_TYPES = frozenset({"AwsApiCall", "AwsConsoleAction", "AwsConsoleSignIn", "AwsServiceEvent"})
_WRITE_PREFIXES = (
    "Start", "Stop", "Create", "Destroy", "Delete", "Add", "Remove", "Terminate", "Put", "Associate",
    "Disassociate", "Attach", "Detach", "Open", "Close", "Wipe", "Update", "Upgrade", "Unlink", "Assign",
    "Unassign", "Suspend", "Set", "Run", "Register", "Deregister", "Reboot", "Purchase", "Modify", "Initialize",
    "Enable", "Disable", "Cancel", "Admin", "Activate",
)
#: requestParameters keys that Falco's plugin exposes as ct.request.* (field suffix -> JSON key)
_REQUEST_KEYS = {
    "availabilityzone": "availabilityZone", "cluster": "cluster", "functionname": "functionName",
    "groupname": "groupName", "host": "Host", "name": "name", "policy": "policy", "serialnumber": "serialNumber",
    "servicename": "serviceName", "subnetid": "subnetId", "taskdefinition": "taskDefinition",
    "username": "userName",
}
_REQUEST_FIELDS = {f"ct.request.{k}": v for k, v in _REQUEST_KEYS.items()}
_TIME_CACHE: dict[str, int] = {}


class RecordError(ValueError):
    """A record that cannot become an event (the message says why)."""


def parse_time(text: Any) -> int:
    """CloudTrail's ``eventTime`` (``2024-05-01T12:00:00Z``) to ns since the epoch; 0 when absent/invalid."""
    if not isinstance(text, str):
        return 0
    ns = _TIME_CACHE.get(text)
    if ns is not None:
        return ns
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        if dt.tzinfo is None:
            return 0
        ns = int(dt.timestamp() * 1_000_000) * 1000
    except ValueError:
        return 0
    if len(_TIME_CACHE) > 8192:
        _TIME_CACHE.clear()
    _TIME_CACHE[text] = ns
    return ns


def json_text(v: Any, what: str) -> str:
    """``v`` as compact JSON text; RecordError when it cannot be serialised or is larger than MAX_PART_BYTES."""
    try:
        text = orjson.dumps(v).decode()
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise RecordError(f"{what} cannot be serialised: {exc}") from None
    if len(text) > MAX_PART_BYTES:
        raise RecordError(f"{what} is {len(text)} bytes (limit {MAX_PART_BYTES})")
    return text


def _num(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v)
    return None


def records_in(doc: Any, keys: tuple[str, ...], what: str) -> list[Any]:
    """The records of a decoded document: an array, the array under the first of ``keys`` an object has, or the
    object itself (one record). RecordError for anything else."""
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        for key in keys:
            if isinstance(doc.get(key), list):
                return list(doc[key])
        return [doc]
    raise RecordError(f"not {what} (expected a JSON object or array)")


#: members every CloudTrail digest file has (log file integrity validation writes one an hour beside the logs)
_DIGEST_KEYS = ("digestStartTime", "digestEndTime", "logFiles")


def is_digest(doc: dict[str, Any]) -> bool:
    """Whether a decoded document is a CloudTrail digest file rather than a log file."""
    return all(k in doc for k in _DIGEST_KEYS)


class BurstCounter:
    """Per-key counts of events in a sliding window of event time (default ten minutes).

    Memory is bounded: at most ``max_keys`` keys (the least recently seen key is dropped) and ``max_per_key``
    timestamps per key (older ones dropped; the count saturates there, which is still "in bulk").
    """

    def __init__(self, window_s: float = 600.0, max_keys: int = 10_000, max_per_key: int = 1_000) -> None:
        self.window_ns = int(window_s * 1e9)
        self.max_keys = max_keys
        self.max_per_key = max_per_key
        self._seen: dict[str, deque[int]] = {}

    def add(self, key: str, ts: int) -> int:
        """Note one occurrence of ``key`` at ``ts``; returns how many fell in the window."""
        q = self._seen.pop(key, None)
        if q is None:
            if len(self._seen) >= self.max_keys:
                self._seen.pop(next(iter(self._seen)))
            q = deque(maxlen=self.max_per_key)
        self._seen[key] = q  # re-inserted: dict order is least recently seen first
        q.append(ts)
        low = ts - self.window_ns
        while q and q[0] < low:
            q.popleft()
        return len(q)


class CloudTrailParser:
    """Records -> events. One parser per source: it owns the burst counters."""

    source = SOURCE
    lines = False  # CloudTrail writes whole {"Records": [...]} documents

    def __init__(self) -> None:
        self.secret_reads = BurstCounter()

    def records(self, doc: Any) -> list[Any]:
        """The records of one delivered document: ``{"Records": [...]}``, a bare array or one record."""
        if isinstance(doc, dict):
            recs = doc.get("Records")
            if recs is None and "eventName" in doc:
                return [doc]
            if recs is None and is_digest(doc):
                return []  # a digest file (CloudTrail-Digest/): hashes of the log files, no events
            if not isinstance(recs, list):
                raise RecordError("not a CloudTrail log file (no 'Records' array)")
            return recs
        if isinstance(doc, list):
            return doc
        raise RecordError("not a CloudTrail log file (expected a JSON object with 'Records')")

    def event(self, rec: Any) -> Event:
        """One decoded record (a dict) as a rule event; RecordError when it lacks what every record has.
        The same code as for delivered files: the record is re-encoded and read by :meth:`fast_event`."""
        if not isinstance(rec, dict):
            raise RecordError(f"a record must be a JSON object, got {type(rec).__name__}")
        return _fast_event(self, orjson.dumps(rec))

    def stateful(self, ev: Event) -> bool:
        """A secret read: it gets ``ct.user.secretreads`` in :meth:`ordered`."""
        f = ev.fields
        return f.get("ct.name") in SECRET_READ_CALLS and f.get("ct.error") is None

    def ordered(self, ev: Event) -> None:
        """The per-source state, in delivery order (see reader.Parser): secret reads per principal, which
        files read by several processes cannot count apart."""
        f = ev.fields
        if self.stateful(ev):
            principal = f.get("ct.user.arn") or f.get("ct.user.principalid") or f.get("ct.user") or "?"
            cast("dict[str, Any]", f)["ct.user.secretreads"] = self.secret_reads.add(str(principal), ev.time_ns)

    def fast_records(self, plain: bytes) -> list[msgspec.Raw] | None:
        """The raw records of a ``{"Records": [...]}`` document (decoded in C), or None when it is not one."""
        return fast_records(plain)

    def fast_event(self, raw: msgspec.Raw | bytes) -> Event:
        """One raw record as an event: typed decoding of just the members the fields need."""
        return _fast_event(self, raw)

    @staticmethod
    def _ec2_name(req: dict[str, Any], f: dict[str, Any]) -> None:
        spec = req.get("tagSpecificationSet")
        items = spec.get("items") if isinstance(spec, dict) else None
        if not isinstance(items, list):
            return
        for item in items:
            if not isinstance(item, dict) or item.get("resourceType") != "instance":
                continue
            for tag in item.get("tags") or []:
                if isinstance(tag, dict) and tag.get("key") == "Name" and isinstance(tag.get("value"), str):
                    f["ec2.name"] = tag["value"]
                    return

    @staticmethod
    def _ec2_image(resp: dict[str, Any], f: dict[str, Any]) -> None:
        iset = resp.get("instancesSet")
        items = iset.get("items") if isinstance(iset, dict) else None
        if isinstance(items, list) and items and isinstance(items[0], dict) and isinstance(items[0].get("imageId"), str):
            f["ec2.imageid"] = items[0]["imageId"]


def _info(f: dict[str, Any]) -> str:
    """ct.info: who, from where, read or write, what (and the S3 object), as the plugin summarises an event."""
    arrow = "→" if f.get("ct.readonly") == "false" else "←"
    err = "!" if "ct.error" in f else ""
    text = f"{f.get('ct.user', '<NA>')} via {f.get('ct.srcip', '<NA>')} {err}{arrow} {f['ct.name']}"
    if "s3.bytes" in f:
        text += f" Size={f['s3.bytes']}"
    if "s3.uri" in f:
        return f"{text} URI={f['s3.uri']}"
    if "s3.bucket" in f:
        return f"{text} Bucket={f['s3.bucket']}"
    if "ct.request.host" in f:
        return f"{text} Host={f['ct.request.host']}"
    return text


# ------------------------------------------------------------------ fast path: typed decoding with msgspec
#
# A delivered file is decoded in C into just the members the fields need; sub-documents (requestParameters,
# responseElements, ...) stay raw JSON text until a rule asks (``ct.request`` is that text, ``json.value``
# parses the record on first use). A record msgspec cannot type (a member of an unexpected type) goes the
# generic way (:meth:`CloudTrailParser.event`), which handles anything.


# Nested objects are decoded in the record's one pass; a member of another JSON type than expected (a string
# where an object belongs) decodes as that value, and the fields it would give are simply absent.
_NOT_OBJECT = str | int | float | bool | list[Any] | None


class _Issuer(msgspec.Struct):
    userName: Any = None


class _SessionAttrs(msgspec.Struct):
    mfaAuthenticated: Any = None


class _Session(msgspec.Struct):
    sessionIssuer: _Issuer | _NOT_OBJECT = None
    attributes: _SessionAttrs | _NOT_OBJECT = None


_MISSING = msgspec.Raw()


class _Identity(msgspec.Struct):
    type: Any = None
    principalId: Any = None
    arn: Any = None
    accountId: Any = None
    userName: Any = None
    invokedBy: Any = None
    sessionContext: _Session | _NOT_OBJECT = None


class _Record(msgspec.Struct):
    # the string members that become fields as they are, in the order of _PLAIN_FIELDS
    eventID: Any = None
    errorCode: Any = None
    errorMessage: Any = None
    eventTime: Any = None
    awsRegion: Any = None
    sourceIPAddress: Any = None
    userAgent: Any = None
    requestID: Any = None
    eventType: Any = None
    apiVersion: Any = None
    recipientAccountId: Any = None
    sharedEventID: Any = None
    vpcEndpointId: Any = None
    eventCategory: Any = None
    # the rest
    eventName: Any = None
    eventSource: Any = None
    readOnly: Any = None
    managementEvent: Any = None
    sessionCredentialFromConsole: Any = None
    userIdentity: _Identity | _NOT_OBJECT = None
    requestParameters: msgspec.Raw = _MISSING
    responseElements: msgspec.Raw = _MISSING
    additionalEventData: msgspec.Raw = _MISSING
    resources: msgspec.Raw = _MISSING
    serviceEventDetails: msgspec.Raw = _MISSING
    edgeDeviceDetails: msgspec.Raw = _MISSING
    tlsDetails: msgspec.Raw = _MISSING
    addendum: msgspec.Raw = _MISSING


_PLAIN_FIELDS = ("ct.id", "ct.error", "ct.errormessage", "ct.time", "ct.region", "ct.srcip", "ct.useragent",
                 "ct.requestid", "ct.eventtype", "ct.apiversion", "ct.recipientaccountid", "ct.sharedeventid",
                 "ct.vpcendpointid", "ct.eventcategory")
_astuple = msgspec.structs.astuple


class _Doc(msgspec.Struct):
    Records: list[msgspec.Raw]


class _Req(msgspec.Struct):
    availabilityZone: Any = None
    cluster: Any = None
    functionName: Any = None
    groupName: Any = None
    Host: Any = None
    name: Any = None
    policy: Any = None
    serialNumber: Any = None
    serviceName: Any = None
    subnetId: Any = None
    taskDefinition: Any = None
    userName: Any = None
    bucketName: Any = None
    key: Any = None
    repositoryName: Any = None
    imageTag: Any = None
    tagSpecificationSet: Any = None


class _Resp(msgspec.Struct):
    subnetId: Any = None
    reservationId: Any = None
    instancesSet: Any = None


class _Extra(msgspec.Struct):
    bytesTransferredIn: Any = None
    bytesTransferredOut: Any = None


_DOC = msgspec.json.Decoder(_Doc)
_REC = msgspec.json.Decoder(_Record)
_OBJ = msgspec.json.Decoder(dict[str, Any])
_REQ = msgspec.json.Decoder(_Req)
_RESP = msgspec.json.Decoder(_Resp)
_EXTRA = msgspec.json.Decoder(_Extra)
_NULL = b"null"


def _compact(raw: bytes, what: str) -> str:
    """Raw JSON as compact text (rules match '"key":value'); CloudTrail writes compact JSON, tests may not."""
    if len(raw) > MAX_PART_BYTES:
        raise RecordError(f"{what} is {len(raw)} bytes (limit {MAX_PART_BYTES})")
    if b'": ' in raw or b', "' in raw or b"\n" in raw:
        return orjson.dumps(orjson.loads(raw)).decode()
    return raw.decode()


def _b(raw: msgspec.Raw) -> bytes | None:
    """The member's JSON text; None when it is absent or null."""
    b = bytes(raw)
    return None if not b or b == _NULL else b


def _part(raw: bytes, dec: msgspec.json.Decoder[Any]) -> Any:
    """An object member decoded into its typed struct (just the members fields read); None if it is not one."""
    if raw[:1] != b"{":
        return None
    try:
        return dec.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def _obj(raw: bytes | None) -> dict[str, Any] | None:
    if raw is None or raw[:1] != b"{":
        return None
    try:
        return _OBJ.decode(raw)
    except msgspec.DecodeError:
        return None


#: the record members that may be large: checked when the record is read (a record over the limit is bad input)
_SIZED = (("requestParameters", "requestParameters"), ("responseElements", "responseElements"),
          ("additionalEventData", "additionalEventData"), ("resources", "ct.resources"),
          ("serviceEventDetails", "ct.serviceeventdetails"), ("edgeDeviceDetails", "ct.edgedevicedetails"))


def _fast_event(self: CloudTrailParser, raw: msgspec.Raw | bytes) -> Event:
    """One raw record as an event: the typed decode and the flat fields now, the rest when a rule reads it."""
    try:
        r = _REC.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise RecordError(f"not a CloudTrail record: {exc}") from None
    except RecursionError:
        raise RecordError("not a CloudTrail record: nested too deeply") from None
    name, src = r.eventName, r.eventSource
    if type(name) is not str or not name:
        raise RecordError("record has no eventName")
    if type(src) is not str:
        raise RecordError("record has no eventSource")
    ts = parse_time(r.eventTime)
    if not ts:
        raise RecordError(f"record {r.eventID or '?'!s:.64}: eventTime missing or not RFC 3339")
    for member, what in _SIZED:
        part = getattr(r, member)
        if len(part) > MAX_PART_BYTES:
            raise RecordError(f"{what} is {len(part)} bytes (limit {MAX_PART_BYTES})")
    src_bytes = bytes(raw)
    f = CloudTrailFields(src_bytes)
    f.rec = r
    f.done = _EAGER_BITS
    _flat_fields(r, f)
    f["jevt"] = LazyJSON(src_bytes)  # what most rules read: cheaper here than through a filler
    _request_text(r, f)
    return Event(type=SOURCE, time_ns=ts, fields=f, source=SOURCE)


def _request_text(r: _Record, f: dict[str, Any]) -> None:
    rp = _b(r.requestParameters)
    if rp is not None:
        f["ct.request"] = _compact(rp, "requestParameters")


def _flat_fields(r: _Record, f: dict[str, Any]) -> None:
    """The fields of the record's top-level string members (what every rule reads first)."""
    name, src = r.eventName, r.eventSource
    ro, mgmt = r.readOnly, r.managementEvent
    f["ct.name"] = name
    f["ct.src"] = src
    f["ct.shortsrc"] = src[:-14] if src.endswith(".amazonaws.com") and len(src) > 14 else src
    f["evt.rawtime"] = parse_time(r.eventTime)
    f["ct.readonly"] = "true" if ro is True else "false" if ro is not None else \
        ("false" if name.startswith(_WRITE_PREFIXES) else "true")
    f["ct.managementevent"] = "true" if (mgmt is True or (mgmt is None and r.eventType in _MGMT_TYPES)) else "false"
    for k, v in zip(_PLAIN_FIELDS, _astuple(r), strict=False):
        if type(v) is str:
            f[k] = v
    if r.sessionCredentialFromConsole is not None:
        f["ct.sessioncredentialfromconsole"] = str(r.sessionCredentialFromConsole).lower()


class CloudTrailFields(LazyFields):
    """The fields of one CloudTrail record: the flat members at once, the rest (user identity, request and
    response, TLS details, ct.info, the raw record under ``jevt``) on first read. ``src`` is the raw record."""

    __slots__ = ("rec",)

    def __init__(self, src: bytes, eager: dict[str, Any] | None = None, done: int = 0) -> None:
        super().__init__(src, eager, done)
        self.rec: _Record | None = None

    def record(self) -> _Record:
        """The typed record (decoded again after the map crossed a process boundary)."""
        r = self.rec
        if r is None:
            r = self.rec = _REC.decode(self.src)
        return r


def _fill_flat(f: LazyFields) -> None:
    assert isinstance(f, CloudTrailFields)
    _flat_fields(f.record(), f)


def _fill_jevt(f: LazyFields) -> None:
    f["jevt"] = LazyJSON(f.src)


def _fill_identity(f: LazyFields) -> None:
    assert isinstance(f, CloudTrailFields)
    user = _identity_fields(f.record(), f)
    if user is not None:
        f["ct.user"] = user


def _fill_request_text(f: LazyFields) -> None:
    assert isinstance(f, CloudTrailFields)
    _request_text(f.record(), f)


def _fill_request(f: LazyFields) -> None:
    assert isinstance(f, CloudTrailFields)
    rp = _b(f.record().requestParameters)
    if rp is not None:
        req = _part(rp, _REQ)
        if req is not None:
            _request_fields_typed(req, f)


def _fill_response(f: LazyFields) -> None:
    assert isinstance(f, CloudTrailFields)
    rs = _b(f.record().responseElements)
    if rs is not None:
        f["ct.response"] = _compact(rs, "responseElements")
        resp = _part(rs, _RESP)
        if resp is not None:
            _response_fields_typed(resp, f)


def _fill_extra(f: LazyFields) -> None:
    assert isinstance(f, CloudTrailFields)
    extra = _b(f.record().additionalEventData)
    if extra is not None:
        f["ct.additionaleventdata"] = _compact(extra, "additionalEventData")
        ed = _part(extra, _EXTRA)
        if ed is not None:
            _byte_fields({"bytesTransferredIn": ed.bytesTransferredIn, "bytesTransferredOut": ed.bytesTransferredOut}, f)


def _fill_s3_counts(f: LazyFields) -> None:
    name = f["ct.name"]
    if f["ct.src"] == "s3.amazonaws.com" or f.get("s3.bucket") is not None:
        f["s3.cnt.get"] = 1 if name == "GetObject" else 0
        f["s3.cnt.put"] = 1 if name == "PutObject" else 0
        f["s3.cnt.other"] = 0 if name in ("GetObject", "PutObject") else 1


def _fill_parts(f: LazyFields) -> None:
    assert isinstance(f, CloudTrailFields)
    _raw_part_fields(f.record(), f)


def _fill_info(f: LazyFields) -> None:
    f["ct.info"] = _info(f)


def _fillers() -> dict[str, tuple[int, Callable[[LazyFields], None]]]:
    groups: list[tuple[Callable[[LazyFields], None], tuple[str, ...]]] = [
        (_fill_flat, ("ct.name", "ct.src", "ct.shortsrc", "evt.rawtime", "ct.readonly", "ct.managementevent",
                      *_PLAIN_FIELDS, "ct.sessioncredentialfromconsole")),
        (_fill_jevt, ("jevt",)),
        (_fill_identity, ("ct.user", "ct.user.identitytype", "ct.user.principalid", "ct.user.arn",
                          "ct.user.accountid", "ct.user.mfaauthenticated")),
        (_fill_request_text, ("ct.request",)),
        (_fill_request, (*_REQUEST_FIELDS, "s3.bucket", "s3.key", "s3.uri", "ecr.repository", "ecr.imagetag",
                         "ec2.name")),
        (_fill_response, ("ct.response", "ct.response.subnetid", "ct.response.reservationid", "ec2.imageid")),
        (_fill_extra, ("ct.additionaleventdata", "s3.bytes", "s3.bytes.in", "s3.bytes.out")),
        (_fill_s3_counts, ("s3.cnt.get", "s3.cnt.put", "s3.cnt.other")),
        (_fill_parts, ("ct.resources", "ct.serviceeventdetails", "ct.edgedevicedetails",
                       *(fld for _, fld in _TLS_KEYS), *(fld for _, fld in _ADDENDUM_KEYS))),
        (_fill_info, ("ct.info",)),
    ]
    return {name: (1 << i, fn) for i, (fn, names) in enumerate(groups) for name in names}


def _identity_fields(r: _Record, f: dict[str, Any]) -> str | None:
    """The ct.user.* fields from userIdentity; returns ct.user (Falco's cloudtrail plugin's rules)."""
    ui = r.userIdentity
    if type(ui) is not _Identity:
        return None
    sc = ui.sessionContext if type(ui.sessionContext) is _Session else None
    for v, field in ((ui.type, "ct.user.identitytype"), (ui.principalId, "ct.user.principalid"),
                     (ui.arn, "ct.user.arn"), (ui.accountId, "ct.user.accountid")):
        if type(v) is str:
            f[field] = v
    attrs = sc.attributes if sc is not None else None
    if type(attrs) is _SessionAttrs and type(attrs.mfaAuthenticated) is str:
        f["ct.user.mfaauthenticated"] = attrs.mfaAuthenticated
    return _user_name(ui, sc)


def _user_name(ui: _Identity, sc: _Session | None) -> str | None:
    """ct.user as the cloudtrail plugin names it, per identity type."""
    ut = ui.type
    if ut == "Root" or ut == "IAMUser":
        return ui.userName if type(ui.userName) is str else None
    if ut == "AssumedRole":
        si = sc.sessionIssuer if sc is not None else None
        issuer = si.userName if type(si) is _Issuer else None
        return issuer if type(issuer) is str else "AssumedRole"
    if ut == "AWSService":
        return ui.invokedBy if type(ui.invokedBy) is str else None
    if ut == "AWSAccount" or ut == "FederatedUser":
        return str(ut)
    return "<unknown user type>" if type(ut) is str else None


def _payload_fields(r: _Record, f: dict[str, Any]) -> None:
    """requestParameters, responseElements and additionalEventData: compact text plus the typed fields."""
    rp = _b(r.requestParameters)
    if rp is not None:
        f["ct.request"] = _compact(rp, "requestParameters")
        req = _part(rp, _REQ)
        if req is not None:
            _request_fields_typed(req, f)
    rs = _b(r.responseElements)
    if rs is not None:
        f["ct.response"] = _compact(rs, "responseElements")
        resp = _part(rs, _RESP)
        if resp is not None:
            _response_fields_typed(resp, f)
    extra = _b(r.additionalEventData)
    if extra is not None:
        f["ct.additionaleventdata"] = _compact(extra, "additionalEventData")
        ed = _part(extra, _EXTRA)
        if ed is not None:
            _byte_fields({"bytesTransferredIn": ed.bytesTransferredIn, "bytesTransferredOut": ed.bytesTransferredOut}, f)


def _response_fields_typed(resp: _Resp, f: dict[str, Any]) -> None:
    for field, v in (("ct.response.subnetid", resp.subnetId), ("ct.response.reservationid", resp.reservationId)):
        if type(v) is str:
            f[field] = v
    if resp.instancesSet is not None:
        CloudTrailParser._ec2_image({"instancesSet": resp.instancesSet}, f)


def _raw_part_fields(r: _Record, f: dict[str, Any]) -> None:
    """resources, serviceEventDetails, edgeDeviceDetails as compact text; tlsDetails and addendum members."""
    for rv, field in ((r.resources, "ct.resources"), (r.serviceEventDetails, "ct.serviceeventdetails"),
                      (r.edgeDeviceDetails, "ct.edgedevicedetails")):
        if rv is _MISSING:
            continue
        v = _b(rv)
        if v is not None:
            f[field] = _compact(v, field)
    for raw_part, keys in ((r.tlsDetails, _TLS_KEYS), (r.addendum, _ADDENDUM_KEYS)):
        if raw_part is _MISSING:
            continue
        part = _obj(_b(raw_part))
        if part is not None:
            for key, field in keys:
                v = part.get(key)
                if isinstance(v, str):
                    f[field] = v


def _request_fields_typed(req: _Req, f: dict[str, Any]) -> None:
    for field, v in (("ct.request.availabilityzone", req.availabilityZone), ("ct.request.cluster", req.cluster),
                     ("ct.request.functionname", req.functionName), ("ct.request.groupname", req.groupName),
                     ("ct.request.host", req.Host), ("ct.request.name", req.name), ("ct.request.policy", req.policy),
                     ("ct.request.serialnumber", req.serialNumber), ("ct.request.servicename", req.serviceName),
                     ("ct.request.subnetid", req.subnetId), ("ct.request.taskdefinition", req.taskDefinition),
                     ("ct.request.username", req.userName)):
        if type(v) is str:
            f[field] = v
    bucket, okey = req.bucketName, req.key
    if type(bucket) is str:
        f["s3.bucket"] = bucket
        if type(okey) is str:
            f["s3.key"] = okey
            f["s3.uri"] = f"s3://{bucket}/{okey}"
    elif type(okey) is str:
        f["s3.key"] = okey
    if type(req.repositoryName) is str:
        f["ecr.repository"] = req.repositoryName
    if type(req.imageTag) is str:
        f["ecr.imagetag"] = req.imageTag
    if req.tagSpecificationSet is not None:
        CloudTrailParser._ec2_name({"tagSpecificationSet": req.tagSpecificationSet}, f)


def _byte_fields(extra: dict[str, Any], f: dict[str, Any]) -> None:
    bin_, bout = _num(extra.get("bytesTransferredIn")), _num(extra.get("bytesTransferredOut"))
    if bin_ is not None:
        f["s3.bytes.in"] = bin_
    if bout is not None:
        f["s3.bytes.out"] = bout
    if bin_ is not None or bout is not None:
        f["s3.bytes"] = (bin_ or 0) + (bout or 0)


_TLS_KEYS = (("tlsVersion", "ct.tlsdetails.tlsversion"), ("cipherSuite", "ct.tlsdetails.ciphersuite"),
             ("clientProvidedHostHeader", "ct.tlsdetails.clientprovidedhostheader"))
_ADDENDUM_KEYS = (("reason", "ct.addendum.reason"), ("updatedFields", "ct.addendum.updatedfields"),
                  ("originalRequestID", "ct.addendum.originalrequestid"),
                  ("originalEventID", "ct.addendum.originaleventid"))


def fast_records(plain: bytes) -> list[msgspec.Raw] | None:
    """The raw records of a ``{"Records": [...]}`` document, or None when it is not one (the generic path
    then decides what it is)."""
    try:
        return _DOC.decode(plain).Records
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        return None  # nested past msgspec's depth: the generic path reads the records one by one


CloudTrailFields.FILLERS = _fillers()
CloudTrailFields.ALL = (1 << len({bit for bit, _ in CloudTrailFields.FILLERS.values()})) - 1
#: what _fast_event computes at once: the flat members, jevt and the request text
_EAGER_BITS = CloudTrailFields.FILLERS["ct.name"][0] | CloudTrailFields.FILLERS["jevt"][0] | \
    CloudTrailFields.FILLERS["ct.request"][0]
