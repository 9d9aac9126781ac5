"""The container table on nodes that run containerd without Docker (Kubernetes through containerd's CRI plugin).

Containers come from containerd's own API on its socket (``/run/containerd/containerd.sock``, namespace ``k8s.io``
where the CRI plugin keeps Kubernetes' containers): the Containers service gives each container's labels (kubelet's
``io.kubernetes.pod.name``, ``io.kubernetes.pod.namespace``, ``io.kubernetes.pod.uid``,
``io.kubernetes.container.name``), image and OCI spec; the Tasks service gives its init pid, from which the mount
namespace that attributes events is read, as for Docker. A pod's labels are those of its sandbox container
(``io.cri-containerd.kind=sandbox``, the same pod uid).

Client: ``grpcio`` (the reference gRPC implementation, maintained by the gRPC project) with the few messages the agent
reads declared in ``containerd_api/*.proto`` (wire-compatible subsets of containerd's API) and compiled when first
used (``grpc.protos_and_services``, from grpcio-tools). The PyPI ``containerd`` package was the alternative: its
generated code dates from 2021 and does not load under protobuf 4 or later, and no maintained successor exists.

The table is kept current by polling the task list (every ``poll`` seconds) and by looking up, on first sight, a
container an event comes from (``/proc/PID/cgroup`` names it), so a short-lived container is attributed as soon as
its first process runs.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from containerguard.errors import RuntimeSensorError
from containerguard.runtime.containers import (
    K8S_POD_NAME,
    K8S_POD_UID,
    ContainerInfo,
    ContainerTable,
    ns_inode,
    user_pod_labels,
)

log = logging.getLogger(__name__)

DEFAULT_SOCKET = "/run/containerd/containerd.sock"
DEFAULT_NAMESPACE = "k8s.io"
CRI_KIND = "io.cri-containerd.kind"  # "sandbox" on a pod's pause container, "container" on the others
K8S_CONTAINER_NAME = "io.kubernetes.container.name"
SANDBOX_ANNOTATIONS = ("io.kubernetes.cri.sandbox-id", "io.kubernetes.cri-o.SandboxID")
_RUNNING = 2


def _protos() -> tuple[Any, Any, Any, Any]:
    import grpc

    cpb, csvc = grpc.protos_and_services("containerguard/runtime/containerd_api/containers.proto")
    tpb, tsvc = grpc.protos_and_services("containerguard/runtime/containerd_api/tasks.proto")
    return cpb, csvc, tpb, tsvc


def info_from_containerd(c: Any, pid: int, runtime: str = "containerd") -> ContainerInfo:
    """A :class:`ContainerInfo` from a containerd Container message and its task's pid."""
    labels = dict(c.labels)
    spec: Mapping[str, Any] = {}
    if c.spec.value:
        try:
            loaded = json.loads(c.spec.value)
            spec = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            spec = {}
    mounts = tuple({"Type": m.get("type", ""), "Source": m.get("source", ""), "Destination": m.get("destination", ""),
                    "Mode": ",".join(m.get("options") or ()), "RW": "ro" not in (m.get("options") or ())}
                   for m in spec.get("mounts") or () if isinstance(m, dict))
    user = (spec.get("process") or {}).get("user") or {}
    started = c.created_at.seconds * 1_000_000_000 + c.created_at.nanos if c.created_at.seconds else 0
    pid_mode, ipc_mode = _host_namespaces(spec)
    return ContainerInfo(
        id=c.id, name=labels.get(K8S_CONTAINER_NAME) or c.id[:12], image=c.image, labels=labels, mounts=mounts,
        user=f"{user.get('uid', '')}" if user else "", pid=pid, mntns=ns_inode(pid) if pid else 0,
        state="running" if pid else "created", started_ns=started, runtime=runtime, pid_mode=pid_mode,
        ipc_mode=ipc_mode, read_only=bool((spec.get("root") or {}).get("readonly")) if isinstance(spec.get("root"), dict) else False)


def _host_namespaces(spec: Mapping[str, Any]) -> tuple[str, str]:
    """(pid mode, ipc mode) from an OCI runtime spec: "host" when the spec creates no such namespace (the
    container shares the host's), "" when it does or the spec is unknown."""
    linux = spec.get("linux") if isinstance(spec.get("linux"), dict) else None
    if not linux or not isinstance(linux.get("namespaces"), list):
        return "", ""
    own = {str(n.get("type")) for n in linux["namespaces"] if isinstance(n, dict) and not n.get("path")}
    return ("" if "pid" in own else "host"), ("" if "ipc" in own else "host")


class ContainerdTable(ContainerTable):
    """Running containers of one containerd namespace (same lookups as the Docker table)."""

    def __init__(self, socket: str = DEFAULT_SOCKET, namespace: str = DEFAULT_NAMESPACE, *,
                 on_change: Callable[[str, ContainerInfo], None] | None = None, poll: float = 2.0) -> None:
        import grpc

        self.socket = socket
        self.namespace = namespace
        self.poll = poll
        self.on_change = on_change
        self.max_backoff = 5.0
        self._by_id: dict[str, ContainerInfo] = {}
        self._by_mntns: dict[int, str] = {}
        self._neg: dict[int, float] = {}
        self._digests: dict[str, str] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._events_resp = None
        self.reconnects = 0
        self.connected = False
        self.host_mntns = ns_inode(os.getpid())
        try:
            self._cpb, csvc, self._tpb, tsvc = _protos()
        except Exception as exc:  # grpcio-tools missing or the protos unreadable
            raise RuntimeSensorError(f"cannot load the containerd API client: {exc}") from exc
        self._channel = grpc.insecure_channel(f"unix://{socket}")
        self._containers = csvc.ContainersStub(self._channel)
        self._tasks = tsvc.TasksStub(self._channel)
        self._md = (("containerd-namespace", namespace),)

    # ------------------------------------------------------------------ containerd calls

    def _container(self, cid: str) -> Any | None:
        import grpc

        try:
            return self._containers.Get(self._cpb.GetContainerRequest(id=cid), metadata=self._md, timeout=5).container
        except grpc.RpcError as exc:
            log.debug("containerd: container %s: %s", cid, exc)
            return None

    def _pid(self, cid: str) -> int:
        import grpc

        try:
            p = self._tasks.Get(self._tpb.GetRequest(container_id=cid), metadata=self._md, timeout=5).process
        except grpc.RpcError:
            return 0
        return int(p.pid) if p.status == _RUNNING else 0

    def _inspect(self, cid: str) -> ContainerInfo | None:
        c = self._container(cid)
        if c is None:
            return None
        info = info_from_containerd(c, self._pid(cid))
        if info.labels.get(K8S_POD_NAME):
            info = dataclasses.replace(info, pod_labels=self._sandbox_labels(info, c))
        return info

    def _sandbox_labels(self, info: ContainerInfo, c: Any) -> dict[str, str]:
        """A pod's labels: those of its sandbox (pause) container, found by the sandbox id the CRI plugin records
        or by the pod uid."""
        import grpc

        if info.labels.get(CRI_KIND) == "sandbox":
            return user_pod_labels(info.labels)
        sandbox_id = c.sandbox
        if not sandbox_id and c.spec.value:
            try:
                ann = (json.loads(c.spec.value).get("annotations") or {})
            except (ValueError, AttributeError):
                ann = {}
            sandbox_id = next((ann[k] for k in SANDBOX_ANNOTATIONS if ann.get(k)), "")
        if sandbox_id:
            sb = self._container(sandbox_id)
            if sb is not None:
                return user_pod_labels(dict(sb.labels))
        uid = info.labels.get(K8S_POD_UID)
        if not uid:
            return {}
        flt = f'labels."{K8S_POD_UID}"=={uid},labels."{CRI_KIND}"==sandbox'
        try:
            found = self._containers.List(self._cpb.ListContainersRequest(filters=[flt]), metadata=self._md,
                                          timeout=5).containers
        except grpc.RpcError:
            return {}
        return user_pod_labels(dict(found[0].labels)) if found else {}

    # ------------------------------------------------------------------ sync

    def resync(self) -> None:
        """Reload every container with a running task (raises grpc.RpcError when containerd does not answer)."""
        tasks = self._tasks.List(self._tpb.ListTasksRequest(), metadata=self._md, timeout=5).tasks
        running = {t.container_id for t in tasks if t.status == _RUNNING}
        fresh: dict[str, ContainerInfo] = {}
        for cid in running:
            known = self._by_id.get(cid)
            info = known if known is not None and known.pid else self._inspect(cid)
            if info is not None:
                fresh[cid] = info
        started = [i for cid, i in fresh.items() if cid not in self._by_id]
        gone = []
        with self._lock:
            for cid in list(self._by_id):
                if cid not in fresh:
                    info = self._forget(cid)
                    if info is not None:
                        gone.append(info)
            for info in fresh.values():
                self._store(info)
        if self.on_change is not None:
            for info in started:
                self.on_change("start", info)
            for info in gone:
                self.on_change("die", info)

    def start(self) -> None:
        """First sync, then poll on a thread; an unreachable containerd is retried in the background."""
        try:
            self.resync()
            self.connected = True
        except Exception as exc:
            log.warning("containerd at %s not reachable (%s); retrying in the background", self.socket, exc)
        self._thread = threading.Thread(target=self._watch, name="cg-containerd", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        backoff = self.poll
        while not self._stop.wait(backoff):
            try:
                self.resync()
                if not self.connected:
                    self.reconnects += 1
                    log.info("containerd reconnected; %d containers running", len(self._by_id))
                self.connected = True
                backoff = self.poll
            except Exception as exc:
                if self.connected:
                    log.warning("containerd at %s lost (%s)", self.socket, exc)
                self.connected = False
                backoff = min(backoff * 2, self.max_backoff)

    def stop(self) -> None:
        """Stop polling and close the channel."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._channel.close()

    @property
    def api(self) -> Any:
        """No Docker Engine API: container responses (pause, stop, kill) are not available through containerd."""
        return None

