"""Azure Activity Log records as rule events (source ``azure_activitylog``; our own ``azure.*`` field names).

Two published shapes are accepted: the export schema that diagnostic settings write to a storage account or
an Event Hub (``{"records": [...]}`` or one record per line: ``time``, ``operationName``, ``resultType``,
``callerIpAddress``, ``identity.claims``, ``properties``) and the Activity Log REST / ``az monitor activity-log
list`` schema (``{"value": [...]}`` or an array: ``eventTimestamp``, ``operationName.value``, ``status.value``,
``caller``, ``httpRequest.clientIpAddress``, ``authorization``). Both map to the same fields; operation names
and resource ids are lower-cased (Azure treats them case-insensitively and the two shapes differ in case).
docs/cloud.md lists the fields.
"""

from __future__ import annotations

import contextlib
from typing import Any, cast

import orjson

from containerguard.model import Event
from containerguard.runtime.cloud.cloudtrail import (
    MAX_PART_BYTES,
    BurstCounter,
    RecordError,
    json_text,
    parse_time,
    records_in,
)

SOURCE = "azure_activitylog"
_UPN = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
_NAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
_OID = "http://schemas.microsoft.com/identity/claims/objectidentifier"
#: operations that hand out keys or secrets
SECRET_READ_OPERATIONS = frozenset({
    "microsoft.storage/storageaccounts/listkeys/action",
    "microsoft.keyvault/vaults/secrets/getsecret/action",
    "microsoft.containerservice/managedclusters/listclusteradmincredential/action",
    "microsoft.containerservice/managedclusters/listclusterusercredential/action",
    "microsoft.containerregistry/registries/listcredentials/action",
    "microsoft.web/sites/config/list/action",
})


def _v(x: Any) -> Any:
    """A value that is either a string or a ``{"value": ..., "localizedValue": ...}`` object (REST shape)."""
    if isinstance(x, dict):
        return x.get("value")
    return x


def _text(v: Any, what: str) -> str:
    """A string as it is (size-checked), anything else as compact JSON text."""
    if isinstance(v, str):
        if len(v) > MAX_PART_BYTES:
            raise RecordError(f"{what} is {len(v)} bytes (limit {MAX_PART_BYTES})")
        return v
    return json_text(v, what)


def _resource_parts(rid: str, f: dict[str, Any]) -> None:
    """subscription, resource group, provider and type from /subscriptions/S/resourceGroups/G/providers/P/T/N..."""
    parts = [p for p in rid.split("/") if p]
    low = [p.lower() for p in parts]
    if "subscriptions" in low:
        i = low.index("subscriptions")
        if i + 1 < len(parts):
            f.setdefault("azure.subscriptionid", low[i + 1])
    if "resourcegroups" in low:
        i = low.index("resourcegroups")
        if i + 1 < len(parts):
            f.setdefault("azure.resourcegroup", low[i + 1])
    if "providers" in low:
        i = len(low) - 1 - low[::-1].index("providers")
        if i + 1 < len(parts):
            prov = low[i + 1]
            f["azure.resource.provider"] = prov
            types = low[i + 2::2]
            f["azure.resource.type"] = "/".join([prov, *types]) if types else prov
            if len(low) > i + 3:
                f["azure.resource.name"] = low[-1]


class AzureActivityParser:
    """Activity Log records -> events; owns the per-caller secret-read counter."""

    source = SOURCE
    lines = True

    def __init__(self) -> None:
        self.secret_reads = BurstCounter()

    def records(self, doc: Any) -> list[Any]:
        """The records of one document (a JSON object, an array, or an object with ``records``)."""
        return records_in(doc, ("records", "value"), "an Azure activity log")

    def event(self, rec: Any) -> Event:
        """One Activity Log record as a rule event; RecordError when it is not one."""
        if not isinstance(rec, dict):
            raise RecordError(f"a record must be a JSON object, got {type(rec).__name__}")
        op = _v(rec.get("operationName"))
        if not isinstance(op, str) or not op:
            raise RecordError("record has no operationName")
        ts = parse_time(rec.get("time")) or parse_time(rec.get("eventTimestamp"))
        if not ts:
            raise RecordError(f"record {rec.get('correlationId', '?')!s:.64}: time missing or not RFC 3339")
        op_l = op.lower()
        f: dict[str, Any] = {"jevt": rec, "azure.operation": op_l, "evt.rawtime": ts}
        identity = _dict(rec.get("identity"))
        claims = _dict(rec.get("claims") if isinstance(rec.get("claims"), dict) else identity.get("claims"))
        authz = _dict(rec.get("authorization") if isinstance(rec.get("authorization"), dict)
                      else identity.get("authorization"))
        props = _dict(rec.get("properties"))
        _result_fields(rec, props, f)
        _caller_fields(rec, claims, f)
        _authorization_fields(authz, f)
        _resource_fields(rec, f)
        _property_fields(props, f)
        return Event(type=SOURCE, time_ns=ts, fields=f, source=SOURCE)

    def stateful(self, ev: Event) -> bool:
        """A secret read: it gets ``azure.caller.secretreads`` in :meth:`ordered`."""
        f = ev.fields
        return f.get("azure.operation") in SECRET_READ_OPERATIONS and \
            str(f.get("azure.result", "")).lower() in ("success", "succeeded")

    def ordered(self, ev: Event) -> None:
        """The per-source state, in delivery order (see reader.Parser): secret reads per caller."""
        f = ev.fields
        if self.stateful(ev):
            cast("dict[str, Any]", f)["azure.caller.secretreads"] = \
                self.secret_reads.add(str(f.get("azure.caller", "?")), ev.time_ns)


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


#: top-level record members copied as they are when they are strings
_PLAIN_FIELDS = (("resultSignature", "azure.result.signature"), ("level", "azure.level"),
                 ("correlationId", "azure.correlationid"), ("location", "azure.location"),
                 ("tenantId", "azure.tenantid"))


def _result_fields(rec: dict[str, Any], props: dict[str, Any], f: dict[str, Any]) -> None:
    """category, result, level, ids and the status code of the operation."""
    category = _v(rec.get("category"))
    if isinstance(category, str):
        f["azure.category"] = category
    result = _v(rec.get("resultType")) or _v(rec.get("status"))
    if isinstance(result, str):
        f["azure.result"] = result
    for key, field in _PLAIN_FIELDS:
        v = _v(rec.get(key))
        if isinstance(v, str):
            f[field] = v
    substatus = _v(rec.get("subStatus"))
    if isinstance(substatus, str) and substatus:
        f["azure.result.signature"] = substatus
    status_code = props.get("statusCode")
    if isinstance(status_code, str):
        f["azure.status.code"] = status_code


def _caller_fields(rec: dict[str, Any], claims: dict[str, Any], f: dict[str, Any]) -> None:
    """Who called from where: caller (or the best claim naming them), caller address, the claims."""
    caller = rec.get("caller")
    if not isinstance(caller, str):
        caller = claims.get(_UPN) or claims.get(_NAME) or claims.get("appid") or claims.get(_OID)
    if isinstance(caller, str):
        f["azure.caller"] = caller
    ip = rec.get("callerIpAddress")
    if not isinstance(ip, str):
        ip = _get_str(rec.get("httpRequest"), "clientIpAddress")
    if isinstance(ip, str):
        f["azure.callerip"] = ip
    for key in ("appid", "idtyp"):
        if isinstance(claims.get(key), str):
            f["azure.claims." + key] = claims[key]
    if claims:
        f["azure.claims"] = {str(k): str(v) for k, v in claims.items()}


def _authorization_fields(authz: dict[str, Any], f: dict[str, Any]) -> None:
    if isinstance(authz.get("action"), str):
        f["azure.authorization.action"] = authz["action"].lower()
    if isinstance(authz.get("scope"), str):
        f["azure.authorization.scope"] = authz["scope"].lower()
    role = _get_str(authz.get("evidence"), "role")
    if role is not None:
        f["azure.authorization.role"] = role


def _resource_fields(rec: dict[str, Any], f: dict[str, Any]) -> None:
    """The resource id and its parts; explicit subscriptionId/resourceGroupName win over the parsed ones."""
    rid = rec.get("resourceId")
    if isinstance(rid, str):
        f["azure.resourceid"] = rid.lower()
        _resource_parts(rid, f)
    for key, field in (("subscriptionId", "azure.subscriptionid"), ("resourceGroupName", "azure.resourcegroup")):
        v = rec.get(key)
        if isinstance(v, str):
            f[field] = v.lower()


def _property_fields(props: dict[str, Any], f: dict[str, Any]) -> None:
    """Request and response bodies as compact JSON text, and every property as text."""
    for key, field in (("requestbody", "azure.request"), ("responseBody", "azure.response")):
        v = props.get(key)
        if isinstance(v, str) and v[:1] in ("{", "["):
            # the body as compact JSON, so rules can match '"key":value' whatever the spacing was
            with contextlib.suppress(orjson.JSONDecodeError):
                v = orjson.loads(v)
        if v is not None:
            f[field] = _text(v, key)
    if props:
        f["azure.properties"] = {str(k): v if isinstance(v, str) else _text(v, f"properties.{k}")
                                 for k, v in props.items()}

def _get_str(d: Any, key: str) -> str | None:
    v = d.get(key) if isinstance(d, dict) else None
    return v if isinstance(v, str) else None
