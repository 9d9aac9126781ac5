"""The container table: running containers from the Docker Engine API, kept current from its event stream.

Attribution: the sensor reports each event's mount-namespace inode. A running container's mount
namespace is read from ``/proc/<State.Pid>/ns/mnt``; ``docker exec`` processes join it, so one number
maps every process of a container. On this host (cgroup v1, cgroupfs driver) bpftrace's ``cgroup``
builtin (a v2 id) does not identify containers, so an unknown namespace is resolved in user space from
``/proc/<pid>/cgroup`` (``.../docker/<64 hex>``) and cached. Events from any other namespace are
``host``.

The watcher reconnects with backoff when the daemon goes away and resyncs the whole list when it
comes back, so a daemon restart loses no container.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from containerguard.errors import RuntimeSensorError
from containerguard.runtime.dns import parse_extra_hosts
from containerguard.runtime.imagefiles import IndexProvider

log = logging.getLogger(__name__)

_CGROUP_ID = re.compile(r"(?:docker[/-]|cri-containerd-|/)([0-9a-f]{64})(?:\.scope)?$", re.M)
WATCHED_ACTIONS = {"start", "die", "destroy", "exec_create", "exec_start", "pause", "unpause", "rename",
                   "kill", "stop", "restart"}


@dataclass(frozen=True, slots=True)
class ContainerInfo:
    """One container as the agent knows it."""

    id: str  # full 64-hex id
    name: str
    image: str  # the name it was run with (repo:tag)
    image_id: str = ""
    image_digest: str = ""  # repo@sha256:... when the image has a repo digest
    labels: Mapping[str, str] = field(default_factory=dict)
    privileged: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    mounts: tuple[Mapping[str, Any], ...] = ()
    network_mode: str = ""
    user: str = ""
    pid: int = 0
    mntns: int = 0
    state: str = "running"
    upper_dir: str = ""
    started_ns: int = 0  # State.StartedAt, ns since the epoch (0 unknown)
    #: the pod's labels when the pod sandbox is known (kubelet puts them on the sandbox container)
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    #: the pod's sandbox container id when the runtime records it elsewhere than in labels (containerd)
    sandbox_id: str = ""
    #: published ports: {"container": "80/tcp", "host_ip": "0.0.0.0", "host_port": "8080"}
    ports: tuple[Mapping[str, str], ...] = ()
    #: the container's own host entries (docker run --add-host): (lower-cased name, address) pairs (runtime/dns.py)
    extra_hosts: tuple[tuple[str, str], ...] = ()
    #: the container runtime it came from: docker, or containerd (through its API, as on Kubernetes nodes)
    runtime: str = "docker"
    #: namespaces shared with the host or another container (HostConfig.PidMode / IpcMode: "host",
    #: "container:ID", "shareable", "private", ""); and whether the root filesystem is mounted read-only
    pid_mode: str = ""
    ipc_mode: str = ""
    read_only: bool = False

    @property
    def short_id(self) -> str:
        """The 12-character id Docker prints."""
        return self.id[:12]

    @property
    def image_repository(self) -> str:
        """The image repository (without tag or digest)."""
        repo, _, _tag = _split_image(self.image)
        return repo

    @property
    def image_tag(self) -> str:
        """The image tag (``latest`` when none was given, empty for a digest reference)."""
        return _split_image(self.image)[2]

    def fields(self) -> dict[str, Any]:
        """The Falco ``container.*`` fields, and ``k8s.*`` from the labels kubelet sets (cri-dockerd, dockershim)."""
        f: dict[str, Any] = {
            "container.id": self.short_id, "container.full_id": self.id, "container.name": self.name,
            "container.image": self.image, "container.image.repository": self.image_repository,
            "container.image.tag": self.image_tag, "container.image.id": self.image_id,
            "container.image.digest": self.image_digest.rpartition("@")[2],
            "container.privileged": self.privileged, "container.type": self.runtime,
            "container.mounts": [f"{m.get('Source', '')}:{m.get('Destination', '')}" for m in self.mounts],
            "container.mount.dest": [str(m.get("Destination", "")) for m in self.mounts],
            "container.mount.source": [str(m.get("Source", "")) for m in self.mounts],
            "container.labels": dict(self.labels), "container.cap_add": list(self.cap_add),
            "container.cap_drop": list(self.cap_drop), "container.network_mode": self.network_mode,
            "container.user": self.user,
        }
        f["container.start_ts"] = self.started_ns or None
        f.update(k8s_fields(self.labels, self.pod_labels, self.sandbox_id))
        return f


#: labels kubelet (dockershim / cri-dockerd) and containerd's CRI plugin put on a pod's containers
K8S_POD_NAME = "io.kubernetes.pod.name"
K8S_POD_NAMESPACE = "io.kubernetes.pod.namespace"
K8S_POD_UID = "io.kubernetes.pod.uid"
K8S_SANDBOX_ID = "io.kubernetes.sandbox.id"
K8S_CONTAINER_TYPE = "io.kubernetes.docker.type"  # "podsandbox" on the pause container
K8S_PREFIX = "io.kubernetes."  # the labels kubelet sets (and only kubelet should)


def k8s_fields(labels: Mapping[str, str], pod_labels: Mapping[str, str], sandbox_id: str = "") -> dict[str, Any]:
    """Falco's ``k8s.*`` fields of a container from its kubelet labels (empty outside Kubernetes)."""
    name = labels.get(K8S_POD_NAME)
    if not name:  # not a pod's container: the fields are unknown (<NA>), as in Falco
        return dict.fromkeys(("k8s.pod.name", "k8s.ns.name", "k8s.pod.uid", "k8s.pod.labels", "k8s.pod.sandbox_id"))
    return {"k8s.pod.name": name, "k8s.ns.name": labels.get(K8S_POD_NAMESPACE), "k8s.pod.uid": labels.get(K8S_POD_UID),
            "k8s.pod.labels": dict(pod_labels), "k8s.pod.sandbox_id": (labels.get(K8S_SANDBOX_ID) or sandbox_id)[:12] or None}


def user_pod_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """The pod's own labels among a sandbox container's labels (kubelet's io.kubernetes.* and annotations dropped)."""
    return {k: v for k, v in labels.items()
            if not k.startswith(("io.kubernetes.", "annotation.", "io.x-k8s.", "io.cri-containerd.", "io.containerd."))}


def _parse_time_ns(text: str) -> int:
    """Docker's RFC 3339 time with nanoseconds (``2026-12-01T14:20:01.123456789Z``) -> ns since the epoch (0 if none)."""
    if not text or text.startswith("0001-"):
        return 0
    from datetime import datetime

    main, _, frac = text.rstrip("Z").partition(".")
    tz = ""
    for sep in ("+", "-"):
        if sep in frac:
            frac, _, rest = frac.partition(sep)
            tz = sep + rest
    try:
        dt = datetime.fromisoformat(main + (tz or "+00:00"))
    except ValueError:
        return 0
    digits = "".join(c for c in frac if c.isdigit())[:9].ljust(9, "0")
    return int(dt.timestamp()) * 1_000_000_000 + int(digits)


HOST_FIELDS: dict[str, Any] = {"container.id": "host", "container.name": "host", "container.type": "host"}


def _split_image(image: str) -> tuple[str, str, str]:
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], digest, name[colon + 1:]
    return name, digest, "latest" if not digest else ""


def ns_inode(pid: int, ns: str = "mnt", proc: str = "/proc") -> int:
    """The inode of ``/proc/<pid>/ns/<ns>`` (0 when the process is gone)."""
    try:
        return os.stat(f"{proc}/{pid}/ns/{ns}").st_ino
    except OSError:
        return 0


def container_id_of_pid(pid: int, proc: str = "/proc") -> str | None:
    """The 64-hex Docker id from ``/proc/<pid>/cgroup`` (v1 cgroupfs, v2 and systemd layouts)."""
    try:
        with open(f"{proc}/{pid}/cgroup") as fh:
            text = fh.read()
    except OSError:
        return None
    for line in text.splitlines():
        m = _CGROUP_ID.search(line)
        if m:
            return m.group(1)
    return None


#: how long the events of a container that died are still attributed to it (a sensor this far behind drops events)
GONE_KEEP_S = 60.0
_MOUNT_ID = re.compile(r"/containers/([0-9a-f]{64})/(?:hostname|hosts|resolv\.conf)\s")


def own_container_ids(proc: str = "/proc") -> frozenset[str]:
    """The ids of the container this process runs in (empty on the host): from its cgroup (v1, or v2 with the host's
    cgroup namespace) and from the files the runtime bind-mounts into it (``/var/lib/docker/containers/ID/hostname``,
    which a private cgroup namespace does not hide)."""
    out = set()
    cid = container_id_of_pid(os.getpid(), proc)
    if cid:
        out.add(cid)
    try:
        with open(f"{proc}/self/mountinfo", encoding="utf-8", errors="replace") as fh:
            out.update(_MOUNT_ID.findall(fh.read()))
    except OSError:
        pass
    return frozenset(out)


def _ppid(pid: int, proc: str) -> int:
    try:
        with open(f"{proc}/{pid}/stat", encoding="utf-8", errors="replace") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def host_mount_ns(proc: str = "/proc") -> int:
    """The host's mount namespace: init's (pid 1) when this process may read it (on the host, or in a container run
    with the host's pid namespace, as an agent DaemonSet is). When it may not, and this process runs in a container,
    the first ancestor outside the container's mount namespace (the runtime's shim) is on the host. Else this
    process's own."""
    init = ns_inode(1, proc=proc)
    if init:
        return init
    own = ns_inode(os.getpid(), proc=proc)
    if not own_container_ids(proc):
        return own
    pid = os.getppid()
    for _ in range(16):
        if pid <= 1:
            break
        ns = ns_inode(pid, proc=proc)
        if ns and ns != own:
            return ns
        pid = _ppid(pid, proc)
    return own


def info_from_inspect(data: Mapping[str, Any]) -> ContainerInfo:
    """A :class:`ContainerInfo` from ``docker inspect`` JSON (the Engine API's container JSON)."""
    cfg = data.get("Config") or {}
    host = data.get("HostConfig") or {}
    state = data.get("State") or {}
    pid = int(state.get("Pid") or 0)
    graph = (data.get("GraphDriver") or {}).get("Data") or {}
    return ContainerInfo(
        id=str(data.get("Id", "")), name=str(data.get("Name", "")).lstrip("/"),
        image=str(cfg.get("Image") or ""), image_id=str(data.get("Image") or ""),
        labels=dict(cfg.get("Labels") or {}), privileged=bool(host.get("Privileged")),
        cap_add=tuple(host.get("CapAdd") or ()), cap_drop=tuple(host.get("CapDrop") or ()),
        mounts=tuple({k: m.get(k) for k in ("Type", "Source", "Destination", "Mode", "RW")}
                     for m in data.get("Mounts") or ()),
        network_mode=str(host.get("NetworkMode") or ""), user=str(cfg.get("User") or ""), pid=pid,
        mntns=ns_inode(pid) if pid else 0, state=str(state.get("Status") or ""),
        upper_dir=str(graph.get("UpperDir") or ""), started_ns=_parse_time_ns(str(state.get("StartedAt") or "")),
        extra_hosts=parse_extra_hosts(host.get("ExtraHosts") or ()),
        pid_mode=str(host.get("PidMode") or ""), ipc_mode=str(host.get("IpcMode") or ""),
        read_only=bool(host.get("ReadonlyRootfs")),
        ports=tuple({"container": str(cport), "host_ip": str(b.get("HostIp", "")), "host_port": str(b.get("HostPort", ""))}
                    for cport, binds in ((data.get("NetworkSettings") or {}).get("Ports") or {}).items()
                    for b in binds or () if isinstance(b, dict)),
    )


class ContainerTable:
    """Running containers, current from the Engine's events; thread-safe lookups."""

    def __init__(self, docker_host: str | None = None, *, on_change: Callable[[str, ContainerInfo], None] | None = None,
                 max_backoff: float = 5.0) -> None:
        import docker  # the official SDK: honours DOCKER_HOST / DOCKER_TLS_VERIFY like the docker CLI

        kwargs: dict[str, Any] = {"timeout": 10}
        try:
            self._client = self._connect(docker, docker_host, kwargs)
        except docker.errors.DockerException as exc:
            # the Engine is down: a fixed API version skips the version probe, so the client can be made now
            # and the watcher connects when the Engine comes up (1.41 = Docker 20.10; newer engines accept it)
            log.debug("Docker Engine not answering (%s); API version 1.41 assumed", exc)
            try:
                self._client = self._connect(docker, docker_host, {**kwargs, "version": "1.41"})
            except docker.errors.DockerException as exc2:
                raise RuntimeSensorError(f"cannot use the Docker Engine at {docker_host or 'DOCKER_HOST'}: {exc2}") from exc2
        self._docker = docker
        self.on_change = on_change
        self.max_backoff = max_backoff
        self._by_id: dict[str, ContainerInfo] = {}
        self._by_mntns: dict[int, str] = {}
        self._neg: dict[int, float] = {}  # mntns -> time resolution failed (short negative cache)
        #: containers that died a moment ago, by mount namespace: their last events, read after the Engine's die event
        #: (a busy sensor lags by seconds), still belong to them, not to the host
        self._dead: dict[int, tuple[ContainerInfo, float]] = {}
        self._digests: dict[tuple[str, str], tuple[str, dict[str, str]]] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._events_resp: Any = None
        self.reconnects = 0
        self.connected = False
        self.events = 0  # events received from the Engine's stream
        #: an agent in a container: its own container is a container like any other (not the host)
        self.host_mntns = host_mount_ns()
        self.own_ids = own_container_ids()
        self.own_mntns = ns_inode(os.getpid())

    @staticmethod
    def _connect(docker: Any, docker_host: str | None, kwargs: dict[str, Any]) -> Any:
        if docker_host:
            return docker.DockerClient(base_url=docker_host, **kwargs)
        return docker.from_env(**kwargs)

    # ------------------------------------------------------------------ lookups

    def get(self, cid: str) -> ContainerInfo | None:
        """The container with this full or abbreviated id, or None."""
        with self._lock:
            info = self._by_id.get(cid)
            if info is None and len(cid) < 64:
                info = next((c for k, c in self._by_id.items() if k.startswith(cid)), None)
            return info

    def is_own(self, cid: str) -> bool:
        """Whether ``cid`` (full or abbreviated) is the container the agent runs in: by id, or by sharing the agent's
        mount namespace when that is not the host's."""
        if any(own.startswith(cid) for own in self.own_ids) and len(cid) >= 12:
            return True
        info = self.get(cid)
        if info is None:
            return False
        if info.id in self.own_ids:
            return True
        return self.own_mntns != self.host_mntns and info.mntns == self.own_mntns

    def list(self) -> list[ContainerInfo]:
        """Every running container."""
        with self._lock:
            return list(self._by_id.values())

    def for_event(self, mntns: int, pid: int, fresh: bool = False) -> ContainerInfo | None:
        """The container an event with this mount namespace (from this pid) belongs to, or None (host).

        ``fresh`` (exec events) skips the short negative cache: runc's init enters the container's namespaces
        a moment before it joins the container's cgroup, and the container's first exec must not inherit a
        "not a container" answer from that moment.
        """
        if mntns == self.host_mntns:
            return None
        cid = self._by_mntns.get(mntns)
        if cid is not None:
            return self._by_id.get(cid)
        now = time.monotonic()
        gone = self._dead.get(mntns)
        if gone is not None and now - gone[1] < GONE_KEEP_S:
            full = self._cgroup_container(pid)
            if full is None or full == gone[0].id:  # the process is gone too, or still in that container
                return gone[0]
        failed = self._neg.get(mntns)
        if failed is not None and now - failed < 2.0 and not fresh:
            return None
        full = self._cgroup_container(pid)
        info = None
        if full is not None:
            info = self._by_id.get(full) or self._inspect(full)
        with self._lock:
            if info is None:
                if len(self._neg) > 4096:
                    self._neg.clear()
                self._neg[mntns] = now
                return None
            self._by_mntns[mntns] = info.id
            self._dead.pop(mntns, None)
            if info.mntns != mntns:
                info = dataclasses.replace(info, mntns=mntns)
            self._by_id[info.id] = info
        return info

    def _cgroup_container(self, pid: int) -> str | None:
        """The id of the container this process is in, from its cgroup (None: not a container's)."""
        return container_id_of_pid(pid)

    # ------------------------------------------------------------------ engine

    def _image_meta(self, image_id: str, image: str) -> tuple[str, dict[str, str]]:
        """(repository digest, the image's own kubelet-named labels) of the image a container was started from: the
        digest of the repository it was started by name from (one image id pushed to several registries has one per
        repository)."""
        cached = self._digests.get((image_id, image))
        if cached is not None:
            return cached
        digest, k8s = "", {}
        try:
            attrs = self._client.api.inspect_image(image_id)
            digests = attrs.get("RepoDigests") or []
            repo = _split_image(image)[0]
            digest = next((d for d in digests if d.startswith(repo + "@")), digests[0] if digests else "")
            k8s = {str(k): str(v) for k, v in ((attrs.get("Config") or {}).get("Labels") or {}).items()
                   if str(k).startswith(K8S_PREFIX)}
        except Exception as exc:
            log.debug("image %s: %s", image_id, exc)
        if len(self._digests) > 4096:
            self._digests.clear()
        self._digests[(image_id, image)] = (digest, k8s)
        return digest, k8s

    def _inspect(self, cid: str) -> ContainerInfo | None:
        try:
            data = self._client.api.inspect_container(cid)
        except Exception as exc:
            log.debug("inspect %s: %s", cid, exc)
            return None
        info = info_from_inspect(data)
        digest, image_k8s = self._image_meta(info.image_id, info.image)
        if digest:
            info = dataclasses.replace(info, image_digest=digest)
        spoofed = {k for k, v in image_k8s.items() if info.labels.get(k) == v}
        if spoofed:  # Docker copies an image's labels to its containers: kubelet's names coming from the image are
            # the image's claim, not kubelet's (which overrides them with its own), and would put any container of
            # the image in a pod's namespace, owner and baseline of its choosing (k8s.*, the baseline's workload)
            log.info("container %s: labels %s come from its image, not from kubelet: ignored", info.short_id,
                     ", ".join(sorted(spoofed)))
            info = dataclasses.replace(info, labels={k: v for k, v in info.labels.items() if k not in spoofed})
        if info.labels.get(K8S_POD_NAME):
            info = dataclasses.replace(info, pod_labels=self._pod_labels(info))
        return info

    def _pod_labels(self, info: ContainerInfo) -> dict[str, str]:
        """A pod's labels: kubelet puts them on the pod's sandbox (pause) container, not on the app containers."""
        if info.labels.get(K8S_CONTAINER_TYPE) == "podsandbox":
            return user_pod_labels(info.labels)
        sandbox = info.labels.get(K8S_SANDBOX_ID, "")
        if not sandbox:
            return {}
        known = self._by_id.get(sandbox)
        if known is not None:
            return user_pod_labels(known.labels)
        try:
            data = self._client.api.inspect_container(sandbox)
        except Exception as exc:
            log.debug("inspect sandbox %s: %s", sandbox, exc)
            return {}
        return user_pod_labels((data.get("Config") or {}).get("Labels") or {})

    def _store(self, info: ContainerInfo) -> None:
        with self._lock:
            self._by_id[info.id] = info
            if info.mntns:
                self._by_mntns[info.mntns] = info.id
                self._dead.pop(info.mntns, None)  # the namespace's inode now belongs to this container
                self._neg.pop(info.mntns, None)

    def _forget(self, cid: str) -> ContainerInfo | None:
        with self._lock:
            info = self._by_id.pop(cid, None)
            now = time.monotonic()
            for ns, c in list(self._by_mntns.items()):
                if c == cid:
                    del self._by_mntns[ns]
                    if info is not None:
                        self._dead[ns] = (info, now)
            if len(self._dead) > 1024:  # keep the recent ones only
                self._dead = {ns: v for ns, v in self._dead.items() if now - v[1] < GONE_KEEP_S}
                while len(self._dead) > 1024:
                    del self._dead[next(iter(self._dead))]
            return info

    def resync(self) -> None:
        """Reload the full list of running containers."""
        ids = [c["Id"] for c in self._client.api.containers(filters={"status": "running"})]
        fresh = {}
        for cid in ids:
            info = self._inspect(cid)
            if info is not None:
                fresh[cid] = info
        with self._lock:
            for cid in list(self._by_id):
                if cid not in fresh:
                    self._forget(cid)
            for info in fresh.values():
                self._store(info)

    def _handle(self, ev: Mapping[str, Any]) -> None:
        action = str(ev.get("Action") or ev.get("status") or "").split(":", 1)[0]
        cid = str(ev.get("id") or (ev.get("Actor") or {}).get("ID") or "")
        if not cid or action not in WATCHED_ACTIONS:
            return
        if action in ("die", "destroy", "stop", "kill"):
            if action in ("die", "destroy"):
                info = self._forget(cid)
                if info is not None and self.on_change is not None:
                    self.on_change(action, info)
            return
        info = self._inspect(cid)
        if info is None:
            return
        if info.state in ("exited", "dead"):
            self._forget(cid)
            return
        self._store(info)
        if self.on_change is not None:
            self.on_change(action, info)

    def start(self) -> None:
        """First sync, then watch events on a thread. An unreachable Engine is not fatal: events are
        attributed to ``host`` until the watcher connects (retrying with backoff) and resyncs."""
        try:
            self.resync()
            self.connected = True
        except Exception as exc:
            log.warning("Docker Engine not reachable (%s); retrying in the background", exc)
        self._thread = threading.Thread(target=self._watch, name="cg-docker-events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching the Engine and close the client."""
        self._stop.set()
        resp = self._events_resp
        if resp is not None:
            try:
                resp.close()
            except Exception:  # closing a half-dead stream
                log.debug("closing the event stream failed", exc_info=True)
        try:
            self._client.close()
        except Exception:
            log.debug("closing the docker client failed", exc_info=True)
        if self._thread is not None:
            self._thread.join(5)

    def _watch(self) -> None:
        backoff = 0.5
        since: float | None = None
        first = self.connected
        while not self._stop.is_set():
            try:
                if not first:
                    self.resync()  # the daemon came back: catch up on what changed meanwhile
                    self.reconnects += 1
                    log.info("Docker Engine reconnected; %d containers running", len(self._by_id))
                first = False
                self.connected = True
                backoff = 0.5
                stream = self._client.events(decode=True, filters={"type": "container"},
                                             since=int(since) if since else None)
                self._events_resp = stream
                for ev in stream:
                    self.events += 1
                    since = float(ev.get("time", time.time()))
                    try:
                        self._handle(ev)
                    except Exception:
                        log.exception("handling Docker event %s", ev.get("Action"))
                    if self._stop.is_set():
                        break
            except Exception as exc:
                if self._stop.is_set():
                    break
                log.warning("Docker event stream lost (%s); reconnecting in %.1f s", exc, backoff)
            self.connected = False
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self.max_backoff)

    def layer_provider(self) -> IndexProvider | None:
        """Where image layer indexes (zero-drift) come from when this runtime has them itself (None: the agent's
        configured provider, the scanner reading the image through the Engine)."""
        return None

    @property
    def api(self) -> Any:
        """The low-level Engine API client (responders use it)."""
        return self._client.api

