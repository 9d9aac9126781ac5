"""The agent's HTTP endpoints: ``GET /healthz`` (JSON counters), ``GET /metrics`` (Prometheus text) and
``POST /k8s-audit`` (the audit webhook).

They run on :class:`ThreadingHTTPServer` threads and reach the agent only through :class:`AgentEndpoints`
(stats and the audit intake), so the pipeline never depends on HTTP.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from containerguard.errors import ContainerGuardError, UsageError

log = logging.getLogger(__name__)

#: the largest audit webhook body read: above the 10 MiB the API server cuts its batches at by default
#: (--audit-webhook-truncate-max-batch-size), and what k8saudit.parse_audit_body takes
MAX_AUDIT_BODY = 16 << 20


class AgentEndpoints(Protocol):
    """What the endpoints need from the agent."""

    def stats(self) -> dict[str, Any]:
        """The health document."""
        ...

    def metrics(self) -> str:
        """The Prometheus text exposition."""
        ...

    def audit_body(self, body: bytes) -> tuple[int, int]:
        """Feed one audit webhook body; returns (events, malformed events skipped); raises on a malformed body."""
        ...

    def audit_rejected(self) -> None:
        """Count one refused audit request."""
        ...


def parse_listen(spec: str, what: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``PORT`` (on 127.0.0.1) -> (host, port); a bad spec is a UsageError naming ``what``."""
    host, sep, port = spec.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", spec
    if not port.isdigit() or not 0 <= int(port) < 65536:
        raise UsageError(f"{what} {spec!r}: expected HOST:PORT")
    return host or "127.0.0.1", int(port)


def _bearer_ok(header: str | None, token: str) -> bool:
    """Whether an Authorization header carries ``Bearer TOKEN`` (compared in constant time)."""
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _send_json(h: BaseHTTPRequestHandler, code: int, doc: dict[str, Any], headers: dict[str, str]) -> None:
    """One JSON reply (and its extra headers) on the handler's connection."""
    body = json.dumps(doc).encode() + b"\n"
    h.send_response(code)
    for k, v in headers.items():
        h.send_header(k, v)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def _accepted(events: int, skipped: int) -> dict[str, int]:
    """The reply to an accepted audit batch: the events evaluated, and the malformed ones skipped if any."""
    return {"events": events, "skipped": skipped} if skipped else {"events": events}


def _refusal(authorization: str | None, content_type: str | None,
             token: str) -> tuple[int, dict[str, Any], dict[str, str]] | None:
    """Why an audit POST is refused before its body is read (status, reply, headers), or None: a missing or wrong
    bearer token when one is required (401), a Content-Type that is not JSON (415)."""
    if token and not _bearer_ok(authorization, token):
        return (401, {"error": "a bearer token is required (the webhook kubeconfig's user token)"},
                {"WWW-Authenticate": 'Bearer realm="k8s-audit"'})
    if not _json_type(content_type):
        return 415, {"error": "Content-Type must be application/json (an audit.k8s.io EventList)"}, {}
    return None


def _json_type(value: str | None) -> bool:
    """Whether a Content-Type names JSON (``application/json``, ``application/*+json``, any parameters); no header
    at all is taken as JSON (the API server always sends one; curl-like clients may not)."""
    if value is None:
        return True
    mime = value.split(";", 1)[0].strip().lower()
    return mime == "application/json" or (mime.startswith("application/") and mime.endswith("+json"))


def _handler(agent: AgentEndpoints, audit: bool, token: str = "") -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "containerguard-agent"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http %s", format % args)

        def _reply(self, code: int, doc: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            _send_json(self, code, doc, headers or {})

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path in ("/healthz", "/health"):
                self._reply(200, agent.stats())
            elif path == "/metrics":
                body = agent.metrics().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self._reply(404, {"error": "not found"})

        def do_POST(self) -> None:
            if self.path.split("?")[0] not in ("/k8s-audit", "/k8s_audit") or not audit:
                self._reply(404, {"error": "not found"})
                return
            refused = _refusal(self.headers.get("Authorization"), self.headers.get("Content-Type"), token)
            if refused is not None:
                agent.audit_rejected()
                self.close_connection = True  # the body is not read
                self._reply(*refused)
                return
            body = self._body()
            if body is None:
                return
            try:
                n, skipped = agent.audit_body(body)
            except ContainerGuardError as exc:
                agent.audit_rejected()
                self._reply(400, {"error": str(exc).splitlines()[0]})
                return
            self._reply(200, _accepted(n, skipped))

        def _body(self) -> bytes | None:
            try:
                length = int(self.headers.get("Content-Length") or "-1")
            except ValueError:
                length = -1
            if length < 0:
                agent.audit_rejected()
                self._reply(411, {"error": "Content-Length required"})
                return None
            if length > MAX_AUDIT_BODY:
                agent.audit_rejected()
                self.close_connection = True
                self._reply(413, {"error": f"body larger than {MAX_AUDIT_BODY} bytes"})
                return None
            return self.rfile.read(length)

    return Handler


class HttpEndpoints:
    """The agent's listening servers (each on its own thread)."""

    def __init__(self, agent: AgentEndpoints) -> None:
        self.agent = agent
        self.servers: list[ThreadingHTTPServer] = []

    def serve(self, addr: tuple[str, int], *, audit: bool, token: str = "") -> None:
        """Listen on ``addr``: /healthz always, /k8s-audit when ``audit`` (requiring ``Bearer token`` if set)."""
        try:
            srv = ThreadingHTTPServer(addr, _handler(self.agent, audit, token))
        except OSError as exc:
            raise UsageError(f"cannot listen on {addr[0]}:{addr[1]}: {exc}") from exc
        srv.daemon_threads = True
        self.servers.append(srv)
        threading.Thread(target=srv.serve_forever, name=f"cg-http-{addr[1]}", daemon=True).start()

    @property
    def ports(self) -> list[int]:
        """The ports actually bound (useful with port 0)."""
        return [int(s.server_address[1]) for s in self.servers]

    def close(self) -> None:
        """Stop every server."""
        for srv in self.servers:
            srv.shutdown()
            srv.server_close()
