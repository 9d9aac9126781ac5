"""`containerguard agent`: the runtime agent on a Docker host (eBPF sensor, container inventory, rules, responses)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from containerguard.cli._enforce import FromServerOpt, RefreshOpt

if TYPE_CHECKING:
    from containerguard.policy.remote import ServerPolicies
    from containerguard.policy.runtime import AlertPolicies
    from containerguard.runtime.imagefiles import LayerFile


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command("agent")(agent)


def _alert_policies(paths: list[Path] | None, *, server: str | None, token: str, spool_dir: Path | None,
                    from_server: bool, refresh: float,
                    host: str) -> tuple[AlertPolicies | None, ServerPolicies | None]:
    """Runtime policies (``--policy``, ``--policy-from-server``), reporting their decisions with ``--server``."""
    if not paths and not from_server:
        return None, None
    from containerguard.cli import _enforce
    from containerguard.cli.policy import live
    from containerguard.policy.runtime import AlertPolicies

    policies = live(paths)  # SIGHUP is the agent's (rules): the agent's handler reloads these too
    fetcher = _enforce.server_policies(server, token, policies, "agent", refresh) if from_server else None
    from containerguard.runtime.uplink import default_spool_dir

    # beside the alerts' spool, never in it: each spool directory has one sender (containerguard.spool)
    rep = _enforce.reporter(server, token, (spool_dir or default_spool_dir()) / "policy", "agent", policies,
                            instance=host)
    return AlertPolicies(policies, rep, host=host), fetcher


class _CleanFormatter(logging.Formatter):
    """Log lines with control characters, bidi overrides and line separators made visible: the agent logs names
    that whoever starts a container chooses (its name, labels, the files it runs), and a log line must not
    clear, recolour or forge lines of the terminal or the log it is written to."""

    def format(self, record: logging.LogRecord) -> str:
        from containerguard.report.terminal import clean

        text = super().format(record)
        if record.exc_info:  # a traceback keeps its lines
            return "\n".join(clean(line, oneline=True) for line in text.split("\n"))
        return clean(text, oneline=True)


#: the longest --baseline-quiet: ten years (a workload that must never be promoted is locked: `baseline lock`)
_MAX_QUIET = 10 * 365 * 86400.0


def _baseline_quiet(seconds: float) -> float:
    from containerguard.errors import UsageError

    if not 0 <= seconds <= _MAX_QUIET:  # also NaN, which a range check lets through
        raise UsageError(f"--baseline-quiet {seconds}: expected seconds from 0 to {_MAX_QUIET:.0f} (ten years; "
                         "to never promote a workload, lock it: containerguard baseline lock)")
    return seconds


def _baseline_action(action: str) -> str:
    from containerguard.errors import UsageError

    if action not in ("kill_process", "stop_container", "kill_container", "pause_container"):
        raise UsageError(f"--baseline-action {action!r}: expected kill_process, stop_container, kill_container "
                         "or pause_container")
    return action


def _runtime(name: str) -> str:
    from containerguard.errors import UsageError

    if name not in ("auto", "docker", "containerd"):
        raise UsageError(f"--runtime {name!r}: expected auto, docker or containerd")
    return name


def _resolve_mode(mode: str) -> str:
    from containerguard.errors import UsageError
    from containerguard.runtime.dns import MODES

    if mode not in MODES:
        raise UsageError(f"--resolve-names {mode!r}: expected one of {', '.join(MODES)}")
    return mode


def _layer_index(image: str) -> dict[str, LayerFile]:
    """The executables, links and hard links of ``image``'s merged layers (the scanner's walk, no analyzer; the
    layer cache makes a second read of the same layers cheap)."""
    from containerguard.runtime.imagefiles import LayerFile
    from containerguard.scanner import build_inventory

    out: dict[str, LayerFile] = {}

    def grab(index: Mapping[str, Any], _layers: object) -> list[Any]:
        for path, fi in index.items():
            if fi.kind in ("l", "h") or (fi.kind == "f" and fi.mode & 0o111):
                out[path] = LayerFile(fi.kind, fi.mode, fi.size, fi.link)
        return []

    build_inventory(f"docker:{image}", analyzers=[], index_checks=[grab])
    return out


def agent(
    rules: Annotated[list[Path] | None, typer.Option("--rules", help="Rules file (repeatable); default: the built-in ruleset")] = None,
    output: Annotated[list[str] | None, typer.Option(
        "--output", help="stdout | file:PATH | syslog[:HOST:PORT|:/dev/log] | webhook:URL (repeatable)")] = None,
    record: Annotated[Path | None, typer.Option("--record", help="Record every event as JSON lines (docs/events.md)")] = None,
    record_env: Annotated[bool, typer.Option(
        "--record-env", help="Write environment values (proc.env) to the recording unmasked; by default the values "
        "of secret-looking variables are masked (the secret scanner's rules)")] = False,
    min_priority: Annotated[str | None, typer.Option(
        "--min-priority", help="Run only rules of this priority or a more severe one (Falco's `priority` setting), "
        "e.g. warning; kept across reloads")] = None,
    respond: Annotated[list[str] | None, typer.Option(
        "--respond", help="ACTION:MINPRIORITY, e.g. kill_container:CRITICAL (kill_process, pause_container, "
        "stop_container, kill_container)")] = None,
    respond_host: Annotated[bool, typer.Option(
        "--respond-host", help="Let kill_process act on host processes (outside any container) too; without it a "
        "response to a host event is refused and the refusal is logged with the alert")] = False,
    k8s_audit_listen: Annotated[str | None, typer.Option(
        "--k8s-audit-listen", help="HOST:PORT for the Kubernetes audit webhook (POST /k8s-audit)")] = None,
    k8s_audit_token: Annotated[str | None, typer.Option(
        "--k8s-audit-token", help="Bearer token the audit webhook requires (the token of the webhook kubeconfig's "
        "user; env CONTAINERGUARD_K8S_AUDIT_TOKEN)")] = None,
    health_port: Annotated[str | None, typer.Option(
        "--health-port", help="PORT or HOST:PORT serving GET /healthz (JSON counters) on 127.0.0.1")] = None,
    resolve_names: Annotated[str, typer.Option(
        "--resolve-names", help="How the domain names rules compare fd.sip.name/fd.cip.name with are resolved: dns "
        "(the system resolver, as Falco), hosts (/etc/hosts and the containers' --add-host entries only, no DNS "
        "query) or off (rules needing them are disabled)")] = "dns",
    runtime: Annotated[str, typer.Option(
        "--runtime", help="Where container metadata comes from: docker, containerd (its API, as on Kubernetes nodes "
        "without Docker) or auto (Docker if its socket exists, else containerd)")] = "auto",
    containerd_socket: Annotated[str, typer.Option(
        "--containerd-socket", help="containerd's API socket")] = "/run/containerd/containerd.sock",
    containerd_namespace: Annotated[str, typer.Option(
        "--containerd-namespace", help="containerd namespace of the containers (Kubernetes' CRI plugin: k8s.io)")] = "k8s.io",
    containers_only: Annotated[bool, typer.Option(
        "--containers-only", help="Trace only processes in containers (host events dropped in the kernel)")] = False,
    no_sensor: Annotated[bool, typer.Option("--no-sensor", help="Run without the eBPF sensor (audit events only)")] = False,
    nice: Annotated[int, typer.Option(
        "--nice", help="Scheduling priority of the agent and its sensor (-20..19; negative runs ahead of the workload)",
        min=-20, max=19)] = -5,
    source: Annotated[list[str] | None, typer.Option(
        "--source", help="Audit-log source KIND:LOCATION (repeatable): cloudtrail:DIR|FILE|s3://BUCKET/PREFIX|sqs:QUEUE, "
        "gcp:DIR|FILE, azure:DIR|FILE, k8s_audit:DIR|FILE. AWS credentials: the standard chain.")] = None,
    source_interval: Annotated[float, typer.Option(
        "--source-interval", help="Seconds between polls of directory and S3 sources")] = 10.0,
    source_state: Annotated[Path | None, typer.Option(
        "--source-state", help="Directory where S3 sources remember what they read (default: the user state dir)")] = None,
    source_workers: Annotated[int | None, typer.Option(
        "--source-workers", min=1, help="Processes that read and evaluate the files of directory sources when several "
        "changed at once (default: the number of cores; 1: in the agent's process)")] = None,
    stats_interval: Annotated[float, typer.Option("--stats-interval", help="Seconds between stats log lines")] = 60.0,
    policy: Annotated[list[Path] | None, typer.Option(
        "--policy", help="Policy file or directory (repeatable, with the default set): runtime-stage policies over "
        "each alert; their kill_process/pause/stop/kill_container actions run as responses")] = None,
    baseline: Annotated[bool, typer.Option(
        "--baseline", help="Learn each workload's behaviour and alert on deviations (docs/baselines.md)")] = False,
    baseline_dir: Annotated[Path | None, typer.Option(
        "--baseline-dir", help="Where baselines are kept (SQLite; default: the user's data directory)")] = None,
    baseline_quiet: Annotated[float, typer.Option(
        "--baseline-quiet", help="Seconds without new behaviour after which a learning workload starts monitoring",
        min=0.0)] = 3600.0,
    baseline_action: Annotated[str, typer.Option(
        "--baseline-action", help="Response to a deviation in protect mode: kill_process or stop_container")] = "kill_process",
    image_layers: Annotated[bool | None, typer.Option(
        "--image-layers/--no-image-layers", help="Zero-drift from the images' layers: read each running image's "
        "layers once (through the scanner and its layer cache) so an executable is the image's only if the layers "
        "hold it with that size and mode (proc.exe_drift); default: on with --baseline")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging on stderr")] = False,
    server: Annotated[str | None, typer.Option(
        "--server", help="Central server URL: report containers and alerts to it (env CONTAINERGUARD_SERVER)")] = None,
    token: Annotated[str | None, typer.Option("--token", help="Agent token for --server (env CONTAINERGUARD_TOKEN)")] = None,
    spool_dir: Annotated[Path | None, typer.Option(
        "--spool-dir", help="Where batches wait while the server is unreachable (default: the user's data dir)")] = None,
    spool_max_mb: Annotated[float, typer.Option(
        "--spool-max-mb", min=0.01, help="The most the spool may hold on disk while the server is unreachable, in MiB "
        "(the oldest batches are dropped first, counted and reported)")] = 256.0,
    policy_from_server: FromServerOpt = False,
    policy_refresh: RefreshOpt = 60.0,
) -> None:
    """Run the runtime agent until interrupted. SIGHUP reloads the rules (the last good ruleset stays on error)."""
    import socket

    from containerguard.runtime.agent import Agent, AgentConfig
    from containerguard.runtime.cloud.reader import default_workers

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # log lines name containers, workloads and executables
        if getattr(handler, "stream", None) is sys.stderr:
            handler.setFormatter(_CleanFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    server = server or os.environ.get("CONTAINERGUARD_SERVER") or None
    token = token or os.environ.get("CONTAINERGUARD_TOKEN", "")
    host = socket.gethostname()
    alert_policies, fetcher = _alert_policies(policy, server=server, token=token, spool_dir=spool_dir,
                                              from_server=policy_from_server, refresh=policy_refresh, host=host)
    from containerguard.cli._options import priority
    cfg = AgentConfig(rules=[str(p) for p in rules or []], min_priority=priority(min_priority, "--min-priority"),
                      outputs=list(output or ["stdout"]),
                      record=str(record) if record else None, record_env=record_env, resolve_names=_resolve_mode(resolve_names), runtime=_runtime(runtime),
                      containerd_socket=containerd_socket, containerd_namespace=containerd_namespace, respond=list(respond or []),
                      respond_host=respond_host,
                      k8s_audit_listen=k8s_audit_listen, health_listen=health_port,
                      k8s_audit_token=k8s_audit_token or os.environ.get("CONTAINERGUARD_K8S_AUDIT_TOKEN", ""),
                      containers_only=containers_only, sensor=not no_sensor, stats_interval=stats_interval,
                      nice=nice, sources=list(source or []), source_interval=source_interval,
                      source_state_dir=str(source_state) if source_state else None,
                      source_workers=source_workers or default_workers(),
                      server=server, server_token=token, hostname=host,
                      spool_dir=str(spool_dir) if spool_dir else None, spool_max_bytes=int(spool_max_mb * (1 << 20)),
                      alert_policies=alert_policies, baseline=baseline or baseline_dir is not None,
                      baseline_dir=str(baseline_dir) if baseline_dir else None, baseline_quiet=_baseline_quiet(baseline_quiet),
                      baseline_action=_baseline_action(baseline_action),
                      image_files=_layer_index if (image_layers if image_layers is not None
                                                   else baseline or baseline_dir is not None) else None)
    ag = Agent(cfg)
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    def _hup(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=ag.reload_rules, name="cg-reload", daemon=True).start()
        if alert_policies is not None and hasattr(alert_policies.policies, "reload"):
            threading.Thread(target=alert_policies.policies.reload, name="cg-policy-reload", daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGHUP, _hup)
    ag.start()
    print(f"agent running: {len(ag.rules.enabled_rules)} rules enabled; sensor "
          f"{'pid ' + str(ag.sensor.pid) if ag.sensor else 'off'}; sources {len(ag.sources)}", file=sys.stderr, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        ag.stop()
        if fetcher is not None:
            fetcher.close()
        if alert_policies is not None and alert_policies.reporter is not None:
            alert_policies.reporter.close()
