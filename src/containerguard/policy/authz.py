"""Docker Engine authorization plugin: deploy-stage policies on ``docker run``/``create`` and privileged ``exec``.

The protocol (https://docs.docker.com/engine/extend/plugins_authorization/): the daemon POSTs JSON to the
plugin's unix socket -- ``/Plugin.Activate`` once, then ``/AuthZPlugin.AuthZReq`` before each API call and
``/AuthZPlugin.AuthZRes`` after it -- and shows a denial's ``Msg`` at the docker CLI
("Error response from daemon: authorization denied by plugin NAME: MSG").

Requests this plugin decides on: ``POST /containers/create`` (the body is the container config) and
``POST /containers/ID/exec`` (a privileged exec). Everything else is allowed. When a request it decides on
cannot be evaluated (no body: the daemon sends none above 1 MiB or for non-JSON; an internal error), the
configured failure mode decides: fail closed (deny, the default) or fail open (allow, logged).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from containerguard.policy import inputs
from containerguard.policy.engine import PolicySet
from containerguard.policy.loader import LivePolicies, current_set
from containerguard.policy.model import Action, Decision, Stage
from containerguard.policy.reporting import Report, undecidable

#: where decisions go besides the answer (a DecisionReporter's ``record``); must not block
ReportFn = Callable[[Report], None]

log = logging.getLogger("containerguard.authz")

# dockerd's routes (gorilla/mux on the percent-decoded path): /v{version:[0-9.]+}/... or unversioned
_CREATE = re.compile(r"^(?:/v[0-9.]+)?/containers/create/?$")
_EXEC = re.compile(r"^(?:/v[0-9.]+)?/containers/([^/]+)/exec/?$")
_START = re.compile(r"^(?:/v([0-9.]+))?/containers/([^/]+)/start/?$")
MAX_MSG = 2000


@dataclasses.dataclass(frozen=True, slots=True)
class AuthzConfig:
    fail_open: bool = False
    enforce: bool = True  # False: never deny, only log what would have been denied


def _allow(msg: str = "") -> dict[str, Any]:
    return {"Allow": True, "Msg": msg, "Err": ""}


def _deny(msg: str) -> dict[str, Any]:
    return {"Allow": False, "Msg": msg if len(msg) <= MAX_MSG else msg[:MAX_MSG - 3] + "...", "Err": ""}


def authz_request(ps: PolicySet, body: Any, config: AuthzConfig, report: ReportFn | None = None) -> dict[str, Any]:
    """The answer to an ``AuthZPlugin.AuthZReq`` body (already parsed JSON); ``report`` is told each decision."""
    if not isinstance(body, Mapping):
        return _undecidable(config, "the AuthZ request is not a JSON object")
    method = str(body.get("RequestMethod") or "")
    uri = str(body.get("RequestUri") or body.get("RequestURI") or "")  # the daemon's JSON key is RequestUri
    if method != "POST":
        return _allow()
    parts = urlsplit(uri)
    parts = parts._replace(path=unquote(parts.path))  # dockerd routes on the decoded path
    create, exec_, start = _CREATE.match(parts.path), _EXEC.match(parts.path), _START.match(parts.path)
    if start and not _start_takes_host_config(start.group(1)):
        return _allow()
    if not create and not exec_ and not start:
        return _allow()
    t0 = time.perf_counter()
    try:
        payload = _body(body.get("RequestBody"))
        if payload is None and start and _declared_empty(body.get("RequestHeaders")):
            return _allow()  # a start without a host config: the container was decided at its create
        if payload is None:
            return _undecidable(config, f"{method} {parts.path}: the daemon sent no request body to evaluate "
                                        "(it omits bodies above 1 MiB and non-JSON ones)", report, parts, body)
        if start:
            doc = inputs.from_docker_create(payload, name=start.group(2))
            subject = f"start of container {start.group(2)} with a host config (API {start.group(1)})"
            obj = {"kind": "container", "container": start.group(2), "image": "", "operation": "start"}
        elif create:
            name = (parse_qs(parts.query).get("name") or [""])[0]
            image = str(inputs.docker_create_config(payload).get("Image") or "")
            doc = inputs.from_docker_create(payload, name=name)
            subject = f"container {name or '(unnamed)'} from image {image or '?'}"
            obj = {"kind": "container", "container": name, "image": image, "operation": "create"}
        else:
            assert exec_ is not None
            doc = inputs.from_docker_exec(payload, container=exec_.group(1))
            subject = f"exec in container {exec_.group(1)}"
            obj = {"kind": "exec", "container": exec_.group(1), "image": "", "operation": "exec"}
        decision = ps.evaluate(doc, Stage.DEPLOY, subject=subject)
    except Exception as exc:
        log.exception("authz: could not evaluate %s %s", method, parts.path)
        return _undecidable(config, f"{method} {parts.path}: evaluation failed: {type(exc).__name__}: {exc}", report,
                            parts, body)
    answer = _answer(decision, subject, body, config, time.perf_counter() - t0)
    if report is not None:
        report(Report(decision, allowed=bool(answer["Allow"]), mode="enforce" if config.enforce else "warn",
                      obj=obj, images={subject: obj["image"]}, user=str(body.get("User") or "")[:255]))
    return answer


def _start_takes_host_config(version: str | None) -> bool:
    """Whether dockerd applies a body given to ``POST /containers/ID/start``: API versions before 1.24 (the
    unversioned path is the daemon's current version, which refuses a body)."""
    if not version:
        return False
    try:
        nums = [int(x or 0) for x in version.split(".")]
    except ValueError:
        return True
    return nums[:2] < [1, 24]


def _declared_empty(headers: Any) -> bool:
    """The request declared a body of at most 7 bytes (dockerd reads a start's body only above that)."""
    if not isinstance(headers, Mapping):
        return False
    length = next((str(v) for k, v in headers.items() if str(k).lower() == "content-length"), "")
    return length.isascii() and length.isdigit() and int(length) <= 7


def _body(raw: Any) -> inputs.GoObject | None:
    """The request body as dockerd decodes it: the first JSON value (dockerd 20.10 ignores what follows it),
    invalid UTF-8 replaced as Go does, every key/value pair kept in order (see inputs.go_struct)."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise ValueError("RequestBody is not base64 text")
    try:
        text = base64.b64decode(raw, validate=True).decode("utf-8", "replace")
        start = len(text) - len(text.lstrip(" \t\r\n"))
        data, _ = json.JSONDecoder(object_pairs_hook=inputs.GoObject).raw_decode(text, start)
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise ValueError(f"RequestBody is not base64-encoded JSON ({exc})") from None
    if not isinstance(data, inputs.GoObject):
        raise ValueError("RequestBody is not a JSON object")
    return data


def _undecidable(config: AuthzConfig, reason: str, report: ReportFn | None = None, parts: Any = None,
                 body: Mapping[str, Any] | None = None) -> dict[str, Any]:
    if report is not None and parts is not None and body is not None:
        name = (parse_qs(parts.query).get("name") or [""])[0]
        m, st = _EXEC.match(parts.path), _START.match(parts.path)
        op = "exec" if m else "start" if st else "create"
        obj = {"kind": "exec" if m else "container", "container": m.group(1) if m else st.group(2) if st else name,
               "image": "", "operation": op}
        report(undecidable(f"{obj['operation']} {obj['container'] or '(unnamed)'}", reason, allowed=config.fail_open,
                           obj=obj, user=str(body.get("User") or "")[:255], mode="enforce" if config.enforce else "warn"))
    if config.fail_open:
        log.warning("authz: allowing (fail-open): %s", reason)
        return _allow(f"containerguard: not evaluated, allowed (fail-open): {reason}")
    log.warning("authz: denying (fail-closed): %s", reason)
    return _deny(f"containerguard: cannot evaluate the request, denied (fail-closed): {reason}")


def _answer(decision: Decision, subject: str, body: Mapping[str, Any], config: AuthzConfig,
            seconds: float) -> dict[str, Any]:
    deny = [v for v in decision.violations if v.action is Action.DENY]
    log.info(json.dumps({"user": body.get("User", ""), "uri": body.get("RequestUri") or body.get("RequestURI"),
                         "subject": subject, "allowed": not deny or not config.enforce,
                         "deny": sorted({v.policy_id for v in deny}),
                         "warn": sorted({v.policy_id for v in decision.violations if v.action is Action.WARN}),
                         "ms": round(seconds * 1e3, 2)}))
    if not deny or not config.enforce:
        return _allow()
    parts = []
    for v in deny:
        det = f" ({'; '.join(v.details[:5])})" if v.details else ""
        fix = f" Fix: {v.remediation}" if v.remediation else ""
        parts.append(f"[{v.policy_id} {v.policy_name}] {v.message}{det}{fix}")
    return _deny("containerguard policy: " + " ".join(parts))


def create_app(policies: PolicySet | LivePolicies, config: AuthzConfig, report: ReportFn | None = None,
               status: Callable[[], dict[str, Any]] | None = None) -> Any:
    """The plugin's ASGI app (served on a unix socket under /run/docker/plugins). Besides the daemon's three
    routes, ``GET /healthz`` for the operator (``curl --unix-socket SOCK http://plugin/healthz``), as the
    admission webhook has: the policies in force, the failure mode, and ``status()``'s fields (the reporting
    to the server -- batches spooled, sent, lost -- and the server's policy set)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from containerguard.policy.webhttp import BadRequest, json_response, read_json

    media = "application/vnd.docker.plugins.v1.2+json"

    async def activate(request: Request) -> Response:
        return json_response({"Implements": ["authz"]}, media_type=media)

    async def authz_req(request: Request) -> Response:
        try:
            body = await read_json(request, limit=4 * 1024 * 1024)
        except BadRequest as exc:  # an answer the daemon shows, never a crash
            return json_response(_undecidable(config, f"malformed AuthZ request: {exc}"), media_type=media)
        return json_response(authz_request(current_set(policies), body, config, report), media_type=media)

    async def authz_res(request: Request) -> Response:
        # the response has already been produced; policies decide on requests only
        return json_response(_allow(), media_type=media)

    async def healthz(request: Request) -> Response:
        live = policies if isinstance(policies, LivePolicies) else None
        return json_response({"ok": True, "policies": len(current_set(policies).for_stage(Stage.DEPLOY)),
                              "fail_open": config.fail_open, "enforce": config.enforce,
                              "reloads": live.reloads if live else 0, "last_reload_error": live.last_error if live else "",
                              **(status() if status else {})})

    return Starlette(routes=[Route("/Plugin.Activate", activate, methods=["POST"]),
                             Route("/AuthZPlugin.AuthZReq", authz_req, methods=["POST"]),
                             Route("/AuthZPlugin.AuthZRes", authz_res, methods=["POST"]),
                             Route("/healthz", healthz)])
