"""The runtime agent: the stages of the runtime pipeline, wired together and run on their threads.

    sensor (runtime/sensor: bpftrace lines -> RawEvent)
      -> enrich (runtime/enrich: process table, container table, users -> Event)
      -> evaluate (runtime/evaluate: rules and detectors -> Alerts; shared with ``rules replay``)
      -> respond (runtime/respond: kill the process, pause/stop/kill the container)
      -> emit (runtime/emit: Falco-compatible JSON on every output; the recorder)

Other event sources join at evaluate: the Docker event watcher (``container`` events), the Kubernetes audit
webhook (runtime/http). Threads: the sensor reader (bpftrace lines, in order), the Docker event watcher, the
optional HTTP servers and the stats ticker. Evaluation, responses and outputs run under one lock, so every
source sees the same ruleset and outputs never interleave.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from containerguard.errors import ContainerGuardError
from containerguard.model import Alert, Event, Priority
from containerguard.runtime.baseline import BaselineDetector, BaselineStore
from containerguard.runtime.baseline.store import default_dir
from containerguard.runtime.cloud.reader import ReadPool
from containerguard.runtime.cloud.sources import KINDS, RunningSource, parse_source
from containerguard.runtime.containers import ContainerInfo, ContainerTable
from containerguard.runtime.dns import DomainNames, domain_constants
from containerguard.runtime.emit import Emitter, Recorder
from containerguard.runtime.enrich import Enricher, Sequence
from containerguard.runtime.evaluate import Evaluator
from containerguard.runtime.http import HttpEndpoints, parse_listen
from containerguard.runtime.imagefiles import ImageFiles, IndexProvider
from containerguard.runtime.k8saudit import parse_audit_body
from containerguard.runtime.outputs import Outputs, open_output
from containerguard.runtime.process import ProcessTable, UserNames
from containerguard.runtime.respond import Responder, ResponsePlan, ResponseStage, parse_respond
from containerguard.runtime.rules import RuleSet, cloud_rules_path, default_rules_path, load_rules
from containerguard.runtime.rules.fields import AGENT_PRODUCERS, DNS_NAME_FIELDS, fields_of
from containerguard.runtime.sensor import script
from containerguard.runtime.sensor.bpftrace import BpftraceSensor
from containerguard.runtime.sensor.parse import LineParser, RawEvent
from containerguard.runtime.uplink import ServerUplink, container_doc, default_spool_dir

log = logging.getLogger(__name__)

__all__ = ["Agent", "AgentConfig", "Counters", "parse_listen"]


@dataclass
class AgentConfig:
    """What ``containerguard agent`` was asked to do (one field per command-line option)."""

    rules: list[str] = field(default_factory=list)  # empty: the default ruleset
    #: rules less severe than this are not run (Falco's `priority` setting); None: every rule
    min_priority: Priority | None = None
    outputs: list[str] = field(default_factory=lambda: ["stdout"])
    record: str | None = None
    #: write environment values to the recording unmasked (default: secret-looking values are masked)
    record_env: bool = False
    #: how the domain names rules compare fd.sip.name & co. with are resolved: dns | hosts | off (runtime/dns.py)
    resolve_names: str = "dns"
    #: where container metadata comes from: docker, containerd (its API, as on Kubernetes nodes), or auto (the
    #: Docker Engine if its socket exists or --docker-host is given, else containerd if its socket exists)
    runtime: str = "auto"
    containerd_socket: str = "/run/containerd/containerd.sock"
    containerd_namespace: str = "k8s.io"
    respond: list[str] = field(default_factory=list)  # ACTION:MINPRIORITY
    #: kill_process may act on host processes (outside any container); off, such responses are refused and said so
    respond_host: bool = False
    k8s_audit_listen: str | None = None  # HOST:PORT
    #: the bearer token the audit webhook requires (the API server's webhook kubeconfig sends it); "" for none
    k8s_audit_token: str = ""
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
    #: the central server (alerts and container snapshots through an on-disk spool; see runtime/uplink.py)
    server: str | None = None
    server_token: str = ""
    spool_dir: str | None = None
    #: the most the alerts' spool may hold on disk while the server is away (the oldest batches go first, counted)
    spool_max_bytes: int = 256 << 20
    #: audit-log sources, KIND:LOCATION (cloudtrail:/var/log/ct, cloudtrail:s3://bucket/prefix, gcp:FILE, ...)
    sources: list[str] = field(default_factory=list)
    source_interval: float = 10.0
    #: processes that read (decompress, parse, evaluate) the files of directory sources when several changed at
    #: once; 1 reads in the agent's process (also when recording, which needs every event here)
    source_workers: int = 1
    #: where S3 sources remember what they read (None: the user's state directory)
    source_state_dir: str | None = None
    #: runtime-stage policies as code over each alert (containerguard.policy.runtime.AlertPolicies) -> actions
    alert_policies: Callable[[Alert], Seq[str]] | None = None
    #: behavioural baselines (runtime/baseline): on, where they are kept (None: the user's data directory),
    #: the quiet period after which a learning workload starts monitoring, the response in protect mode
    baseline: bool = False
    baseline_dir: str | None = None
    baseline_quiet: float = 3600.0
    baseline_action: str = "kill_process"
    #: zero-drift from the image layers: image -> its layers' executables and links (None: the upper layer only)
    image_files: IndexProvider | None = None


def host_support(k8s: bool = True) -> tuple[set[str], set[str]]:
    """What the agent can supply on this host: (field names, syscall event types it can trace here)."""
    return available_fields(k8s), script.traced_event_types(script.available_syscalls())


def available_fields(k8s_audit: bool, sources: frozenset[str] = frozenset(), dns: bool = True) -> set[str]:
    """The catalog fields the agent's producers supply: the syscall pipeline's, the audit webhook's when it
    listens, and those of the audit-log sources it reads (their producer names); the domain-name fields unless
    name resolution is off."""
    producers = set(AGENT_PRODUCERS) | ({"k8s_audit"} if k8s_audit else set()) | set(sources)
    if not dns:
        producers.discard("dns")
    if sources or k8s_audit:
        producers.add("audit_json")
    return fields_of(producers)


def select_runtime(runtime: str, docker_host: str | None, containerd_socket: str,
                   environ: Mapping[str, str] | None = None) -> str:
    """``docker`` or ``containerd``: as asked, or for ``auto`` Docker when it is configured (--docker-host, a
    non-socket DOCKER_HOST) or its socket exists, else containerd when its socket exists, else Docker (the agent
    then waits for the Engine, as before)."""
    if runtime != "auto":
        return runtime
    env = os.environ if environ is None else environ
    docker_sock = (env.get("DOCKER_HOST") or "unix:///var/run/docker.sock").removeprefix("unix://")
    if docker_host or not docker_sock.startswith("/") or os.path.exists(docker_sock):
        return "docker"
    return "containerd" if os.path.exists(containerd_socket) else "docker"


@dataclass
class Counters:
    """The agent's own counters (the stages count the rest)."""

    audit_events: int = 0
    audit_rejected: int = 0
    #: malformed events inside an accepted webhook batch (counted and skipped; the rest of the batch is evaluated)
    audit_skipped: int = 0
    rule_reloads: int = 0
    rule_reload_errors: int = 0


class Agent:
    """One agent on one host. ``start()``, then it runs on its threads until ``stop()``."""

    def __init__(self, cfg: AgentConfig) -> None:
        self.cfg = cfg
        self.counters = Counters()
        self.sequence = Sequence()
        self.parser = LineParser()
        self.enricher = Enricher(ProcessTable(), UserNames(), cfg.hostname, self.sequence)
        self.enricher.mono_offset = time.time_ns() - time.monotonic_ns()
        if cfg.image_files is not None:
            self.enricher.image_files = ImageFiles(cfg.image_files)
        self.containers: ContainerTable | None = None
        self.sensor: BpftraceSensor | None = None
        self.recorder: Recorder | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._last_lost = 0
        self._last_output_drops: dict[str, int] = {}
        self.started_at = time.time()
        by_priority = [parse_respond(s) for s in cfg.respond]
        self._audit_addr = parse_listen(cfg.k8s_audit_listen, "--k8s-audit-listen") if cfg.k8s_audit_listen else None
        self._health_addr = parse_listen(cfg.health_listen, "--health-port") if cfg.health_listen else None
        self._source_specs = [parse_source(s) for s in cfg.sources]
        self.sources: list[RunningSource] = []
        self.read_pool: ReadPool | None = None
        outputs = Outputs([open_output(s) for s in cfg.outputs])
        self.uplink: ServerUplink | None = None
        if cfg.server:
            self.uplink = ServerUplink(cfg.server, cfg.server_token, cfg.spool_dir or default_spool_dir(),
                                       host=cfg.hostname, containers=self._container_docs,
                                       max_bytes=cfg.spool_max_bytes,
                                       baselines=self._baseline_docs if cfg.baseline else None)
            outputs.outputs.append(self.uplink)
        self.emitter = Emitter(outputs, cfg.hostname)
        try:
            ruleset = self._load_rules()
        except ContainerGuardError:
            self.emitter.close()
            raise
        self.evaluator = Evaluator(ruleset)
        self.dns = DomainNames(cfg.resolve_names)
        self.enricher.dns = self.dns
        self._use_fields(ruleset)
        self.responses = ResponseStage(ResponsePlan.from_rules(ruleset.rules, by_priority, cfg.alert_policies),
                                       Responder(None, allow_host=cfg.respond_host),
                                       self.emitter.emit, self._lock)
        self.http = HttpEndpoints(self)
        self.baselines: BaselineDetector | None = None
        if cfg.baseline:
            self._start_baselines()
        self.last_rule_error = ""

    @property
    def rules(self) -> RuleSet:
        """The ruleset in force."""
        return self.evaluator.ruleset

    @property
    def processes(self) -> ProcessTable:
        """The process table (the enrich stage's)."""
        return self.enricher.processes

    # ------------------------------------------------------------------ rules

    def _rule_paths(self) -> list[str]:
        if self.cfg.rules:
            return list(self.cfg.rules)
        paths = [str(default_rules_path())]
        if any(sp.kind != "k8s_audit" for sp in self._source_specs):
            paths.append(str(cloud_rules_path()))
        return paths

    def _load_rules(self) -> RuleSet:
        kinds = frozenset(KINDS[sp.kind][1] for sp in self._source_specs)
        # one picklable loader, so the processes reading directory sources load the very same ruleset
        self._rules_loader = functools.partial(load_rules, self._rule_paths(), available_fields=available_fields(
            bool(self.cfg.k8s_audit_listen) or "k8s_audit" in kinds, kinds, dns=self.cfg.resolve_names != "off"),
                        traced_event_types=script.traced_event_types(script.available_syscalls())
                        if self.cfg.sensor else None, min_priority=self.cfg.min_priority)
        rs = self._rules_loader()
        for w in rs.warnings:
            log.warning("%s", w)
        return rs

    def _use_fields(self, rs: RuleSet) -> None:
        """Let the enrich stage fill in the costly fields only when an enabled rule reads them; watch the domain names
        the rules compare with (resolved in the background, see runtime/dns.py)."""
        self.enricher.want_args = "evt.args" in rs.fields_used
        self.enricher.want_dns = bool(DNS_NAME_FIELDS.keys() & rs.fields_used) and self.dns.enabled
        if self.enricher.want_dns:
            self.dns.watch(domain_constants(rs.enabled_conditions()))

    def program(self) -> str:
        """The bpftrace program for the event types the rules and detectors need."""
        host_ns = self.containers.host_mntns if self.containers is not None else None
        return script.generate(self.evaluator.event_types(), exclude_pids=[os.getpid()], host_mntns=host_ns,
                               containers_only=self.cfg.containers_only, available=script.available_syscalls(),
                               buffers="evt.buffer" in self.rules.fields_used)

    def reload_rules(self) -> str | None:
        """Reload the rules files; on error keep the last good ruleset and return the error text."""
        try:
            rs = self._load_rules()
        except Exception as err:  # a RuleError, or anything a broken file provokes: the last good ruleset stays
            if not isinstance(err, ContainerGuardError):
                log.debug("rules reload", exc_info=True)
            self.counters.rule_reload_errors += 1
            self.last_rule_error = str(err)
            log.error("rules reload failed, keeping the previous ruleset: %s", err)
            return str(err)
        old_program = self.program() if self.sensor is not None else ""
        with self._lock:
            self.evaluator.use(rs)
            self._use_fields(rs)
            self.responses.plan = ResponsePlan.from_rules(rs.rules, self.responses.plan.by_priority,
                                                          self.cfg.alert_policies)
        if self.read_pool is not None:
            self.read_pool.use(self._rules_loader)
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
        """Connect to the Engine, open the listeners and start the sensor; on failure undo what started."""
        if self.cfg.nice is not None:
            try:
                os.setpriority(os.PRIO_PROCESS, 0, self.cfg.nice)
            except OSError as exc:
                log.warning("cannot set scheduling priority %d: %s", self.cfg.nice, exc)
        try:
            if self.cfg.record:
                self.recorder = Recorder(self.cfg.record, record_env=self.cfg.record_env)
            self.containers = self._container_table()
            self.containers.start()
            self.enricher.containers = self.containers
            layers = self.containers.layer_provider()
            if layers is not None and self.enricher.image_files is not None:  # containerd: the node's unpacked layers
                self.enricher.image_files.provider = layers
            self.responses.responder = Responder(self.containers.api, allow_host=self.cfg.respond_host,
                                                 is_own=self.containers.is_own)
            for addr in (self._audit_addr, self._health_addr):
                if addr is not None:  # /k8s-audit on its own address only: the health port is often opened wider
                    self.http.serve(addr, audit=addr is self._audit_addr, token=self.cfg.k8s_audit_token)
            self._start_sources()
            if self.cfg.sensor:
                self.dns.watch(self.dns.names, wait=3.0)  # the first answers before the first event
                self._start_sensor()
        except (ContainerGuardError, OSError):
            self.stop()
            raise
        threading.Thread(target=self._ticker, name="cg-stats", daemon=True).start()
        if self.baselines is not None:
            threading.Thread(target=self._baseline_loop, name="cg-baseline", daemon=True).start()

    def runtime(self) -> str:
        """The container runtime in use: the configured one, or for ``auto`` the one whose socket exists."""
        return select_runtime(self.cfg.runtime, self.cfg.docker_host, self.cfg.containerd_socket)

    def _container_table(self) -> ContainerTable:
        if self.runtime() == "containerd":
            from containerguard.runtime.containerd import ContainerdTable

            log.info("container runtime: containerd at %s, namespace %s", self.cfg.containerd_socket,
                     self.cfg.containerd_namespace)
            return ContainerdTable(self.cfg.containerd_socket, self.cfg.containerd_namespace,
                                   on_change=self._container_changed)
        return ContainerTable(self.cfg.docker_host, on_change=self._container_changed)

    def _start_baselines(self) -> None:
        directory = Path(self.cfg.baseline_dir) if self.cfg.baseline_dir else default_dir()
        try:
            store = BaselineStore(directory)
        except ContainerGuardError:
            self.emitter.close()
            raise
        self.baselines = BaselineDetector(store, quiet_s=self.cfg.baseline_quiet,
                                          protect_action=self.cfg.baseline_action)
        self.evaluator.add(self.baselines)

    def _baseline_docs(self) -> list[dict[str, Any]] | None:
        det = getattr(self, "baselines", None)  # None until they are loaded (and after stop): nothing to report
        return det.summaries() if det is not None else None

    def _baseline_loop(self) -> None:
        while not self._stop.wait(1.0):
            try:
                if self.baselines is not None:
                    self.baselines.tick()
            except Exception:  # a locked or broken store must not stop detection
                log.warning("baseline store update failed", exc_info=True)

    def _start_sensor(self) -> None:
        self.processes.seed()
        for unavailable in script.unavailable(self.evaluator.event_types(), script.available_syscalls()):
            log.warning("event type %s cannot be traced on this kernel (no tracepoint)", unavailable)
        self.sensor = BpftraceSensor(self.program(), self._on_line, on_stderr=self._on_stderr,
                                     on_restart=self._on_restart, bpftrace=self.cfg.bpftrace)
        self.sensor.start()

    def stop(self) -> None:
        """Stop every thread, wait for pending responses, close outputs and the recording."""
        self._stop.set()
        for src in self.sources:
            src.stop()
        if self.read_pool is not None:
            self.read_pool.close()
            self.read_pool = None
        t0 = time.monotonic()
        self.dns.stop()
        if self.sensor is not None:
            self.sensor.stop()
        t1 = time.monotonic()
        self.http.close()
        self.responses.close()
        if self.containers is not None:
            self.containers.stop()
        t2 = time.monotonic()
        if self.baselines is not None:
            self.baselines.flush()
            self.baselines.store.close()
            self.baselines = None
        with self._lock:
            self.emitter.close()
        log.debug("stopped: sensor %.1f s, responses and runtime %.1f s, outputs %.1f s", t1 - t0, t2 - t1,
                  time.monotonic() - t2)
        with self._lock:
            if self.recorder is not None:
                self.recorder.close()
                self.recorder = None

    def wait(self) -> None:
        """Block until :meth:`stop`."""
        while not self._stop.wait(1.0):
            pass

    # ------------------------------------------------------------------ sources

    def _start_sources(self) -> None:
        state_dir = Path(self.cfg.source_state_dir) if self.cfg.source_state_dir else \
            Path(platformdirs.user_state_dir("containerguard")) / "sources"
        if self.cfg.source_workers > 1 and self.recorder is None and \
                any(sp.scheme == "file" for sp in self._source_specs):
            self.read_pool = ReadPool(self.cfg.source_workers, self._rules_loader)
        for spec in self._source_specs:
            src = RunningSource(spec, self._source_event, interval_s=self.cfg.source_interval, state_dir=state_dir,
                                pool=self.read_pool, emit_evaluated=self._source_evaluated, count=self._source_count)
            self.sources.append(src)
            src.start()
            log.info("source %s started", spec)

    def _source_evaluated(self, event: Event, alerts: list[Alert]) -> None:
        """An event whose rules a reading process evaluated, with its alerts: responses and outputs here."""
        with self._lock:
            if isinstance(event.fields, dict):
                event.fields["evt.num"] = self.sequence.next()
                event.fields["evt.hostname"] = self.cfg.hostname
            else:
                self.sequence.next()
            for alert in alerts:
                self.responses.handle(alert, event)

    def _source_count(self, n: int) -> None:
        """Events a reading process evaluated without an alert: counted, nothing else to do."""
        with self._lock:
            self.sequence.value += n

    def _source_event(self, event: Event) -> None:
        with self._lock:
            if isinstance(event.fields, dict):  # the sources build plain dicts
                event.fields["evt.num"] = self.sequence.next()
                event.fields["evt.hostname"] = self.cfg.hostname
            else:
                self.sequence.next()
            self.handle_event(event)

    def _on_stderr(self, line: str) -> None:
        text = self.parser.stderr_line(line)
        if text:
            log.debug("bpftrace: %s", text)

    def _on_restart(self, gap: float, restarts: int) -> None:
        log.warning("sensor restarted after %.1f s; events in that gap were lost", gap)
        with self._lock:
            self.emitter.internal("Sensor restarted", "CG-H001", Priority.WARNING,
                                  f"sensor restarted after {gap:.1f} s; events in that gap were lost "
                                  f"(restart {restarts})", {"gap_seconds": round(gap, 3), "restarts": restarts})

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
        wanted = self.evaluator.wants(raw.type)
        event = self.enricher.enrich(raw, build=wanted or self.recorder is not None)
        if event is not None:
            self.handle_event(event, evaluate=wanted)
        self.enricher.done(raw)

    def _container_docs(self) -> list[dict[str, Any]]:
        return [container_doc(c) for c in self.containers.list()] if self.containers is not None else []

    def _container_changed(self, action: str, info: ContainerInfo) -> None:
        if self.uplink is not None and action in ("start", "die", "destroy"):
            self.uplink.containers_changed()
        if action in ("die", "destroy"):
            self.processes.container_gone(info.short_id)
            return
        if action != "start":
            return
        now = time.time_ns()
        fields = {**info.fields(), "evt.type": "container", "evt.dir": "<", "evt.rawtime": now,
                  "evt.hostname": self.cfg.hostname, "evt.num": self.sequence.next()}
        self.handle_event(Event(type="container", time_ns=now, fields=fields))

    def audit_body(self, body: bytes) -> tuple[int, int]:
        """Feed a k8s audit webhook body; returns (events, malformed events skipped). Raises when the body is not
        an audit document; a malformed event in a batch is counted and logged, the others are evaluated."""
        skipped: list[str] = []
        events = parse_audit_body(body, skipped)
        for why in skipped:
            log.warning("k8s audit webhook: skipped %s", why)
        self.counters.audit_skipped += len(skipped)
        for ev in events:
            self.counters.audit_events += 1
            self.handle_event(ev)
        return len(events), len(skipped)

    def audit_rejected(self) -> None:
        """Count an audit request the webhook refused."""
        self.counters.audit_rejected += 1

    # ------------------------------------------------------------------ the pipeline after enrich

    def handle_event(self, event: Event, evaluate: bool = True) -> list[Alert]:
        """Record, evaluate, respond and emit, for an event from any source; returns the alerts emitted now."""
        with self._lock:
            if self.recorder is not None:
                self.recorder.record(event)
            if not evaluate:
                return []
            out: list[Alert] = []
            for alert in self.evaluator.evaluate(event):
                emitted = self.responses.handle(alert, event)
                if emitted is not None:
                    out.append(emitted)
            return out

    # ------------------------------------------------------------------ health

    def stats(self) -> dict[str, Any]:
        """The /healthz document: counters of every stage."""
        c = self.counters
        sensor = self.sensor
        containers = self.containers
        return {
            "status": "ok" if ((sensor is None or sensor.pid is not None)
                               and all(src.health.status == "ok" for src in self.sources)) else "degraded",
            "uptime_s": round(time.time() - self.started_at, 1),
            "events": self.sequence.value, "alerts": self.emitter.alerts, "audit_events": c.audit_events,
            "audit_rejected": c.audit_rejected, "audit_skipped": c.audit_skipped,
            "dropped": self.parser.lost, "parse_errors": self.parser.parse_errors,
            "sensor_lines": self.parser.lines,
            "sensor_restarts": sensor.restarts if sensor is not None else 0,
            "sensor_last_gap_s": round(sensor.last_gap, 3) if sensor is not None else 0.0,
            "sensor_pid": sensor.pid if sensor is not None else None,
            "responses": self.emitter.responses, "response_errors": self.emitter.response_errors,
            "output_dropped": self.emitter.outputs.dropped,
            "output_dropped_by": self.emitter.outputs.dropped_by_output(),
            "uplink": self.uplink.status() if self.uplink is not None else None,
            "rule_reloads": c.rule_reloads, "rule_reload_errors": c.rule_reload_errors,
            "last_rule_error": self.last_rule_error,
            "rules_enabled": len(self.rules.enabled_rules),
            "containers": len(containers.list()) if containers is not None else 0,
            "runtime": self.runtime(), "runtime_connected": bool(containers and containers.connected),
            "runtime_reconnects": containers.reconnects if containers is not None else 0,
            "runtime_events": containers.events if containers is not None else 0,
            # the names before containerd support, kept for existing probes: the same two values
            "docker_connected": bool(containers and containers.connected),
            "docker_reconnects": containers.reconnects if containers is not None else 0,
            "processes": len(self.processes), "unresolved_processes": self.processes.unresolved,
            "sources": [src.health.to_json() for src in self.sources],
            "baseline": self.baselines.stats() if self.baselines is not None else None,
            "image_layers": self.enricher.image_files.stats() if self.enricher.image_files is not None else None,
        }

    def metrics(self) -> str:
        """Prometheus text exposition of the agent's and each source's counters (GET /metrics)."""
        st = self.stats()
        out = []
        for key in ("events", "alerts", "dropped", "parse_errors", "audit_events", "audit_skipped", "audit_rejected",
                    "output_dropped"):
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

    def _ticker(self) -> None:
        while not self._stop.wait(self.cfg.stats_interval):
            s = self.stats()
            log.info("stats %s", json.dumps(s, separators=(",", ":")))
            lost = self.parser.lost
            if lost > self._last_lost:
                with self._lock:
                    self.emitter.internal("Sensor dropped events", "CG-H002", Priority.WARNING,
                                          f"the sensor dropped {lost - self._last_lost} events (kernel buffer full)",
                                          {"dropped": lost - self._last_lost, "dropped_total": lost})
                self._last_lost = lost
            self._report_output_drops()

    def _report_output_drops(self) -> None:
        """An internal alert when outputs dropped alerts since the last report (a full queue behind a reader that
        does not read, a full disk, an unreachable webhook or server), naming each output and its count: the
        outputs that still work carry it."""
        now = self.emitter.outputs.dropped_by_output()
        new = {name: n - self._last_output_drops.get(name, 0) for name, n in now.items()
               if n > self._last_output_drops.get(name, 0)}
        self._last_output_drops = now
        if not new:
            return
        text = ", ".join(f"{name}: {n}" for name, n in sorted(new.items()))
        with self._lock:
            self.emitter.internal("Outputs dropped alerts", "CG-H003", Priority.WARNING,
                                  f"outputs could not deliver {sum(new.values())} alerts ({text})",
                                  {"dropped": sum(new.values()), "dropped_total": sum(now.values()),
                                   "outputs": new})

    @property
    def server_ports(self) -> list[int]:
        """The HTTP ports the agent listens on."""
        return self.http.ports
