"""The runtime agent: sensor + container inventory + process table -> Events -> rules -> responses -> outputs.

Threads: the sensor reader (bpftrace lines, in order), the Docker event watcher, the optional HTTP
servers (k8s audit webhook, /healthz) and the stats ticker. Rule evaluation, responses and outputs
run under one lock, so every source sees the same ruleset and outputs never interleave.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

import platformdirs

from containerguard.errors import ContainerGuardError, RuleError, UsageError
from containerguard.model import Alert, Event
from containerguard.runtime.cloud.sources import KINDS, RunningSource, parse_source
from containerguard.runtime.containers import HOST_FIELDS, ContainerInfo, ContainerInventory
from containerguard.runtime.events import write_event
from containerguard.runtime.k8saudit import parse_audit_body
from containerguard.runtime.outputs import Outputs, open_output
from containerguard.runtime.process import Proc, ProcessTable, UserNames
from containerguard.runtime.respond import CONTAINER_ACTIONS, Responder, ResponsePolicy, parse_respond
from containerguard.runtime.rules import alert_to_json, cloud_rules_path, default_rules_path, load_rules
from containerguard.runtime.rules.compiler import rfc3339
from containerguard.runtime.rules.fields import AGENT_PRODUCERS, fields_of
from containerguard.runtime.sensor import script
from containerguard.runtime.sensor.bpftrace import BpftraceSensor
from containerguard.runtime.sensor.fields import (
    SockInfo,
    event_fields,
    exec_info,
    parse_env,
    sock_fields,
)
from containerguard.runtime.sensor.parse import LineParser, RawEvent

log = logging.getLogger(__name__)

_OPENS = frozenset({"open", "openat", "openat2", "creat"})
_ACCEPTS = frozenset({"accept", "accept4"})
EINPROGRESS_ERR = 115
#: multi-call binaries whose applet name rules see as proc.name
MULTICALL_BINARIES = frozenset({"busybox", "toybox", "busybox.static", "busybox-static"})


def _proc_environ(pid: int) -> dict[str, str] | None:
    """The whole environment from /proc/PID/environ (when the kernel read was cut and the process still lives)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            data = fh.read(1 << 20)
    except OSError:
        return None
    return parse_env(data.decode("utf-8", "replace").split("\x00"))


def _sock_name(s: SockInfo, server: bool | None) -> str | None:
    if s.mode != 12 or s.family not in (2, 10):
        return None
    f: dict[str, Any] = {}
    sock_fields(f, s, server=server)
    return f.get("fd.name")


class SocketRoles:
    """Which end of a TCP/UDP connection a socket is, remembered from the connect and accept events the agent saw
    (by the connection's address 4-tuple, bounded), for events that only carry the socket (dup2 onto stdio, a
    shell's stdin at exec): an outbound connection on a shell's stdio is a reverse shell, an accepted one is an
    inetd-style server."""

    def __init__(self, limit: int = 8192) -> None:
        self.limit = limit
        self._seen: collections.OrderedDict[tuple[str, int, str, int], bool] = collections.OrderedDict()

    def note(self, f: dict[str, Any], server: bool) -> None:
        key = (f.get("fd.lip"), f.get("fd.lport"), f.get("fd.rip"), f.get("fd.rport"))
        if None in key or not key[3]:
            return
        self._seen[key] = server  # type: ignore[index]
        if len(self._seen) > self.limit:
            self._seen.popitem(last=False)

    def __call__(self, si: SockInfo) -> bool | None:
        return self._seen.get((si.lip, si.lport, si.rip, si.rport))

MAX_AUDIT_BODY = 8 << 20


@dataclass
class AgentConfig:
    rules: list[str] = field(default_factory=list)  # empty: the default ruleset
    outputs: list[str] = field(default_factory=lambda: ["stdout"])
    record: str | None = None
    respond: list[str] = field(default_factory=list)  # ACTION:MINPRIORITY
    k8s_audit_listen: str | None = None  # HOST:PORT
    health_listen: str | None = None  # HOST:PORT (127.0.0.1 only by default)
    containers_only: bool = False  # drop host events in the kernel
    docker_host: str | None = None
    sensor: bool = True
    bpftrace: str = "bpftrace"
    stats_interval: float = 60.0
    #: scheduling priority of the agent and its sensor (negative = ahead of ordinary work), so detection
    #: keeps up when the host is busy; None leaves it unchanged
    nice: int | None = -5
    hostname: str = field(default_factory=socket.gethostname)
    #: audit-log sources, KIND:LOCATION (cloudtrail:/var/log/ct, cloudtrail:s3://bucket/prefix, gcp:FILE, ...)
    sources: list[str] = field(default_factory=list)
    source_interval: float = 10.0
    #: where S3 sources remember what they read (None: the user's state directory)
    source_state_dir: str | None = None
    #: runtime-stage policies as code over each alert (containerguard.policy.runtime.AlertPolicies) -> actions
    alert_policies: Callable[[Alert], Sequence[str]] | None = None


def parse_listen(spec: str, what: str) -> tuple[str, int]:
    host, sep, port = spec.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", spec
    if not port.isdigit() or not 0 <= int(port) < 65536:
        raise UsageError(f"{what} {spec!r}: expected HOST:PORT")
    return host or "127.0.0.1", int(port)


def host_support(k8s: bool = True) -> tuple[set[str], set[str]]:
    """What the agent can supply on this host: (field names, syscall event types it can trace here)."""
    return _available_fields(k8s), script.traced_event_types(script.available_syscalls())


def _available_fields(k8s: bool, sources: frozenset[str] = frozenset()) -> set[str]:
    producers = set(AGENT_PRODUCERS) | ({"k8s_audit"} if k8s else set()) | set(sources)
    if sources or k8s:
        producers.add("audit_json")
    return fields_of(producers)


@dataclass
class Counters:
    events: int = 0
    alerts: int = 0
    audit_events: int = 0
    audit_rejected: int = 0
    responses: int = 0
    response_errors: int = 0
    rule_reloads: int = 0
    rule_reload_errors: int = 0


class Agent:
    """One agent on one host. ``start()``, then it runs on its threads until ``stop()``."""

    def __init__(self, cfg: AgentConfig) -> None:
        self.cfg = cfg
        self.counters = Counters()
        self.parser = LineParser()
        self.table = ProcessTable()
        self.roles = SocketRoles()
        self.users = UserNames()
        self.inventory: ContainerInventory | None = None
        self.sensor: BpftraceSensor | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._servers: list[ThreadingHTTPServer] = []
        self._record: IO[str] | None = None
        self._mono_offset = time.time_ns() - time.monotonic_ns()
        self._types: set[str] = set()
        self._all_types = False
        self._want_args = False
        self._last_lost = 0
        self._cfields: dict[str, tuple[ContainerInfo, dict[str, Any]]] = {}
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="cg-respond")
        self.started_at = time.time()
        self.policy = ResponsePolicy(by_priority=[parse_respond(s) for s in cfg.respond],
                                     alert_policies=cfg.alert_policies)
        self._audit_addr = parse_listen(cfg.k8s_audit_listen, "--k8s-audit-listen") if cfg.k8s_audit_listen else None
        self._health_addr = parse_listen(cfg.health_listen, "--health-port") if cfg.health_listen else None
        self._source_specs = [parse_source(s) for s in cfg.sources]
        self.sources: list[RunningSource] = []
        self.outputs = Outputs([open_output(s) for s in cfg.outputs])
        try:
            self.rules = self._load_rules()
        except ContainerGuardError:
            self.outputs.close()
            raise
        self._apply_rules()
        self.responder = Responder(None)
        self.last_rule_error = ""

    # ------------------------------------------------------------------ rules

    def _rule_paths(self) -> list[str]:
        if self.cfg.rules:
            return list(self.cfg.rules)
        paths = [str(default_rules_path())]
        if self._source_specs and any(sp.kind != "k8s_audit" for sp in self._source_specs):
            paths.append(str(cloud_rules_path()))
        return paths

    def _load_rules(self) -> Any:
        kinds = frozenset(KINDS[sp.kind][1] for sp in self._source_specs)
        rs = load_rules(self._rule_paths(), available_fields=_available_fields(
            bool(self.cfg.k8s_audit_listen) or "k8s_audit" in kinds, kinds),
                        traced_event_types=script.traced_event_types(script.available_syscalls())
                        if self.cfg.sensor else None)
        for w in rs.warnings:
            log.warning("%s", w)
        return rs

    def _apply_rules(self) -> None:
        self._types = set(self.rules.event_types)
        self._all_types = bool(self.rules.all_event_types)
        self._want_args = "evt.args" in self.rules.fields_used
        self.policy = ResponsePolicy.from_rules(self.rules.rules, self.policy.by_priority, self.cfg.alert_policies)

    def event_types(self) -> set[str]:
        return set(script.ALL_EVENT_TYPES) if self._all_types else set(self._types)

    def program(self) -> str:
        assert self.inventory is not None or not self.cfg.sensor
        host_ns = self.inventory.host_mntns if self.inventory is not None else None
        return script.generate(self.event_types(), exclude_pids=[os.getpid()], host_mntns=host_ns,
                               containers_only=self.cfg.containers_only, available=script.available_syscalls())

    def reload_rules(self) -> str | None:
        """Reload the rules files; on error keep the last good ruleset and return the error text."""
        try:
            rs = self._load_rules()
        except RuleError as err:
            self.counters.rule_reload_errors += 1
            self.last_rule_error = str(err)
            log.error("rules reload failed, keeping the previous ruleset: %s", err)
            return str(err)
        old_program = self.program() if self.sensor is not None else ""
        with self._lock:
            self.rules = rs
            self._apply_rules()
        self.counters.rule_reloads += 1
        self.last_rule_error = ""
        log.info("rules reloaded: %d enabled rules", len(rs.enabled_rules))
        if self.sensor is not None:
            new_program = self.program()
            if new_program != old_program:
                self.sensor.replace_program(new_program)
        return None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self.cfg.nice is not None:
            try:
                os.setpriority(os.PRIO_PROCESS, 0, self.cfg.nice)
            except OSError as exc:
                log.warning("cannot set scheduling priority %d: %s", self.cfg.nice, exc)
        try:
            if self.cfg.record:
                self._record = Path(self.cfg.record).open("a", encoding="utf-8")  # noqa: SIM115
            self.inventory = ContainerInventory(self.cfg.docker_host, on_change=self._container_changed)
            self.inventory.start()
            self.responder = Responder(self.inventory.api)
            if self._audit_addr is not None:
                self._serve(self._audit_addr)
            if self._health_addr is not None:
                self._serve(self._health_addr)
            self._start_sources()
            if self.cfg.sensor:
                self.table.seed()
                for unavailable in script.unavailable(self.event_types(), script.available_syscalls()):
                    log.warning("event type %s cannot be traced on this kernel (no tracepoint)", unavailable)
                self.sensor = BpftraceSensor(self.program(), self._on_line, on_stderr=self._on_stderr,
                                             on_restart=self._on_restart, bpftrace=self.cfg.bpftrace)
                self.sensor.start()
        except (ContainerGuardError, OSError):
            self.stop()
            raise
        threading.Thread(target=self._ticker, name="cg-stats", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        for src in self.sources:
            src.stop()
        if self.sensor is not None:
            self.sensor.stop()
        for srv in self._servers:
            srv.shutdown()
            srv.server_close()
        self._pool.shutdown(wait=True)
        if self.inventory is not None:
            self.inventory.stop()
        with self._lock:
            self.outputs.close()
            if self._record is not None:
                self._record.close()
                self._record = None

    def wait(self) -> None:
        while not self._stop.wait(1.0):
            pass

    # ------------------------------------------------------------------ audit-log sources

    def _start_sources(self) -> None:
        state_dir = Path(self.cfg.source_state_dir) if self.cfg.source_state_dir else \
            Path(platformdirs.user_state_dir("containerguard")) / "sources"
        for spec in self._source_specs:
            src = RunningSource(spec, self._source_event, interval_s=self.cfg.source_interval, state_dir=state_dir)
            self.sources.append(src)
            src.start()
            log.info("source %s started", spec)

    def _source_event(self, event: Event) -> None:
        with self._lock:
            self.counters.events += 1
            if isinstance(event.fields, dict):  # the sources build plain dicts
                event.fields["evt.num"] = self.counters.events
                event.fields["evt.hostname"] = self.cfg.hostname
            self.handle_event(event)

    def metrics(self) -> str:
        """Prometheus text exposition of the agent's and each source's counters (GET /metrics)."""
        st = self.stats()
        out = []
        for key in ("events", "alerts", "dropped", "parse_errors", "audit_events", "output_dropped"):
            out.append(f"# TYPE containerguard_agent_{key}_total counter")
            out.append(f"containerguard_agent_{key}_total {st[key]}")
        series = (("events_total", "counter", "events"), ("parse_errors_total", "counter", "parse_errors"),
                  ("files_total", "counter", "files"), ("bytes_total", "counter", "bytes"),
                  ("credential_failures_total", "counter", "credential_failures"),
                  ("retries_total", "counter", "retries"), ("lag_seconds", "gauge", "lag_seconds"))
        for name, mtype, key in series:
            out.append(f"# TYPE containerguard_source_{name} {mtype}")
            for src in st["sources"]:
                label = str(src["name"]).replace("\\", "\\\\").replace('"', '\\"')
                v = src[key]
                out.append(f'containerguard_source_{name}{{source="{label}",kind="{src["kind"]}"}} '
                           f'{"NaN" if v is None else v}')
        out.append("# TYPE containerguard_source_up gauge")
        for src in st["sources"]:
            label = str(src["name"]).replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'containerguard_source_up{{source="{label}",kind="{src["kind"]}"}} '
                       f'{1 if src["status"] == "ok" else 0}')
        return "\n".join(out) + "\n"

    # ------------------------------------------------------------------ sensor

    def _on_stderr(self, line: str) -> None:
        text = self.parser.stderr_line(line)
        if text:
            log.debug("bpftrace: %s", text)

    def _on_restart(self, gap: float, restarts: int) -> None:
        log.warning("sensor restarted after %.1f s; events in that gap were lost", gap)
        self._internal("Sensor restarted", "Warning",
                       f"sensor restarted after {gap:.1f} s; events in that gap were lost (restart {restarts})",
                       {"gap_seconds": round(gap, 3), "restarts": restarts})

    def _internal(self, rule: str, priority: str, text: str, fields: dict[str, Any]) -> None:
        now = time.time_ns()
        doc = {"time": rfc3339(now), "rule": rule, "priority": priority, "source": "internal",
               "output": text, "output_fields": fields, "tags": ["containerguard", "health"],
               "hostname": self.cfg.hostname}
        with self._lock:
            self.outputs.emit(doc)

    def _on_line(self, line: str) -> None:
        raw = self.parser.feed(line)
        if raw is None:
            return
        try:
            self._on_raw(raw)
        except Exception:  # a bad line must never stop the sensor thread
            self.parser.parse_errors += 1
            log.debug("event %r failed", raw, exc_info=True)

    def _on_raw(self, raw: RawEvent) -> None:
        assert self.inventory is not None
        t = raw.type
        table = self.table
        wanted = self._all_types or t in self._types
        if t == "procexit" and not wanted and self._record is None:
            table.exit(raw.pid)  # traced for the process table only: no container, /proc or field look-ups
            return
        is_exec = t in ("execve", "execveat")
        info = self.inventory.for_event(raw.mntns, raw.pid, fresh=is_exec)
        cid = info.short_id if info is not None else "host"
        if is_exec:
            p = self._exec(raw, cid, info)
        else:
            p = table.get(raw.pid, ppid=raw.ppid, comm=raw.comm, container_id=cid)
        ef, written = event_fields(raw, p.cwd, lambda fd, name: table.fd_path(p, fd, name), self.roles)
        if (t == "connect" and raw.res in (0, -EINPROGRESS_ERR)) or (t in _ACCEPTS and raw.res >= 0):
            self.roles.note(ef, server=t != "connect")
        if written is not None and raw.res >= 0:
            table.note_written(cid, written)
        if raw.res >= 0 and t in _OPENS:
            table.note_fd(p, raw.res, ef["fd.name"])
        if wanted or self._record is not None:
            ts = raw.ts + self._mono_offset
            fields = table.fields(p)
            fields.update(ef)
            fields.update(self._container_fields(info))
            if not is_exec:
                fields["proc.name"] = raw.comm
            fields["user.uid"] = raw.uid
            fields["group.gid"] = raw.gid
            fields["user.name"] = self.users.name(raw.pid, raw.uid, cid)
            fields["group.name"] = self.users.group(raw.pid, raw.gid, cid)
            fields["user.loginname"] = self.users.name(raw.pid, p.loginuid, cid)
            fields["evt.rawtime"] = ts
            if p.start_ns:
                fields["proc.duration"] = ts - p.start_ns
            if self._want_args:
                fields["evt.args"] = " ".join(f"{k[8:]}={v}" for k, v in ef.items() if k.startswith("evt.arg."))
            fields["evt.hostname"] = self.cfg.hostname
            self.counters.events += 1
            fields["evt.num"] = self.counters.events
            self.handle_event(Event(type=t, time_ns=ts, fields=fields), evaluate=wanted)
        if t == "procexit":
            table.exit(raw.pid)

    def _exec(self, raw: RawEvent, cid: str, info: ContainerInfo | None) -> Proc:
        """Record an exec in the process table from what the kernel captured (exe identity, env, stdio)."""
        x = exec_info(raw)
        argv = x.argv
        comm = raw.comm
        exepath = x.execfn
        if x.from_memfd:
            exepath = x.exe_name  # memfd:NAME, from the kernel: right even when the process is already gone
        elif exepath.startswith(("/dev/fd/", "/proc/")) or not exepath:
            # fexecve, or busybox running an applet through /proc/self/exe (comm "exe")
            try:
                target = os.readlink(f"/proc/{raw.pid}/exe").removesuffix(" (deleted)")
            except OSError:
                target = ""
            exepath = target or x.exe_name
        if argv and (comm == "exe" or comm.isdigit()):  # comm is the basename of /proc/self/exe or fd/N
            comm = argv[0].rpartition("/")[2][:15] or comm
        args = argv
        if x.exe_name in MULTICALL_BINARIES and argv:
            # busybox/toybox: `nc` -> busybox runs applet nc (comm is already nc); `busybox nc ...` names the
            # applet in argv[1]: rules asking for proc.name see the applet, as for a symlinked applet
            first = argv[0].rpartition("/")[2]
            if first in MULTICALL_BINARIES and len(argv) > 1 and not argv[1].startswith("-"):
                comm = argv[1].rpartition("/")[2][:15]
                args = argv[1:]
        env = x.env
        if x.env_truncated:
            env = _proc_environ(raw.pid) or env
        stdio = tuple((s.fd_type, _sock_name(s, self.roles(s))) for s in x.stdio)
        return self.table.exec(
            raw.pid, raw.ppid, comm, exepath, args, uid=raw.uid, gid=raw.gid, tty=x.tty, loginuid=x.loginuid,
            ts=raw.ts + self._mono_offset, container_id=cid, upper_dir=info.upper_dir if info is not None else "",
            exe_ino=x.exe_ino, exe_ctime=x.exe_ctime, exe_mtime=x.exe_mtime, from_memfd=x.from_memfd,
            pgid=x.pgid, sid=x.sid, env=env, stdio=stdio)

    def _container_fields(self, info: ContainerInfo | None) -> dict[str, Any]:
        if info is None:
            return HOST_FIELDS
        cached = self._cfields.get(info.id)
        if cached is None or cached[0] is not info:
            if len(self._cfields) > 4096:
                self._cfields.clear()
            cached = self._cfields[info.id] = (info, info.fields())
        return cached[1]

    def _container_changed(self, action: str, info: ContainerInfo) -> None:
        if action in ("die", "destroy"):
            self.table.container_gone(info.short_id)
            return
        if action != "start":
            return
        now = time.time_ns()
        fields = {**info.fields(), "evt.type": "container", "evt.dir": "<", "evt.rawtime": now,
                  "evt.hostname": self.cfg.hostname}
        self.counters.events += 1
        self.handle_event(Event(type="container", time_ns=now, fields=fields))

    # ------------------------------------------------------------------ rules -> responses -> outputs

    def handle_event(self, event: Event, evaluate: bool = True) -> list[Alert]:
        """Record, evaluate, respond and emit, for an event from any source."""
        with self._lock:
            if self._record is not None:
                try:
                    write_event(self._record, event)
                    self._record.flush()
                except (OSError, ValueError, TypeError):
                    log.debug("recording failed", exc_info=True)
            if not evaluate:
                return []
            alerts = self.rules.evaluate(event)
            out: list[Alert] = []
            for alert in alerts:
                actions = self.policy.actions_for(alert)
                # killing the process cannot wait; Engine calls (a stop takes seconds) run on the response
                # pool, and the alert is emitted once their outcomes are known
                outcomes = tuple(self.responder.run(a, alert, event) for a in actions if a not in CONTAINER_ACTIONS)
                later = [a for a in actions if a in CONTAINER_ACTIONS]
                if later:
                    self._pool.submit(self._respond_later, alert, event, outcomes, later)
                else:
                    out.append(self._emit(alert, event, outcomes))
            return out

    def _respond_later(self, alert: Alert, event: Event, done: tuple[str, ...], actions: list[str]) -> None:
        outcomes = done + tuple(self.responder.run(a, alert, event) for a in actions)
        with self._lock:
            self._emit(alert, event, outcomes)

    def _emit(self, alert: Alert, event: Event, outcomes: tuple[str, ...]) -> Alert:
        self.counters.responses += len(outcomes)
        self.counters.response_errors += sum(1 for o in outcomes if ": error:" in o)
        alert = dataclasses.replace(alert, responses=outcomes)
        self.counters.alerts += 1
        doc = alert_to_json(alert, self.cfg.hostname)
        doc["event_time_ns"] = event.time_ns
        self.outputs.emit(doc)
        return alert

    def audit_body(self, body: bytes) -> int:
        """Feed a k8s audit webhook body; returns the number of events (raises on a malformed body)."""
        events = parse_audit_body(body)
        for ev in events:
            self.counters.audit_events += 1
            self.handle_event(ev)
        return len(events)

    # ------------------------------------------------------------------ health

    def stats(self) -> dict[str, Any]:
        c = self.counters
        sensor = self.sensor
        return {
            "status": "ok" if ((sensor is None or sensor.pid is not None)
                               and all(src.health.status == "ok" for src in self.sources)) else "degraded",
            "uptime_s": round(time.time() - self.started_at, 1),
            "events": c.events, "alerts": c.alerts, "audit_events": c.audit_events,
            "audit_rejected": c.audit_rejected,
            "dropped": self.parser.lost, "parse_errors": self.parser.parse_errors,
            "sensor_lines": self.parser.lines,
            "sensor_restarts": sensor.restarts if sensor is not None else 0,
            "sensor_last_gap_s": round(sensor.last_gap, 3) if sensor is not None else 0.0,
            "sensor_pid": sensor.pid if sensor is not None else None,
            "responses": c.responses, "response_errors": c.response_errors,
            "output_dropped": self.outputs.dropped,
            "rule_reloads": c.rule_reloads, "rule_reload_errors": c.rule_reload_errors,
            "last_rule_error": self.last_rule_error,
            "rules_enabled": len(self.rules.enabled_rules),
            "containers": len(self.inventory.list()) if self.inventory is not None else 0,
            "docker_connected": bool(self.inventory and self.inventory.connected),
            "docker_reconnects": self.inventory.reconnects if self.inventory is not None else 0,
            "processes": len(self.table),
            "unresolved_processes": self.table.unresolved,
            "sources": [src.health.to_json() for src in self.sources],
        }

    def _ticker(self) -> None:
        while not self._stop.wait(self.cfg.stats_interval):
            s = self.stats()
            log.info("stats %s", json.dumps(s, separators=(",", ":")))
            lost = self.parser.lost
            if lost > self._last_lost:
                self._internal("Sensor dropped events", "Warning",
                               f"the sensor dropped {lost - self._last_lost} events (kernel buffer full)",
                               {"dropped": lost - self._last_lost, "dropped_total": lost})
                self._last_lost = lost

    def _serve(self, addr: tuple[str, int]) -> None:
        agent = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "containerguard-agent"

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("http %s", format % args)

            def _reply(self, code: int, doc: dict[str, Any]) -> None:
                body = json.dumps(doc).encode() + b"\n"
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path.split("?")[0] in ("/healthz", "/health"):
                    self._reply(200, agent.stats())
                elif self.path.split("?")[0] == "/metrics":
                    body = agent.metrics().encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain; version=0.0.4")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self._reply(404, {"error": "not found"})

            def do_POST(self) -> None:
                if self.path.split("?")[0] not in ("/k8s-audit", "/k8s_audit") or not agent.cfg.k8s_audit_listen:
                    self._reply(404, {"error": "not found"})
                    return
                try:
                    length = int(self.headers.get("Content-Length") or "-1")
                except ValueError:
                    length = -1
                if length < 0:
                    agent.counters.audit_rejected += 1
                    self._reply(411, {"error": "Content-Length required"})
                    return
                if length > MAX_AUDIT_BODY:
                    agent.counters.audit_rejected += 1
                    self.close_connection = True
                    self._reply(413, {"error": f"body larger than {MAX_AUDIT_BODY} bytes"})
                    return
                body = self.rfile.read(length)
                try:
                    n = agent.audit_body(body)
                except ContainerGuardError as exc:
                    agent.counters.audit_rejected += 1
                    self._reply(400, {"error": str(exc).splitlines()[0]})
                    return
                self._reply(200, {"events": n})

        try:
            srv = ThreadingHTTPServer(addr, Handler)
        except OSError as exc:
            raise UsageError(f"cannot listen on {addr[0]}:{addr[1]}: {exc}") from exc
        srv.daemon_threads = True
        self._servers.append(srv)
        threading.Thread(target=srv.serve_forever, name=f"cg-http-{addr[1]}", daemon=True).start()

    @property
    def server_ports(self) -> list[int]:
        return [int(s.server_address[1]) for s in self._servers]
