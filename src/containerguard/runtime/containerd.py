"""The container table on nodes that run containerd without Docker (Kubernetes through containerd's CRI plugin).

Containers come from containerd's own API on its socket (``/run/containerd/containerd.sock``, namespace ``k8s.io``
where the CRI plugin keeps Kubernetes' containers):

- the Containers service gives each container's labels (kubelet's ``io.kubernetes.pod.name``,
  ``io.kubernetes.pod.namespace``, ``io.kubernetes.pod.uid``, ``io.kubernetes.container.name``), image, OCI spec and
  snapshot; a pod's labels are those of its sandbox container (``io.cri-containerd.kind=sandbox``, the same pod uid);
- the Images and Content services give the image's digest (the image record's target: the repo digest) and its id
  (the config digest of the manifest for this host's platform);
- the Snapshots service gives the mounts of the container's active snapshot, whose ``upperdir`` is its writable
  layer (``proc.is_exe_upper_layer``, drift);
- the OCI spec gives ``privileged`` (every capability of the host in the bounding set, and no seccomp filter or every
  device allowed: what ``ctr run --privileged`` and the CRI plugin's privileged mode produce), the capabilities added
  to or dropped from containerd's default set, the user, mounts and shared host namespaces;
- the Tasks service gives the init pid, from which the mount namespace that attributes events is read, as for Docker,
  and carries the responses (pause; stop = SIGTERM, then SIGKILL after a grace; kill = SIGKILL): :class:`TaskControl`.

The table is kept current by the Events service's stream (``Subscribe``, filtered to this namespace and the task and
container topics): a container is known, with its metadata, from its ``/tasks/start`` event (its metadata read at
``/containers/create`` already), gone at its init's ``/tasks/exit``. When the stream breaks (containerd restarts) the
watcher reconnects with backoff, then lists the running tasks once (and once more a second later, covering the moment
between the list and the subscription taking effect), so no start or exit is missed. A container an event comes
from before its start event was handled is looked up on first sight (``/proc/PID/cgroup`` names it).

Client: ``grpcio`` (the reference gRPC implementation, maintained by the gRPC project) with the few messages the agent
reads declared in ``containerd_api/*.proto`` (wire-compatible subsets of containerd's API) and compiled when first
used (``grpc.protos_and_services``, from grpcio-tools). The PyPI ``containerd`` package was the alternative: its
generated code dates from 2021 and does not load under protobuf 4 or later, and no maintained successor exists.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import platform
import signal
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from containerguard.errors import RuntimeSensorError
from containerguard.runtime.containers import (
    K8S_POD_NAME,
    K8S_POD_UID,
    ContainerInfo,
    ContainerTable,
    container_id_of_pid,
    host_mount_ns,
    ns_inode,
    own_container_ids,
    user_pod_labels,
)
from containerguard.runtime.imagefiles import IndexProvider, LayerFile, index_of_layer_dirs
from containerguard.runtime.process import load_proc
from containerguard.runtime.sensor.fields import CAPABILITIES

log = logging.getLogger(__name__)

DEFAULT_SOCKET = "/run/containerd/containerd.sock"
DEFAULT_NAMESPACE = "k8s.io"
CRI_KIND = "io.cri-containerd.kind"  # "sandbox" on a pod's pause container, "container" on the others
K8S_CONTAINER_NAME = "io.kubernetes.container.name"
SANDBOX_ANNOTATIONS = ("io.kubernetes.cri.sandbox-id", "io.kubernetes.cri-o.SandboxID")
_RUNNING, _PAUSED = 2, 4
#: the event topics the table follows
TOPICS = ("/tasks/start", "/tasks/exit", "/tasks/delete", "/tasks/paused", "/tasks/resumed",
          "/containers/create", "/containers/update", "/containers/delete")
_MAX_BLOB = 4 << 20  # an image manifest or index larger than this is not read

#: containerd's default capability set (oci.WithDefaultSpec; the CRI plugin's and Docker's are the same 14)
DEFAULT_CAPABILITIES = frozenset((
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE"))


def _protos() -> dict[str, tuple[Any, Any]]:
    import grpc

    return {name: grpc.protos_and_services(f"containerguard/runtime/containerd_api/{name}.proto")
            for name in ("containers", "tasks", "events", "images", "content", "snapshots")}


def host_capabilities(status: str = "/proc/self/status") -> frozenset[str]:
    """The capabilities a privileged container gets on this host: those of the agent's own bounding set (root's;
    ``--privileged`` grants the runtime's current set, which a node running in a restricted sandbox may narrow)."""
    try:
        with open(status) as fh:
            mask = next(int(line.split()[1], 16) for line in fh if line.startswith("CapBnd:"))
    except (OSError, ValueError, StopIteration, IndexError):
        mask = (1 << len(CAPABILITIES)) - 1
    return frozenset(name for bit, name in enumerate(CAPABILITIES) if mask >> bit & 1)


def spec_privileges(spec: Mapping[str, Any], host_caps: frozenset[str]) -> tuple[bool, tuple[str, ...], tuple[str, ...]]:
    """(privileged, capabilities added, capabilities dropped) from an OCI runtime spec.

    Privileged: the bounding set holds every capability of the host (``host_caps``) and the container is not confined either by a
    seccomp filter or by the device cgroup (every device allowed). ``ctr run --privileged`` and the CRI plugin's
    ``privileged: true`` give all three; a spec with every capability but still filtered and fenced is not counted.
    Added and dropped capabilities are relative to containerd's default set (none listed for a privileged container,
    as Docker lists none for ``--privileged``).
    """
    process, linux = _obj(spec.get("process")), _obj(spec.get("linux"))
    caps = _obj(process.get("capabilities"))
    bounding = frozenset(str(c) for c in caps.get("bounding") or () if isinstance(c, str))
    all_devices = any(isinstance(d, dict) and d.get("allow") is True and d.get("type", "a") in ("a", None)
                      and d.get("major") is None and d.get("minor") is None and set(str(d.get("access") or "")) ==
                      {"r", "w", "m"} for d in _obj(linux.get("resources")).get("devices") or ())
    privileged = bool(host_caps) and host_caps <= bounding and (not linux.get("seccomp") or all_devices)
    if privileged or not caps:
        return privileged, (), ()
    return False, tuple(sorted(bounding - DEFAULT_CAPABILITIES)), tuple(sorted(DEFAULT_CAPABILITIES - bounding))


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def upper_dir_of(mounts: Iterable[Any], snapshotter: str) -> str:
    """The writable layer of an active snapshot from its mounts: overlay's ``upperdir``; for the overlayfs
    snapshotter's single-layer snapshot (a bind mount, no image layer below) the bound directory. Unknown ("") for
    other snapshotters (native, devmapper, ...): their mount is the whole root filesystem, not a layer."""
    for m in mounts:
        if m.type == "overlay":
            for opt in m.options:
                if opt.startswith("upperdir="):
                    return str(opt[len("upperdir="):])
        elif m.type == "bind" and snapshotter == "overlayfs" and "rw" in m.options:
            return str(m.source)
    return ""


def lower_dirs_of(mounts: Iterable[Any]) -> tuple[str, ...]:
    """The image layers under an overlay snapshot, top first (its ``lowerdir`` option); () for any other mount."""
    for m in mounts:
        if m.type == "overlay":
            for opt in m.options:
                if opt.startswith("lowerdir="):
                    return tuple(d for d in opt[len("lowerdir="):].split(":") if d)
    return ()


def info_from_containerd(c: Any, pid: int, runtime: str = "containerd",
                         host_caps: frozenset[str] | None = None) -> ContainerInfo:
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
    privileged, cap_add, cap_drop = spec_privileges(spec, host_caps if host_caps is not None else host_capabilities())
    return ContainerInfo(
        id=c.id, name=labels.get(K8S_CONTAINER_NAME) or c.id[:12], image=c.image, labels=labels, mounts=mounts,
        user=f"{user.get('uid', '')}" if user else "", pid=pid, mntns=ns_inode(pid) if pid else 0,
        state="running" if pid else "created", started_ns=started, runtime=runtime, pid_mode=pid_mode,
        ipc_mode=ipc_mode, privileged=privileged, cap_add=cap_add, cap_drop=cap_drop,
        read_only=bool((spec.get("root") or {}).get("readonly")) if isinstance(spec.get("root"), dict) else False)


def _host_namespaces(spec: Mapping[str, Any]) -> tuple[str, str]:
    """(pid mode, ipc mode) from an OCI runtime spec: "host" when the spec creates no such namespace (the
    container shares the host's), "" when it does or the spec is unknown."""
    linux = spec.get("linux") if isinstance(spec.get("linux"), dict) else None
    if not linux or not isinstance(linux.get("namespaces"), list):
        return "", ""
    own = {str(n.get("type")) for n in linux["namespaces"] if isinstance(n, dict) and not n.get("path")}
    return ("" if "pid" in own else "host"), ("" if "ipc" in own else "host")


def containerd_cgroup_id(cgroup: str, namespace: str) -> str | None:
    """The container id in containerd's own cgroup layout (``/<namespace>/<id>``, as ``ctr`` and containerd's
    default runc options create it), whatever the id looks like; None for any other layout (the CRI plugin's
    systemd ``cri-containerd-<id>.scope`` and Docker's have 64-hex ids, found by ``container_id_of_pid``)."""
    prefix = f"/{namespace}/"
    for line in cgroup.splitlines():
        path = line.split(":", 2)[-1]
        if path.startswith(prefix) and "/" not in path[len(prefix):] and path[len(prefix):]:
            return path[len(prefix):]
    return None


def _host_platform() -> tuple[str, str]:
    machine = platform.machine().lower()
    return "linux", {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
                     "s390x": "s390x"}.get(machine, machine)


def _grpc_reason(exc: Exception) -> str:
    details = getattr(exc, "details", None)
    text = details() if callable(details) else str(exc)
    return (str(text or type(exc).__name__).splitlines() or [""])[0]


class TaskControl:
    """Container responses through containerd's Tasks service, with the Docker API's names and arguments (the
    responder calls ``pause``, ``stop(cid, timeout=)``, ``kill`` on either)."""

    def __init__(self, tasks: Any, tpb: Any, metadata: tuple[tuple[str, str], ...]) -> None:
        self._tasks = tasks
        self._tpb = tpb
        self._md = metadata

    def _call(self, what: str, cid: str, fn: Callable[[], Any]) -> Any:
        import grpc

        try:
            return fn()
        except grpc.RpcError as exc:
            raise RuntimeSensorError(f"containerd {what} {cid[:12]}: {_grpc_reason(exc)}") from exc

    def pause(self, cid: str) -> None:
        """Freeze every process of the container (its cgroup's freezer)."""
        self._call("pause", cid, lambda: self._tasks.Pause(self._tpb.PauseTaskRequest(container_id=cid),
                                                           metadata=self._md, timeout=10))

    def kill(self, cid: str, sig: int = signal.SIGKILL) -> None:
        """Signal every process of the container (``all``: also those sharing the host's pid namespace)."""
        self._call("kill", cid, lambda: self._tasks.Kill(
            self._tpb.KillRequest(container_id=cid, signal=int(sig), all=sig == signal.SIGKILL),
            metadata=self._md, timeout=10))

    def stop(self, cid: str, timeout: float = 10) -> None:
        """SIGTERM to the container's init, SIGKILL to all its processes when it has not exited after ``timeout``
        seconds (as ``docker stop``); returns once the task has exited."""
        import grpc

        def exited(wait: float) -> bool:
            # our own timeout over the call, not a gRPC deadline: containerd reports an expired deadline as UNKNOWN
            call = self._tasks.Wait.future(self._tpb.WaitRequest(container_id=cid), metadata=self._md)
            try:
                call.result(timeout=wait)
            except grpc.FutureTimeoutError:
                call.cancel()
                return False
            except grpc.RpcError as exc:
                raise RuntimeSensorError(f"containerd stop {cid[:12]}: {_grpc_reason(exc)}") from exc
            return True

        self.kill(cid, signal.SIGTERM)
        if not exited(max(float(timeout), 0.1)):
            self.kill(cid, signal.SIGKILL)
            if not exited(10):
                raise RuntimeSensorError(f"containerd stop {cid[:12]}: still running 10 s after SIGKILL")


class ContainerdTable(ContainerTable):
    """Running containers of one containerd namespace (same lookups as the Docker table)."""

    def __init__(self, socket: str = DEFAULT_SOCKET, namespace: str = DEFAULT_NAMESPACE, *,
                 on_change: Callable[[str, ContainerInfo], None] | None = None, max_backoff: float = 5.0) -> None:
        import grpc

        self.socket = socket
        self.namespace = namespace
        self.on_change = on_change
        self.max_backoff = max_backoff
        self._by_id: dict[str, ContainerInfo] = {}
        self._by_mntns: dict[int, str] = {}
        self._neg: dict[int, float] = {}
        self._dead: dict[int, tuple[ContainerInfo, float]] = {}
        self._digests: dict[tuple[str, str], tuple[str, dict[str, str]]] = {}
        self._images: dict[tuple[str, str], tuple[str, str]] = {}  # (name, target digest) -> (digest, image id)
        self._meta: dict[str, ContainerInfo] = {}  # created containers' metadata (no pid yet), by id
        self._lowers: dict[str, tuple[str, ...]] = {}  # image (id) -> its unpacked layers, top first
        self._lock = threading.RLock()
        self._sync = threading.Lock()  # the event thread and the list after reconnecting change the table in turn
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._events_resp: Any = None
        self.reconnects = 0
        self.connected = False
        self.events = 0  # events received from containerd's stream
        self.host_mntns = host_mount_ns()
        self.own_ids = own_container_ids()
        self.own_mntns = ns_inode(os.getpid())
        self._host_caps = host_capabilities()
        try:
            p = _protos()
        except Exception as exc:  # grpcio-tools missing or the protos unreadable
            raise RuntimeSensorError(f"cannot load the containerd API client: {exc}") from exc
        self._cpb, self._tpb, self._epb = p["containers"][0], p["tasks"][0], p["events"][0]
        self._ipb, self._ctpb, self._spb = p["images"][0], p["content"][0], p["snapshots"][0]
        # the channel's own reconnect backoff (grpc's default grows to 120 s) kept within the watcher's
        self._channel = grpc.insecure_channel(f"unix://{socket}", options=[
            ("grpc.initial_reconnect_backoff_ms", 250), ("grpc.min_reconnect_backoff_ms", 250),
            ("grpc.max_reconnect_backoff_ms", int(max_backoff * 1000))])
        self._containers = p["containers"][1].ContainersStub(self._channel)
        self._tasks = p["tasks"][1].TasksStub(self._channel)
        self._events = p["events"][1].EventsStub(self._channel)
        self._imgs = p["images"][1].ImagesStub(self._channel)
        self._content = p["content"][1].ContentStub(self._channel)
        self._snapshots = p["snapshots"][1].SnapshotsStub(self._channel)
        self._md = (("containerd-namespace", namespace),)
        self._control = TaskControl(self._tasks, self._tpb, self._md)

    # ------------------------------------------------------------------ containerd calls

    def _container(self, cid: str) -> Any | None:
        import grpc

        try:
            return self._containers.Get(self._cpb.GetContainerRequest(id=cid), metadata=self._md, timeout=5).container
        except grpc.RpcError as exc:
            log.debug("containerd: container %s: %s", cid, exc)
            return None

    def _task(self, cid: str) -> tuple[int, int]:
        """(pid, status) of the container's task; (0, 0) when it has none."""
        import grpc

        try:
            p = self._tasks.Get(self._tpb.GetRequest(container_id=cid), metadata=self._md, timeout=5).process
        except grpc.RpcError:
            return 0, 0
        return int(p.pid), int(p.status)

    def _blob(self, digest: str) -> dict[str, Any]:
        """A small JSON blob of the content store (a manifest or an index); {} when unreadable."""
        import grpc

        data = bytearray()
        try:
            for chunk in self._content.Read(self._ctpb.ReadContentRequest(digest=digest), metadata=self._md,
                                            timeout=10):
                data += chunk.data
                if len(data) > _MAX_BLOB:
                    return {}
            doc = json.loads(bytes(data))
        except (grpc.RpcError, ValueError) as exc:
            log.debug("containerd: blob %s: %s", digest, exc)
            return {}
        return doc if isinstance(doc, dict) else {}

    def _image(self, name: str) -> tuple[str, str]:
        """(digest, image id) of an image record: its target is the digest a registry serves it by; the id is
        the config digest of the manifest for this host's platform (the target itself or chosen from its index)."""
        import grpc

        if not name:
            return "", ""
        try:
            target = self._imgs.Get(self._ipb.GetImageRequest(name=name), metadata=self._md, timeout=5).image.target
        except grpc.RpcError as exc:
            log.debug("containerd: image %s: %s", name, exc)
            return "", ""
        key = (name, target.digest)
        known = self._images.get(key)
        if known is not None:
            return known
        digest, manifest = target.digest, self._blob(target.digest)
        if isinstance(manifest.get("manifests"), list):  # an index: the manifest for this host's platform
            os_, arch = _host_platform()
            entries = [_obj(m) for m in manifest["manifests"]]
            chosen = next((m for m in entries if _obj(m.get("platform")).get("os") == os_
                           and _obj(m.get("platform")).get("architecture") == arch), None)
            if chosen is None and len(entries) == 1:
                chosen = entries[0]
            manifest = self._blob(str(chosen.get("digest"))) if chosen else {}
        config = _obj(manifest.get("config"))
        result = (digest, str(config.get("digest") or ""))
        if len(self._images) > 512:
            self._images.clear()
        self._images[key] = result
        return result

    def _snapshot(self, c: Any) -> tuple[str, tuple[str, ...]]:
        """(writable layer, image layers top first) of the container's active snapshot."""
        import grpc

        if not c.snapshot_key:
            return "", ()
        try:
            mounts = self._snapshots.Mounts(self._spb.MountsRequest(snapshotter=c.snapshotter, key=c.snapshot_key),
                                            metadata=self._md, timeout=5).mounts
        except grpc.RpcError as exc:
            log.debug("containerd: snapshot %s: %s", c.snapshot_key, exc)
            return "", ()
        return upper_dir_of(mounts, c.snapshotter), lower_dirs_of(mounts)

    def layer_provider(self) -> IndexProvider:
        """Image layer indexes (zero-drift) read from the unpacked layers under the containers' snapshots."""
        return self.layer_index

    def layer_index(self, image: str) -> dict[str, LayerFile]:
        """The executables and links of ``image`` (its id) merged from its unpacked layers on this node."""
        dirs = self._lowers.get(image)
        if not dirs:
            raise RuntimeSensorError(f"no unpacked layers of {image} known on this node (not an overlayfs snapshot)")
        return index_of_layer_dirs(dirs)

    def _describe(self, cid: str) -> ContainerInfo | None:
        """A container's metadata (no pid): the container record, its image, snapshot and pod."""
        c = self._container(cid)
        if c is None:
            return None
        info = info_from_containerd(c, 0, host_caps=self._host_caps)
        digest, image_id = self._image(c.image)
        upper, lowers = self._snapshot(c)
        info = dataclasses.replace(info, image_digest=f"{info.image_repository}@{digest}" if digest else "",
                                   image_id=image_id, upper_dir=upper)
        if lowers:
            if len(self._lowers) > 1024:
                self._lowers.clear()
            self._lowers[info.image_id or info.image] = lowers
        if info.labels.get(K8S_POD_NAME):
            pod_labels, sandbox_id = self._pod(info, c)
            info = dataclasses.replace(info, pod_labels=pod_labels, sandbox_id=sandbox_id)
        return info

    def _running(self, info: ContainerInfo, pid: int, status: int = _RUNNING, started_ns: int = 0) -> ContainerInfo:
        """The container with its task: pid, mount namespace, state, and ``container.start_ts`` (the start event's
        time, else the init process's start time, else the container's creation time)."""
        if not started_ns and pid:
            proc = load_proc(pid)
            started_ns = proc.start_ns if proc is not None else 0
        return dataclasses.replace(info, pid=pid, mntns=ns_inode(pid) if pid else 0,
                                   state="paused" if status == _PAUSED else "running",
                                   started_ns=started_ns or info.started_ns)

    def _inspect(self, cid: str) -> ContainerInfo | None:
        pid, status = self._task(cid)
        info = self._meta.get(cid) or self._describe(cid)
        if info is None:
            return None
        return self._running(info, pid, status) if pid and status in (_RUNNING, _PAUSED) else info

    def _pod(self, info: ContainerInfo, c: Any) -> tuple[dict[str, str], str]:
        """A pod's labels and sandbox id: the labels are those of its sandbox (pause) container, found by the sandbox
        id containerd or the CRI plugin records, or by the pod uid."""
        import grpc

        if info.labels.get(CRI_KIND) == "sandbox":
            return user_pod_labels(info.labels), c.id
        sandbox_id = c.sandbox
        if not sandbox_id and c.spec.value:
            try:
                ann = _obj(_obj(json.loads(c.spec.value)).get("annotations"))
            except ValueError:
                ann = {}
            sandbox_id = next((str(ann[k]) for k in SANDBOX_ANNOTATIONS if ann.get(k)), "")
        if sandbox_id:
            sb = self._container(sandbox_id)
            if sb is not None:
                return user_pod_labels(dict(sb.labels)), sandbox_id
        uid = info.labels.get(K8S_POD_UID)
        if not uid:
            return {}, sandbox_id
        flt = f'labels."{K8S_POD_UID}"=={json.dumps(uid)},labels."{CRI_KIND}"==sandbox'
        try:
            found = self._containers.List(self._cpb.ListContainersRequest(filters=[flt]), metadata=self._md,
                                          timeout=5).containers
        except grpc.RpcError:
            return {}, sandbox_id
        return (user_pod_labels(dict(found[0].labels)), found[0].id) if found else ({}, sandbox_id)

    def _cgroup_container(self, pid: int) -> str | None:
        try:
            with open(f"/proc/{pid}/cgroup") as fh:
                text = fh.read()
        except OSError:
            return None
        return containerd_cgroup_id(text, self.namespace) or container_id_of_pid(pid)

    # ------------------------------------------------------------------ sync

    def resync(self) -> None:
        """Reload every container with a running (or paused) task (raises grpc.RpcError when containerd does not
        answer): what changed while the event stream was down."""
        with self._sync:  # one list or event at a time: a list taken before an exit must not outlive it
            self._resync()

    def _resync(self) -> None:
        tasks = self._tasks.List(self._tpb.ListTasksRequest(), metadata=self._md, timeout=5).tasks
        # containerd 1.6 fills only the process id (the container's id for its task), later versions both
        live = {t.container_id or t.id: (int(t.pid), int(t.status)) for t in tasks if t.status in (_RUNNING, _PAUSED)}
        fresh: dict[str, ContainerInfo] = {}
        for cid, (pid, status) in live.items():
            known = self._by_id.get(cid)
            if known is not None and known.pid == pid:
                fresh[cid] = dataclasses.replace(known, state="paused" if status == _PAUSED else "running")
                continue
            meta = self._meta.get(cid) or self._describe(cid)
            if meta is not None:
                fresh[cid] = self._running(meta, pid, status)
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

    def _handle(self, envelope: Any) -> None:
        """One event of the stream."""
        topic, payload = envelope.topic, envelope.event.value
        if topic == "/tasks/start":
            ev = self._epb.TaskStart.FromString(payload)
            meta = self._meta.get(ev.container_id) or self._describe(ev.container_id)
            if meta is not None:
                at = envelope.timestamp
                self._changed("start", self._running(meta, int(ev.pid), started_ns=at.seconds * 1_000_000_000 + at.nanos))
        elif topic == "/tasks/exit":
            ex = self._epb.TaskExit.FromString(payload)
            if ex.id in ("", ex.container_id):  # the init process: the container stopped (an exec's exit is not)
                self._gone("die", ex.container_id)
        elif topic in ("/tasks/delete", "/tasks/paused", "/tasks/resumed"):
            cid = self._epb.TaskRef.FromString(payload).container_id
            known = self._by_id.get(cid)
            if topic == "/tasks/delete":
                self._gone("die", cid)
            elif known is not None:
                paused = topic == "/tasks/paused"
                self._changed("pause" if paused else "unpause",
                              dataclasses.replace(known, state="paused" if paused else "running"))
        else:
            cid = self._epb.ContainerRef.FromString(payload).id
            if not cid:
                return
            self._meta.pop(cid, None)
            if topic == "/containers/delete":
                self._gone("destroy", cid)
                return
            meta = self._describe(cid)
            if meta is None:
                return
            if len(self._meta) > 4096:
                self._meta.clear()
            self._meta[cid] = meta
            known = self._by_id.get(cid)
            if known is not None:  # an update of a running container (labels, image)
                self._changed("update", self._running(meta, known.pid, started_ns=known.started_ns))

    def _changed(self, action: str, info: ContainerInfo) -> None:
        self._store(info)
        if self.on_change is not None:
            self.on_change(action, info)

    def _gone(self, action: str, cid: str) -> None:
        info = self._forget(cid)
        if info is not None and self.on_change is not None:
            self.on_change(action, info)

    def start(self) -> None:
        """First sync, then follow containerd's events on a thread; an unreachable containerd is retried in the
        background."""
        try:
            self.resync()
            self.connected = True
        except Exception as exc:
            log.warning("containerd at %s not reachable (%s); retrying in the background", self.socket, exc)
        self._thread = threading.Thread(target=self._watch, name="cg-containerd-events", daemon=True)
        self._thread.start()

    def _subscribe(self) -> Any:
        ns = json.dumps(self.namespace)
        filters = [f"namespace=={ns},topic=={json.dumps(t)}" for t in TOPICS]
        return self._events.Subscribe(self._epb.SubscribeRequest(filters=filters))

    def _settle(self) -> None:
        """The second list after (re)subscribing: a start or exit between the first list and the subscription
        taking effect is caught here (the stream has everything after it)."""
        if self._stop.wait(1.0):
            return
        try:
            self.resync()
        except Exception as exc:
            log.debug("containerd resync after subscribing: %s", exc)

    def _watch(self) -> None:
        backoff = 0.25
        lost = not self.connected
        while not self._stop.is_set():
            try:
                stream = self._subscribe()
                self._events_resp = stream
                self.resync()  # after subscribing: what changed before (or while containerd was away)
                if lost:
                    self.reconnects += 1
                    log.info("containerd reconnected; containers running: %d", len(self._by_id))
                lost = False
                self.connected = True
                backoff = 0.25
                threading.Thread(target=self._settle, name="cg-containerd-settle", daemon=True).start()
                for envelope in stream:
                    self.events += 1
                    try:
                        with self._sync:
                            self._handle(envelope)
                    except Exception:
                        log.exception("handling containerd event %s", envelope.topic)
            except Exception as exc:
                if self._stop.is_set():
                    break
                if self.connected:
                    log.warning("containerd event stream at %s lost (%s); reconnecting", self.socket,
                                _grpc_reason(exc))
            if self.connected:
                lost = True
            self.connected = False
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self.max_backoff)

    def stop(self) -> None:
        """Stop following events and close the channel."""
        self._stop.set()
        stream = self._events_resp
        if stream is not None:
            stream.cancel()
        if self._thread is not None:
            self._thread.join(5)
        self._channel.close()

    @property
    def api(self) -> TaskControl:
        """Container responses (pause, stop, kill) through containerd's Tasks service."""
        return self._control
