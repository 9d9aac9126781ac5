"""Kubernetes validating admission webhook: AdmissionReview v1 in, allowed/denied with message and warnings out.

Pods and every workload kind that holds a pod template (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job,
CronJob, ReplicationController, PodTemplate) are evaluated container by container against the deploy-stage
policies. Modes: ``enforce`` (deny on a deny violation), ``warn`` (never deny; what would be denied comes back
as a warning) and ``dry-run`` (allow silently; decisions are only logged). Namespaces can be excluded.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import fnmatch
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from containerguard.policy import inputs
from containerguard.policy.engine import PolicySet
from containerguard.policy.loader import LivePolicies, current_set
from containerguard.policy.model import Action, Decision, Stage, Violation
from containerguard.policy.reporting import Report, undecidable

#: where decisions go besides the response (a DecisionReporter's ``record``); must not block
ReportFn = Callable[[Report], None]

log = logging.getLogger("containerguard.admission")

MAX_WARNINGS = 20
MAX_WARNING_CHARS = 240
MAX_MESSAGE_CHARS = 4000


class Mode(enum.StrEnum):
    ENFORCE = "enforce"
    WARN = "warn"
    DRY_RUN = "dry-run"


@dataclasses.dataclass(frozen=True, slots=True)
class AdmissionConfig:
    mode: Mode = Mode.ENFORCE
    exclude_namespaces: tuple[str, ...] = ()  # globs
    fail_open: bool = False  # when the webhook itself cannot decide (not a policy's own on_error)


class BadReview(ValueError):
    """An AdmissionReview the webhook refuses to decide on (wrong apiVersion/kind, no request or uid)."""


def review(ps: PolicySet, body: Any, config: AdmissionConfig, report: ReportFn | None = None) -> dict[str, Any]:
    """The AdmissionReview response to an AdmissionReview request (raises BadReview on a malformed one).
    ``report`` is told each decision made (see policy/reporting.py)."""
    if not isinstance(body, Mapping):
        raise BadReview("the body is not a JSON object")
    if body.get("kind") != "AdmissionReview" or body.get("apiVersion") != "admission.k8s.io/v1":
        raise BadReview("expected kind AdmissionReview, apiVersion admission.k8s.io/v1")
    req = body.get("request")
    if not isinstance(req, Mapping) or not isinstance(req.get("uid"), str) or not req["uid"]:
        raise BadReview("request.uid is missing")
    uid = req["uid"]
    t0 = time.perf_counter()
    try:
        decision, subject, obj, images = _decide(ps, req, config)
    except Exception as exc:  # an input the builders could not read, a bug: the configured failure mode decides
        log.exception("admission %s: could not evaluate", uid)
        msg = f"containerguard could not evaluate this request ({type(exc).__name__}: {exc})"
        allowed = config.fail_open or config.mode is not Mode.ENFORCE
        if report is not None:
            report(undecidable(_what(req), msg, allowed=allowed, obj=_meta(req), mode=str(config.mode)))
        return _response(uid, allowed, msg + ("; failing open" if allowed else "; failing closed"),
                         [msg[:MAX_WARNING_CHARS]] if allowed else [])
    if decision is None:
        return _response(uid, True, "", [])
    deny = [v for v in decision.violations if v.action is Action.DENY]
    warn = [v for v in decision.violations if v.action is Action.WARN]
    if report is not None:
        user = req.get("userInfo") if isinstance(req.get("userInfo"), Mapping) else {}
        assert isinstance(user, Mapping)
        report(Report(decision, allowed=not deny or config.mode is not Mode.ENFORCE, mode=str(config.mode),
                      obj=obj, images=images, user=str(user.get("username") or "")[:255]))
    if log.isEnabledFor(logging.INFO):  # the audit line: who was decided what, by which policies
        log.info(json.dumps({"uid": uid, "subject": subject, "mode": str(config.mode), "allowed": not deny,
                             "deny": sorted({v.policy_id for v in deny}), "warn": sorted({v.policy_id for v in warn}),
                             "errors": sorted({v.policy_id for v in decision.violations if v.error}),
                             "ms": round((time.perf_counter() - t0) * 1e3, 2)}))
    if config.mode is Mode.DRY_RUN:
        return _response(uid, True, "", [])
    warnings = [_warning(v) for v in warn] + [f"{w}" for w in decision.warnings]
    if config.mode is Mode.WARN:
        warnings = [f"would deny: {_warning(v)}" for v in deny] + warnings
        return _response(uid, True, "", warnings)
    if deny:
        return _response(uid, False, _denial(deny), warnings)
    return _response(uid, True, "", warnings)


Decided = tuple[Decision | None, str, dict[str, str], dict[str, str]]


def _decide(ps: PolicySet, req: Mapping[str, Any], config: AdmissionConfig) -> Decided:
    """(decision or None when not decided on, subject, the object's namespace/kind/name, subject -> image)."""
    op = str(req.get("operation") or "")
    obj = req.get("object")
    if op not in ("CREATE", "UPDATE", "CONNECT"):
        return None, "", {}, {}
    req_kind = req.get("kind") if isinstance(req.get("kind"), Mapping) else {}
    assert isinstance(req_kind, Mapping)
    if not isinstance(obj, Mapping):
        if op != "CONNECT" and req_kind.get("kind") in inputs.POD_SPEC_PATHS:
            # the API server always sends the object it is about to store: none is a request we cannot decide
            raise ValueError(f"{op} of a {req_kind.get('kind')} without request.object")
        return None, "", {}, {}
    ns = str(req.get("namespace") or (obj.get("metadata") or {}).get("namespace") or "")
    if ns and any(fnmatch.fnmatchcase(ns, pat) for pat in config.exclude_namespaces):
        return None, "", {}, {}
    kind = req_kind.get("kind")
    if kind and not obj.get("kind"):
        obj = {**obj, "kind": kind}
    if inputs.pod_spec(obj) is None:  # not a workload (a Service, a ConfigMap, ...)
        return None, "", {}, {}
    docs = list(inputs.from_k8s_object(obj, operation=op, namespace=ns))
    name = (obj.get("metadata") or {}).get("name") or (obj.get("metadata") or {}).get("generateName") or ""
    images = {subject: str(doc["image"].get("name") or "") for subject, doc in docs}
    meta = {"namespace": ns or str(docs[0][1]["workload"]["namespace"]) if docs else ns,
            "kind": str(obj.get("kind")), "name": str(name), "operation": op}
    return ps.evaluate_many(docs, Stage.DEPLOY), f"{obj.get('kind')} {ns}/{name}", meta, images


def _meta(req: Mapping[str, Any]) -> dict[str, str]:
    """namespace/kind/name of a request whatever its shape (for reporting one that could not be evaluated)."""
    kind = req.get("kind") if isinstance(req.get("kind"), Mapping) else {}
    assert isinstance(kind, Mapping)
    return {"namespace": str(req.get("namespace") or "")[:255], "kind": str(kind.get("kind") or "")[:64],
            "name": str(req.get("name") or "")[:255], "operation": str(req.get("operation") or "")[:16]}


def _what(req: Mapping[str, Any]) -> str:
    m = _meta(req)
    return f"{m['kind'] or 'object'} {m['namespace']}/{m['name']}"


def _warning(v: Violation) -> str:
    text = f"{v.policy_id} {v.policy_name}: {v.subject}: {v.message}"
    return text if len(text) <= MAX_WARNING_CHARS else text[:MAX_WARNING_CHARS - 3] + "..."


def _denial(deny: Sequence[Violation]) -> str:
    parts = []
    for v in deny:
        det = f" ({'; '.join(v.details[:5])})" if v.details else ""
        fix = f" Fix: {v.remediation}" if v.remediation else ""
        parts.append(f"[{v.policy_id} {v.policy_name}] {v.subject}: {v.message}{det}{fix}")
    msg = "denied by containerguard policy: " + " | ".join(parts)
    return msg if len(msg) <= MAX_MESSAGE_CHARS else msg[:MAX_MESSAGE_CHARS - 3] + "..."


def _response(uid: str, allowed: bool, message: str, warnings: list[str]) -> dict[str, Any]:
    resp: dict[str, Any] = {"uid": uid, "allowed": allowed}
    if not allowed:
        resp["status"] = {"code": 403, "reason": "Forbidden", "message": message}
    elif message:
        resp["status"] = {"code": 200, "message": message}
    if warnings:
        resp["warnings"] = [w[:MAX_WARNING_CHARS] for w in dict.fromkeys(warnings)][:MAX_WARNINGS]
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": resp}


def create_app(policies: PolicySet | LivePolicies, config: AdmissionConfig, report: ReportFn | None = None,
               status: Callable[[], dict[str, Any]] | None = None) -> Any:
    """The webhook's ASGI app: ``POST /validate`` and ``GET /healthz`` (with ``status()``'s fields: the
    reporting to the server and the server's policy set). Starlette (FastAPI's core) directly:
    the protocol is one raw JSON body in and out, with our own size limit; no validation layer to pay for."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from containerguard.policy.webhttp import BadRequest, json_response, read_json

    async def validate(request: Request) -> Response:
        try:
            body = await read_json(request)
            return json_response(review(current_set(policies), body, config, report))
        except BadRequest as exc:
            return json_response({"error": str(exc)}, status_code=exc.status)
        except BadReview as exc:
            return json_response({"error": f"malformed AdmissionReview: {exc}"}, status_code=400)

    async def healthz(request: Request) -> Response:
        live = policies if isinstance(policies, LivePolicies) else None
        return json_response({"ok": True, "policies": len(current_set(policies).for_stage(Stage.DEPLOY)),
                              "mode": str(config.mode), "reloads": live.reloads if live else 0,
                              "last_reload_error": live.last_error if live else "", **(status() if status else {})})

    return Starlette(routes=[Route("/validate", validate, methods=["POST"]), Route("/healthz", healthz)])


# ------------------------------------------------------------------ manifests

WORKLOAD_RULES = [
    {"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods", "pods/ephemeralcontainers",
                                                              "replicationcontrollers", "podtemplates"]},
    {"apiGroups": ["apps"], "apiVersions": ["v1"], "resources": ["deployments", "replicasets", "statefulsets",
                                                                 "daemonsets"]},
    {"apiGroups": ["batch"], "apiVersions": ["v1"], "resources": ["jobs", "cronjobs"]},
]


def manifests(*, ca_bundle: bytes, namespace: str = "containerguard", name: str = "containerguard-admission",
              image: str = "containerguard:latest", port: int = 8443, mode: Mode = Mode.ENFORCE,
              failure_policy: str = "Fail", exclude_namespaces: Sequence[str] = ("kube-system",),
              policy_configmap: str = "",
              tls_secret: str = "containerguard-admission-tls",  # noqa: S107 - a Secret's name
              server: str = "", token_secret: str = "", policy_from_server: bool = False) -> list[dict[str, Any]]:
    """A Deployment and Service running ``admission serve`` and the ValidatingWebhookConfiguration pointing
    at it (with ``ca_bundle``, the PEM of the CA that signed the serving certificate). With ``server``, the
    webhook reports its decisions there (and with ``policy_from_server`` enforces the server's policy set),
    its token read from the Secret ``token_secret`` (key ``token``); the spool and the policy cache live on an
    emptyDir, as the root filesystem is read-only."""
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "containerguard"}
    args = ["admission", "serve", "--listen", f"0.0.0.0:{port}", "--tls-cert", "/tls/tls.crt",
            "--tls-key", "/tls/tls.key", "--mode", str(mode)]
    for ns in exclude_namespaces:
        args += ["--exclude-namespace", ns]
    volumes: list[dict[str, Any]] = [{"name": "tls", "secret": {"secretName": tls_secret}}]
    mounts: list[dict[str, Any]] = [{"name": "tls", "mountPath": "/tls", "readOnly": True}]
    if policy_configmap:
        args += ["--policy", "/policies"]
        volumes.append({"name": "policies", "configMap": {"name": policy_configmap}})
        mounts.append({"name": "policies", "mountPath": "/policies", "readOnly": True})
    env: list[dict[str, Any]] = []
    if server:
        args += ["--server", server, "--spool-dir", "/var/lib/containerguard/spool"]
        if policy_from_server:
            args.append("--policy-from-server")
        env = [{"name": "CONTAINERGUARD_TOKEN", "valueFrom": {"secretKeyRef": {"name": token_secret, "key": "token"}}},
               {"name": "XDG_CACHE_HOME", "value": "/var/lib/containerguard/cache"}]
        volumes.append({"name": "state", "emptyDir": {"sizeLimit": "128Mi"}})
        mounts.append({"name": "state", "mountPath": "/var/lib/containerguard"})
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {
                "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": "webhook", "image": image, "args": args, "ports": [{"containerPort": port, "name": "https"}],
                    "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                        "capabilities": {"drop": ["ALL"]}},
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": port, "scheme": "HTTPS"}},
                    **({"env": env} if env else {}),
                    "volumeMounts": mounts}],
                "volumes": volumes}}}}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace, "labels": labels},
               "spec": {"selector": labels, "ports": [{"name": "https", "port": 443, "targetPort": port}]}}
    webhook = {
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name, "labels": labels},
        "webhooks": [{
            "name": "validate.containerguard.dev", "admissionReviewVersions": ["v1"], "sideEffects": "None",
            "failurePolicy": failure_policy, "timeoutSeconds": 5, "matchPolicy": "Equivalent",
            "clientConfig": {"service": {"name": name, "namespace": namespace, "path": "/validate", "port": 443},
                             "caBundle": base64.b64encode(ca_bundle).decode()},
            "rules": [{**r, "operations": ["CREATE", "UPDATE"], "scope": "*"} for r in WORKLOAD_RULES],
            "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                                                        "values": sorted({namespace, *exclude_namespaces})}]}}]}
    return [deployment, service, webhook]
