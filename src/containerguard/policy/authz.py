"""Docker Engine authorization plugin: deploy-stage policies on ``docker run``/``create`` and privileged ``exec``.

The protocol (https://docs.docker.com/engine/extend/plugins_authorization/): the daemon POSTs JSON to the
plugin's unix socket -- ``/Plugin.Activate`` once, then ``/AuthZPlugin.AuthZReq`` before each API call and
``/AuthZPlugin.AuthZRes`` after it -- and shows a denial's ``Msg`` at the docker CLI
("Error response from daemon: authorization denied by plugin NAME: MSG").

Requests this plugin decides on: ``POST /containers/create`` (the body is the container config; a
``container:ID`` PID/IPC/network mode is looked up through the Engine API), ``POST /containers/ID/exec`` (a
privileged exec), ``POST /containers/ID/start`` with a host config (API < 1.24), ``POST /services/create`` and
``/services/ID/update`` (a swarm service's container spec), ``POST /plugins/pull`` and ``/plugins/NAME/upgrade``
(the privileges granted to a managed plugin) and ``POST /plugins/create`` (undecidable: its privileges are in a tar).
Everything else is allowed. When a request it decides on
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
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

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
_SERVICE = re.compile(r"^(?:/v[0-9.]+)?/services/(?:(create)|([^/]+)/update)/?$")
_PLUGIN = re.compile(r"^(?:/v[0-9.]+)?/plugins/(?:(pull)|(.+)/upgrade)/?$")  # dockerd: /plugins/{name:.*}/upgrade
_PLUGIN_CREATE = re.compile(r"^(?:/v[0-9.]+)?/plugins/create/?$")
_VOLUME_CREATE = re.compile(r"^(?:/v[0-9.]+)?/volumes/create/?$")
_BUILD = re.compile(r"^(?:/v[0-9.]+)?/build/?$")
_UPDATE = re.compile(r"^(?:/v[0-9.]+)?/containers/([^/]+)/update/?$")
MAX_MSG = 2000


@dataclasses.dataclass(frozen=True, slots=True)
class AuthzConfig:
    fail_open: bool = False
    enforce: bool = True  # False: never deny, only log what would have been denied
    #: the Engine API the plugin looks up what a request refers to (the container whose namespaces it joins,
    #: a service's networks); "" = no lookups: those requests are undecidable when a policy depends on them
    docker_host: str = ""


class DockerLookup:
    """Reads of the Engine API the plugin decides for (``unix:///var/run/docker.sock``): whether a container
    runs in the host's namespaces, whether a network is the host's. dockerd asks the plugin about these GETs
    too (and they are allowed): the app answers AuthZ requests in a thread pool so that it can."""

    def __init__(self, host: str) -> None:
        path = host.removeprefix("unix://")
        if not path.startswith("/"):
            raise ValueError(f"docker host {host!r}: only a unix:// socket is supported")
        self.path = path

    def get(self, what: str) -> dict[str, Any] | None:
        """The JSON object at ``GET what`` (quoted by the caller), None when it does not exist (404)."""
        import httpx

        try:
            with httpx.Client(transport=httpx.HTTPTransport(uds=self.path), timeout=5) as c:
                r = c.get(f"http://docker{what}")
        except httpx.HTTPError as exc:
            raise LookupError(f"the Docker API at {self.path} did not answer ({exc})") from None
        if r.status_code == 404:
            return None
        if r.status_code != 200 or not isinstance(r.json(), dict):
            raise LookupError(f"GET {what}: the Docker API answered {r.status_code}")
        return dict(r.json())

    def host_namespaces(self, joined: Mapping[str, str]) -> set[str]:
        """Which of the joined ``{namespace: container}`` are the host's (following ``container:`` chains)."""
        out = set()
        key = {"pid": "PidMode", "ipc": "IpcMode", "network": "NetworkMode"}
        for ns, cid in joined.items():
            for _ in range(8):
                c = self.get(f"/containers/{quote(cid, safe='')}/json")
                mode = str(((c or {}).get("HostConfig") or {}).get(key[ns]) or "")
                if not mode.startswith("container:"):
                    break
                cid = mode.partition(":")[2]
            else:
                raise LookupError(f"container {cid}: a chain of {ns} namespaces too long to follow")
            if mode == "host":
                out.add(ns)
        return out

    def volume_access(self, name: str, read_only: bool, destination: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The host path (as a mount) or host device a named volume gives, when it is a ``local`` volume bound to
        one; nothing for a volume that does not exist yet (dockerd creates it without options)."""
        v = self.get(f"/volumes/{quote(name, safe='')}")
        host = inputs.local_volume_host_path(str(v.get("Driver") or ""), v.get("Options")) if v else None
        if host is None:
            return [], []
        if host[0] == "bind":
            return [{"source": host[1], "destination": destination, "type": "volume", "read_only": read_only}], []
        return [], [{"host_path": host[1], "container_path": "", "permissions": "rwm"}]

    def volumes_from(self, cid: str, read_only: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The host paths and devices ``--volumes-from CID`` gives: that container's bind mounts and what its
        named volumes give."""
        c = self.get(f"/containers/{quote(cid, safe='')}/json")
        mounts: list[dict[str, Any]] = []
        devices: list[dict[str, Any]] = []
        for m in (c or {}).get("Mounts") or ():
            if not isinstance(m, Mapping):
                continue
            ro = read_only or m.get("RW") is False
            if m.get("Type") == "bind":
                mounts.append({"source": inputs.host_path(str(m.get("Source") or "")),
                               "destination": str(m.get("Destination") or ""), "type": "bind", "read_only": ro})
            elif m.get("Type") == "volume" and m.get("Name"):
                more = self.volume_access(str(m["Name"]), ro, str(m.get("Destination") or ""))
                mounts += more[0]
                devices += more[1]
        return mounts, devices

    def host_network(self, targets: list[str]) -> bool:
        """Whether a service attaches to the host's network (the CLI sends network IDs, not names)."""
        for t in targets:
            n = self.get(f"/networks/{quote(t, safe='')}")
            if n is not None and (n.get("Name") == "host" or n.get("Driver") == "host"):
                return True
        return False


def _allow(msg: str = "") -> dict[str, Any]:
    return {"Allow": True, "Msg": msg, "Err": ""}


def _deny(msg: str) -> dict[str, Any]:
    return {"Allow": False, "Msg": msg if len(msg) <= MAX_MSG else msg[:MAX_MSG - 3] + "...", "Err": ""}


def _route(path: str, query: str) -> tuple[str, str] | None:
    """What a POST to ``path`` is, as (kind, name), when the plugin decides on it; None otherwise."""
    if _CREATE.match(path):
        return "create", (parse_qs(query).get("name") or [""])[0]
    if m := _EXEC.match(path):
        return "exec", m.group(1)
    if (m := _START.match(path)) and _start_takes_host_config(m.group(1)):
        return "start", m.group(2)
    if m := _SERVICE.match(path):
        return ("service-create", "") if m.group(1) == "create" else ("service-update", m.group(2))
    if m := _PLUGIN.match(path):
        q = parse_qs(query)
        return ("plugin-pull", (q.get("name") or q.get("remote") or [""])[0]) if m.group(1) == "pull" \
            else ("plugin-upgrade", m.group(2))
    if _PLUGIN_CREATE.match(path):
        return "plugin-create", (parse_qs(query).get("name") or [""])[0]
    if m := _UPDATE.match(path):
        return "update", m.group(1)
    if _VOLUME_CREATE.match(path):
        return "volume-create", ""
    if _BUILD.match(path):
        return "build", ",".join(parse_qs(query).get("t") or [])
    return None


def _object(kind: str, name: str, image: str = "") -> dict[str, str]:
    """The decision's object as the server stores it."""
    op = kind.rpartition("-")[2]
    obj_kind = "service" if kind.startswith("service") else "plugin" if kind.startswith("plugin") else \
        "volume" if kind.startswith("volume") else kind if kind in ("exec", "build") else "container"
    return {"kind": obj_kind, "container": name, "image": image, "operation": op}


def _lookup(config: AuthzConfig) -> DockerLookup:
    if not config.docker_host:
        raise LookupError("the plugin has no Docker API to look it up (--docker-host)")
    return DockerLookup(config.docker_host)


def _decide(ps: PolicySet, doc: inputs.Doc, subject: str, config: AuthzConfig,
            resolve: Callable[[DockerLookup], set[str]], unknown: Iterable[str], what: str) -> Decision | str:
    """The decision on ``doc`` once ``resolve`` has told which host namespaces it really shares; when that
    lookup fails, the decision that holds whether or not the ``unknown`` namespaces are the host's, or the reason
    it cannot be decided (a policy denies host namespaces and only the lookup could tell)."""
    try:
        return ps.evaluate(inputs.assume_host_namespaces(doc, resolve(_lookup(config))), Stage.DEPLOY, subject=subject)
    except (LookupError, ValueError) as exc:
        reason = f"{what}, which may be the host's, and {exc}"
    decision = ps.evaluate(inputs.assume_host_namespaces(doc, unknown), Stage.DEPLOY, subject=subject)
    if not any(v.action is Action.DENY for v in decision.violations):
        return decision  # allowed even if they are the host's
    decision = ps.evaluate(doc, Stage.DEPLOY, subject=subject)
    return decision if any(v.action is Action.DENY for v in decision.violations) else reason


def _evaluate(ps: PolicySet, kind: str, name: str, payload: Any,
              config: AuthzConfig) -> tuple[Decision | str, str, dict[str, str]]:
    """The decision on a request body (or the reason it cannot be decided), its subject and object."""
    if kind in ("create", "start"):
        image = str(inputs.docker_create_config(payload).get("Image") or "") if kind == "create" else ""
        doc = inputs.from_docker_create(payload, name=name)
        subject = f"container {name or '(unnamed)'} from image {image or '?'}" if kind == "create" else \
            f"start of container {name} with a host config"
        looked = _host_access(ps, doc, subject, config, inputs.docker_named_volumes(payload),
                              inputs.docker_volumes_from(payload))
        if isinstance(looked, str):
            return looked, subject, _object(kind, name, image)
        doc = _resolved_devices(looked)
        if kind == "create" and image:
            doc = _effective_user(doc, config, f"/images/{quote(image, safe='/:@')}/json")
        joined = inputs.docker_joined(payload)
        if not joined:
            return ps.evaluate(doc, Stage.DEPLOY, subject=subject), subject, _object(kind, name, image)
        joins = ", ".join(f"the {ns} namespace of container {cid}" for ns, cid in joined.items())
        return (_decide(ps, doc, subject, config, lambda d: d.host_namespaces(joined), joined, f"it joins {joins}"),
                subject, _object(kind, name, image))
    if kind.startswith("service"):
        doc = inputs.from_docker_service(payload, name=name, operation=kind.partition("-")[2].upper())
        name, image = doc["workload"]["name"], doc["container"]["image"]
        subject = f"service {name or '(unnamed)'} from image {image or '?'}"
        looked = _host_access(ps, doc, subject, config, inputs.docker_service_named_volumes(payload), [])
        if isinstance(looked, str):  # a task may run on another node: this node's volume of that name is the one known
            return looked, subject, _object(kind, name, image)
        doc = looked
        nets = [t for t in inputs.docker_service_networks(payload) if t != "host"]
        if doc["container"]["host_network"] or not nets:
            return ps.evaluate(doc, Stage.DEPLOY, subject=subject), subject, _object(kind, name, image)
        return (_decide(ps, doc, subject, config, lambda d: {"network"} if d.host_network(nets) else set(), ["network"],
                        f"it attaches to the networks {', '.join(nets)}"), subject, _object(kind, name, image))
    if kind == "update":
        subject = f"update of container {name}"
        return _update(ps, name, payload, subject, config), subject, _object(kind, name)
    if kind == "volume-create":
        doc = inputs.from_docker_volume(payload)
        subject = f"volume {doc['workload']['name'] or '(unnamed)'}"
        return ps.evaluate(doc, Stage.DEPLOY, subject=subject), subject, _object(kind, doc["workload"]["name"])
    if kind.startswith("plugin"):
        doc = inputs.from_docker_plugin(payload, name=name, operation=kind.partition("-")[2].upper())
        subject = f"privileges granted to plugin {name or '(unnamed)'}"
        return ps.evaluate(doc, Stage.DEPLOY, subject=subject), subject, _object(kind, name)
    doc = _effective_user(inputs.from_docker_exec(payload, container=name), config,
                          f"/containers/{quote(name, safe='')}/json")
    subject = f"exec in container {name}"
    return ps.evaluate(doc, Stage.DEPLOY, subject=subject), subject, _object(kind, name)


def _effective_user(doc: inputs.Doc, config: AuthzConfig, what: str) -> inputs.Doc:
    """A create or exec that names no user runs as the image's (the container's) configured user, root when that
    is empty: looked up through the Engine API; when the lookup fails, the user stays unknown (``run_as_user`` -1,
    which the default set counts as possibly root)."""
    if doc["container"]["user"]:
        return doc
    try:
        found = _lookup(config).get(what)
    except (LookupError, ValueError):
        return doc
    if found is None:
        return doc  # no such image/container: dockerd refuses (or pulls, for an image not here: unknown)
    cfg = found.get("Config") if isinstance(found.get("Config"), Mapping) else {}
    return inputs.with_effective_user(doc, str((cfg or {}).get("User") or ""))


def _host_access(ps: PolicySet, doc: inputs.Doc, subject: str, config: AuthzConfig,
                 volumes: list[tuple[str, str, bool]], sources: list[tuple[str, bool]]) -> inputs.Doc | str:
    """``doc`` with what its named volumes and ``--volumes-from`` containers give of the host (looked up through
    the Engine API: a ``local`` volume can bind a host path or mount a host device under a name), or the reason it
    cannot be decided (the lookup failed and the request is not denied anyway)."""
    if not volumes and not sources:
        return doc
    mounts: list[dict[str, Any]] = []
    devices: list[dict[str, Any]] = []
    try:
        lookup = _lookup(config)
        for vname, dest, ro in volumes:
            more = lookup.volume_access(vname, ro, dest)
            mounts += more[0]
            devices += more[1]
        for cid, ro in sources:
            more = lookup.volumes_from(cid, ro)
            mounts += more[0]
            devices += more[1]
    except (LookupError, ValueError) as exc:
        if any(v.action is Action.DENY for v in ps.evaluate(doc, Stage.DEPLOY, subject=subject).violations):
            return doc  # denied whatever the volumes hold
        names = [f"volume {v}" for v, _, _ in volumes] + [f"the volumes of container {c}" for c, _ in sources]
        return f"it mounts {', '.join(names)}, which may hold host paths, and {exc}"
    return inputs.with_host_access(doc, mounts, devices)


def _update(ps: PolicySet, cid: str, payload: Any, subject: str, config: AuthzConfig) -> Decision | str:
    """``docker update``: the container as it will be (looked up, with the new limits applied as dockerd applies
    them) is evaluated; only the denials the update brings count (a container created before a policy is not
    refused a harmless update), or the reason it cannot be decided."""
    try:
        current = _lookup(config).get(f"/containers/{quote(cid, safe='')}/json")
    except (LookupError, ValueError) as exc:
        _, _, changes = inputs.docker_updated({}, payload)
        if not changes:
            return Decision(Stage.DEPLOY)  # a restart policy, CPU shares, blkio: nothing a policy reads
        return f"it changes the resource limits of container {cid}, and {exc}"
    if current is None:
        return Decision(Stage.DEPLOY)  # dockerd answers that there is no such container
    before, after, _ = inputs.docker_updated(current, payload)
    had = {(v.policy_id, v.details) for v in ps.evaluate(before, Stage.DEPLOY, subject=subject).violations}
    decision = ps.evaluate(after, Stage.DEPLOY, subject=subject)
    return dataclasses.replace(decision, violations=tuple(v for v in decision.violations if (v.policy_id, v.details) not in had))


def _resolved_devices(doc: inputs.Doc) -> inputs.Doc:
    """``--device`` host paths with their symbolic links resolved on this host, as dockerd resolves them
    (``--device /tmp/link`` to /dev/sda gives /dev/sda): the plugin runs beside the daemon it serves."""
    import os

    for d in doc["container"]["devices"]:
        if d["host_path"].startswith("/"):
            d["host_path"] = inputs.host_path(os.path.realpath(d["host_path"]))
    return doc


def _build_doc(query: str, tags: str) -> tuple[inputs.Doc, str]:
    """A classic or BuildKit ``POST /build``: its RUN steps run in containers of the network mode it asks for
    (``docker build --network host``)."""
    q = parse_qs(query)
    doc = inputs.blank("deploy")
    mode = (q.get("networkmode") or [""])[0]
    doc["container"].update({"name": tags, "host_network": mode == "host"})
    doc["workload"].update({"kind": "DockerBuild", "name": tags, "operation": "BUILD"})
    return doc, f"build of {tags or '(untagged)'} (RUN steps)"


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
    route = _route(parts.path, parts.query)
    if route is None:
        return _allow()
    kind, name = route
    user = str(body.get("User") or "")[:255]
    t0 = time.perf_counter()
    try:
        if kind == "plugin-create":  # the privileges are in the config.json of a tar dockerd never shows us
            return _undecidable(config, f"{method} {parts.path}: a plugin created from a local tar grants the "
                                        "privileges its config.json lists, which the daemon does not show the plugin",
                                report, _object(kind, name), user)
        if kind == "build":  # the body is the context tar: the query says what the RUN steps get
            doc, subject = _build_doc(parts.query, name)
            if not doc["container"]["host_network"]:
                return _allow()  # RUN steps in a container of the build's own: nothing a deploy policy reads
            decision: Decision | str = ps.evaluate(doc, Stage.DEPLOY, subject=subject)
            obj = _object(kind, name)
            return _finish(decision, subject, obj, body, config, report, user, t0)
        payload = _body(body.get("RequestBody"), array=kind.startswith("plugin"))
        if payload is None and kind == "start" and _declared_empty(body.get("RequestHeaders")):
            return _allow()  # a start without a host config: the container was decided at its create
        if payload is None:
            return _undecidable(config, f"{method} {parts.path}: the daemon sent no request body to evaluate "
                                        "(it omits bodies above 1 MiB and non-JSON ones)", report, _object(kind, name), user)
        decision, subject, obj = _evaluate(ps, kind, name, payload, config)
    except Exception as exc:
        log.exception("authz: could not evaluate %s %s", method, parts.path)
        return _undecidable(config, f"{method} {parts.path}: evaluation failed: {type(exc).__name__}: {exc}", report,
                            _object(kind, name), user)
    return _finish(decision, subject, obj, body, config, report, user, t0)


def _finish(decision: Decision | str, subject: str, obj: dict[str, str], body: Mapping[str, Any], config: AuthzConfig,
            report: ReportFn | None, user: str, t0: float) -> dict[str, Any]:
    if isinstance(decision, str):
        parts = urlsplit(str(body.get("RequestUri") or body.get("RequestURI") or ""))
        return _undecidable(config, f"POST {unquote(parts.path)}: {decision}", report, obj, user)
    answer = _answer(decision, subject, body, config, time.perf_counter() - t0)
    if report is not None:
        report(Report(decision, allowed=bool(answer["Allow"]), mode="enforce" if config.enforce else "warn",
                      obj=obj, images={subject: obj["image"]}, user=user))
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


def _body(raw: Any, *, array: bool = False) -> Any:
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
    if array and (data is None or isinstance(data, list)):  # a plugin's privileges: a JSON array (null: none)
        return data or []
    if not isinstance(data, inputs.GoObject):
        raise ValueError(f"RequestBody is not a JSON {'array' if array else 'object'}")
    return data


def _undecidable(config: AuthzConfig, reason: str, report: ReportFn | None = None,
                 obj: dict[str, str] | None = None, user: str = "") -> dict[str, Any]:
    if report is not None and obj is not None:
        report(undecidable(f"{obj['operation']} {obj['container'] or '(unnamed)'}", reason, allowed=config.fail_open,
                           obj=obj, user=user, mode="enforce" if config.enforce else "warn"))
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
    from starlette.concurrency import run_in_threadpool
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
        # in a worker thread: a lookup of the Engine API (DockerLookup) makes dockerd ask this app again
        answer = await run_in_threadpool(authz_request, current_set(policies), body, config, report)
        return json_response(answer, media_type=media)

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
