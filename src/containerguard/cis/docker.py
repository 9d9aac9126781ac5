"""CIS Docker Benchmark v1.6, sections 1-5: the checks that can be decided from the Engine API and host files.

:func:`collect` gathers the facts once (Engine API through the ``docker`` SDK, the daemon's command line
from /proc, daemon.json, file ownership and modes, audit rules); :func:`run_bench` turns them into one
:class:`BenchResult` per check id with PASS / WARN / INFO / NOTE like docker-bench-security, naming the
offending containers; :func:`to_findings` gives COMPLIANCE findings (catalog ids CG-CIS-x.y) for WARNs.
"""

from __future__ import annotations

import contextlib
import enum
import glob
import grp
import json
import os
import pwd
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from containerguard.errors import MisconfigError
from containerguard.misconfig.catalog import catalog, make_finding
from containerguard.model import Finding


class Status(enum.StrEnum):
    PASS = "PASS"  # noqa: S105 - a status, not a password
    WARN = "WARN"
    INFO = "INFO"
    NOTE = "NOTE"


@dataclass(frozen=True, slots=True)
class BenchResult:
    id: str  # CIS id, e.g. "5.5"
    title: str
    status: Status
    details: tuple[str, ...] = ()
    containers: tuple[str, ...] = ()  # names of the containers that fail a container check

    @property
    def check_id(self) -> str:
        return f"CG-CIS-{self.id}"


@dataclass(slots=True)
class HostFacts:
    info: Mapping[str, Any]
    version: Mapping[str, Any]
    config: dict[str, Any]  # daemon.json merged with dockerd's command-line flags
    containers: list[Mapping[str, Any]]  # docker inspect of every running container
    images: list[Mapping[str, Any]]  # docker inspect of every image, with "History" added
    bridge_options: Mapping[str, str]
    root: Path = Path("/")
    env: Mapping[str, str] = field(default_factory=dict)
    daemon_json: Path | None = None


# ----------------------------------------------------------------------------- facts

_VALUE_FLAGS = {"-H": "hosts", "--host": "hosts", "-l": "log-level", "--log-level": "log-level",
                "--insecure-registry": "insecure-registries", "--userns-remap": "userns-remap",
                "--config-file": "config-file", "--tlscacert": "tlscacert", "--tlscert": "tlscert",
                "--tlskey": "tlskey", "--cgroup-parent": "cgroup-parent",
                "--authorization-plugin": "authorization-plugins", "--seccomp-profile": "seccomp-profile",
                "--log-driver": "log-driver", "--default-ulimit": "default-ulimits", "--storage-opt": "storage-opts",
                "--data-root": "data-root", "-G": "group", "--group": "group"}
_LIST_KEYS = {"hosts", "insecure-registries", "authorization-plugins", "default-ulimits", "storage-opts"}
_BOOL_FLAGS = {"--icc": "icc", "--iptables": "iptables", "--tlsverify": "tlsverify", "--tls": "tls",
               "--live-restore": "live-restore", "--no-new-privileges": "no-new-privileges",
               "--userland-proxy": "userland-proxy", "--experimental": "experimental", "--selinux-enabled": "selinux-enabled"}


def parse_dockerd_args(argv: Sequence[str]) -> dict[str, Any]:
    """dockerd command-line flags as daemon.json keys."""
    out: dict[str, Any] = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        name, eq, val = a.partition("=")
        if name in _VALUE_FLAGS:
            key = _VALUE_FLAGS[name]
            if not eq:
                i += 1
                val = argv[i] if i < len(argv) else ""
            if key in _LIST_KEYS:
                out.setdefault(key, []).append(val)
            else:
                out[key] = val
        elif name in _BOOL_FLAGS:
            out[_BOOL_FLAGS[name]] = (val.lower() != "false") if eq else True
        i += 1
    return out


def dockerd_argv(root: Path = Path("/")) -> list[str] | None:
    """The command line of the running dockerd, from /proc (None when not found)."""
    for comm in glob.glob(str(root / "proc" / "[0-9]*" / "comm")):
        try:
            if Path(comm).read_text().strip() != "dockerd":
                continue
            raw = Path(comm).with_name("cmdline").read_bytes()
        except OSError:
            continue
        return [a.decode(errors="replace") for a in raw.split(b"\x00") if a]
    return None


def collect(client: Any = None, root: str | Path = "/", env: Mapping[str, str] | None = None, *,
            all_containers: bool = False) -> HostFacts:
    """Gather everything the checks need. ``all_containers`` adds created and stopped containers to the
    running ones (their configuration is audited the same way). Raises MisconfigError when the Engine
    cannot be reached."""
    import docker
    from docker.errors import DockerException

    rootp = Path(root)
    try:
        api = client or docker.APIClient(base_url=os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"),
                                         timeout=60)
        info = api.info()
        version = api.version()
        containers = []
        for c in api.containers(all=all_containers):
            try:
                containers.append(api.inspect_container(c["Id"]))
            except DockerException:
                continue  # it went away
        images = []
        for im in api.images():
            try:
                ins = api.inspect_image(im["Id"])
                ins["History"] = api.history(im["Id"])
                images.append(ins)
            except DockerException:
                continue
        try:
            bridge = api.inspect_network("bridge").get("Options") or {}
        except DockerException:
            bridge = {}
    except DockerException as exc:
        raise MisconfigError(f"cannot reach the Docker Engine: {exc}") from None
    argv = dockerd_argv(rootp) or []
    flags = parse_dockerd_args(argv[1:])
    cfg_path = rootp / str(flags.get("config-file", "/etc/docker/daemon.json")).lstrip("/")
    config: dict[str, Any] = {}
    if cfg_path.is_file():
        try:
            loaded = json.loads(cfg_path.read_text())
        except (OSError, ValueError) as exc:
            raise MisconfigError(f"{cfg_path}: not valid JSON: {exc}") from None
        if isinstance(loaded, dict):
            config.update(loaded)
    for k, v in flags.items():
        if k in _LIST_KEYS:
            config[k] = list(config.get(k) or []) + list(v)
        else:
            config[k] = v
    return HostFacts(info, version, config, containers, images, bridge, rootp,
                     dict(os.environ if env is None else env), cfg_path if cfg_path.is_file() else None)


# ----------------------------------------------------------------------------- checks

Check = Callable[[HostFacts], tuple[Status, list[str]]]
ContainerCheck = Callable[[Mapping[str, Any], HostFacts], str | None]  # -> reason when it fails


def _title(cis_id: str) -> str:
    return catalog()[f"CG-CIS-{cis_id}"].title


def _truthy(v: Any) -> bool:
    return v is True or str(v).lower() == "true"


def _security_options(f: HostFacts) -> list[str]:
    return [str(x) for x in f.info.get("SecurityOptions") or []]


def _audit_rules(root: Path) -> str:
    texts = []
    for p in [root / "etc/audit/audit.rules", *sorted((root / "etc/audit/rules.d").glob("*.rules"))]:
        try:
            texts.append(p.read_text(errors="replace"))
        except OSError:
            continue
    return "\n".join(texts)


def _unit_file(root: Path, unit: str) -> Path | None:
    for d in ("etc/systemd/system", "lib/systemd/system", "usr/lib/systemd/system"):
        p = root / d / unit
        if p.exists():
            return p
    return None


_AUDITED: list[tuple[str, str]] = [
    ("1.1.3", "/usr/bin/dockerd|/usr/sbin/dockerd"), ("1.1.4", "/run/containerd"), ("1.1.5", "/var/lib/docker"),
    ("1.1.6", "/etc/docker"), ("1.1.7", "unit:docker.service"), ("1.1.8", "/run/containerd/containerd.sock"),
    ("1.1.9", "unit:docker.socket"), ("1.1.10", "/etc/default/docker"), ("1.1.11", "/etc/docker/daemon.json"),
    ("1.1.12", "/etc/containerd/config.toml"), ("1.1.13", "/etc/sysconfig/docker"), ("1.1.14", "/usr/bin/containerd"),
    ("1.1.15", "/usr/bin/containerd-shim"), ("1.1.16", "/usr/bin/containerd-shim-runc-v1"),
    ("1.1.17", "/usr/bin/containerd-shim-runc-v2"), ("1.1.18", "/usr/bin/runc"),
]


def _audit_check(path: str) -> Check:
    def check(f: HostFacts) -> tuple[Status, list[str]]:
        if path.startswith("unit:"):
            p = _unit_file(f.root, path[5:])
            if p is None:
                return Status.INFO, [f"{path[5:]} not found"]
            target = "/" + str(p.relative_to(f.root))
        else:
            found = [p for p in path.split("|") if (f.root / p.lstrip("/")).exists()]
            if not found:
                return Status.INFO, [f"{path.split('|')[0]} not found"]
            target = found[0]
        rules = _audit_rules(f.root)
        if any(target in line and line.strip().startswith("-w") for line in rules.splitlines()):
            return Status.PASS, []
        return Status.WARN, [f"no audit rule for {target}"]
    return check


def _c_1_1_1(f: HostFacts) -> tuple[Status, list[str]]:
    data_root = str(f.info.get("DockerRootDir") or "/var/lib/docker")
    try:
        mounts = (f.root / "proc/mounts").read_text().splitlines()
    except OSError:
        return Status.INFO, ["cannot read /proc/mounts"]
    points = {ln.split()[1] for ln in mounts if len(ln.split()) > 2}
    return (Status.PASS, []) if data_root in points else (Status.WARN, [f"{data_root} is not a separate mount"])


def _c_1_1_2(f: HostFacts) -> tuple[Status, list[str]]:
    try:
        members = grp.getgrnam("docker").gr_mem
    except KeyError:
        return Status.INFO, ["no docker group"]
    return Status.INFO, [f"docker group members: {', '.join(members) or '(none)'}"]


def _c_2_2(f: HostFacts) -> tuple[Status, list[str]]:
    icc = f.bridge_options.get("com.docker.network.bridge.enable_icc")
    if icc == "false" or f.config.get("icc") is False:
        return Status.PASS, []
    return Status.WARN, ["icc is enabled on the default bridge"]


def _c_2_3(f: HostFacts) -> tuple[Status, list[str]]:
    lvl = str(f.config.get("log-level") or "info")
    return (Status.PASS, []) if lvl == "info" else (Status.WARN, [f"log-level is {lvl}"])


def _c_2_4(f: HostFacts) -> tuple[Status, list[str]]:
    return (Status.WARN, ["iptables=false"]) if f.config.get("iptables") is False else (Status.PASS, [])


def _c_2_5(f: HostFacts) -> tuple[Status, list[str]]:
    reg = f.info.get("RegistryConfig") or {}
    cidrs = [c for c in reg.get("InsecureRegistryCIDRs") or [] if not str(c).startswith(("127.0.0.0/8", "::1/128"))]
    names = [k for k, v in (reg.get("IndexConfigs") or {}).items() if isinstance(v, Mapping) and not v.get("Secure", True)]
    bad = sorted(set(cidrs) | set(names) | set(f.config.get("insecure-registries") or []))
    return (Status.WARN, [f"insecure registry: {b}" for b in bad]) if bad else (Status.PASS, [])


def _c_2_6(f: HostFacts) -> tuple[Status, list[str]]:
    drv = str(f.info.get("Driver") or "")
    return (Status.WARN, ["storage driver is aufs"]) if drv == "aufs" else (Status.PASS, [])


def _c_2_7(f: HostFacts) -> tuple[Status, list[str]]:
    tcp = [h for h in f.config.get("hosts") or [] if str(h).startswith("tcp://")]
    if not tcp:
        return Status.INFO, ["the daemon does not listen on TCP"]
    ok = _truthy(f.config.get("tlsverify")) and all(f.config.get(k) for k in ("tlscacert", "tlscert", "tlskey"))
    return (Status.PASS, []) if ok else (Status.WARN, [f"listens on {', '.join(tcp)} without TLS client verification"])


def _c_2_8(f: HostFacts) -> tuple[Status, list[str]]:
    return (Status.PASS, []) if f.config.get("default-ulimits") else (Status.INFO, ["no default ulimit set"])


def _c_2_9(f: HostFacts) -> tuple[Status, list[str]]:
    on = any(o.startswith("name=userns") for o in _security_options(f)) or f.config.get("userns-remap")
    return (Status.PASS, []) if on else (Status.WARN, ["user namespace remapping is off"])


def _c_2_10(f: HostFacts) -> tuple[Status, list[str]]:
    cp = f.config.get("cgroup-parent")
    return (Status.PASS, []) if not cp else (Status.INFO, [f"cgroup-parent is {cp}"])


def _c_2_11(f: HostFacts) -> tuple[Status, list[str]]:
    opts = [o for o in f.config.get("storage-opts") or [] if "basesize" in str(o)]
    return (Status.WARN, opts) if opts else (Status.PASS, [])


def _c_2_12(f: HostFacts) -> tuple[Status, list[str]]:
    authz = (f.info.get("Plugins") or {}).get("Authorization") or f.config.get("authorization-plugins")
    return (Status.PASS, []) if authz else (Status.WARN, ["no authorization plugin"])


def _c_2_13(f: HostFacts) -> tuple[Status, list[str]]:
    drv = str(f.info.get("LoggingDriver") or "")
    local = drv in ("json-file", "local", "none", "")
    return (Status.WARN, [f"log driver is {drv or 'unset'}"]) if local else (Status.PASS, [])


def _c_2_14(f: HostFacts) -> tuple[Status, list[str]]:
    on = _truthy(f.config.get("no-new-privileges")) or any("no-new-privileges" in o for o in _security_options(f))
    return (Status.PASS, []) if on else (Status.WARN, ["no-new-privileges is not the default"])


def _c_2_15(f: HostFacts) -> tuple[Status, list[str]]:
    return (Status.PASS, []) if f.info.get("LiveRestoreEnabled") else (Status.WARN, ["live-restore is off"])


def _c_2_16(f: HostFacts) -> tuple[Status, list[str]]:
    return (Status.PASS, []) if f.config.get("userland-proxy") is False else (Status.WARN, ["userland-proxy is on"])


def _c_2_17(f: HostFacts) -> tuple[Status, list[str]]:
    prof = [o for o in _security_options(f) if o.startswith("name=seccomp")]
    if any("profile=default" in o or "profile=builtin" in o for o in prof) and not f.config.get("seccomp-profile"):
        return Status.INFO, ["the default seccomp profile is applied"]
    return (Status.PASS, []) if prof else (Status.WARN, ["seccomp is not enabled"])


def _c_2_18(f: HostFacts) -> tuple[Status, list[str]]:
    exp = f.info.get("ExperimentalBuild") or _truthy(f.config.get("experimental"))
    return (Status.WARN, ["experimental features are enabled"]) if exp else (Status.PASS, [])


def _c_2_1(f: HostFacts) -> tuple[Status, list[str]]:
    rootless = any("rootless" in o for o in _security_options(f))
    return (Status.PASS, []) if rootless else (Status.INFO, ["the daemon runs as root"])


def _c_1_2_2(f: HostFacts) -> tuple[Status, list[str]]:
    return Status.INFO, [f"Docker Engine {f.version.get('Version', '?')} (API {f.version.get('ApiVersion', '?')})"]


# ---- section 3: files


def _file_check(what: str, paths: Callable[[HostFacts], list[Path]], owner: str | None, max_mode: int | None) -> Check:
    def check(f: HostFacts) -> tuple[Status, list[str]]:
        found = [p for p in paths(f) if p.exists()]
        if not found:
            return Status.INFO, [f"{what} not found"]
        bad = []
        for p in found:
            st = p.stat()
            shown = "/" + str(p.relative_to(f.root)) if p.is_relative_to(f.root) else str(p)
            if owner is not None:
                try:
                    u = pwd.getpwuid(st.st_uid).pw_name
                except KeyError:
                    u = str(st.st_uid)
                try:
                    g = grp.getgrgid(st.st_gid).gr_name
                except KeyError:
                    g = str(st.st_gid)
                if f"{u}:{g}" != owner:
                    bad.append(f"{shown} is owned by {u}:{g}")
            if max_mode is not None and stat.S_IMODE(st.st_mode) & ~max_mode:
                bad.append(f"{shown} has mode {stat.S_IMODE(st.st_mode):04o}")
        return (Status.WARN, bad) if bad else (Status.PASS, [])
    return check


def _p(*rel: str) -> Callable[[HostFacts], list[Path]]:
    return lambda f: [f.root / r.lstrip("/") for r in rel]


def _unit(name: str) -> Callable[[HostFacts], list[Path]]:
    return lambda f: [p for p in [_unit_file(f.root, name)] if p is not None]


def _certs_d(f: HostFacts) -> list[Path]:
    return sorted(p for p in (f.root / "etc/docker/certs.d").glob("*/*") if p.is_file())


def _cfg_file(key: str) -> Callable[[HostFacts], list[Path]]:
    return lambda f: [f.root / str(f.config[key]).lstrip("/")] if f.config.get(key) else []


def _daemon_json(f: HostFacts) -> list[Path]:
    return [f.daemon_json] if f.daemon_json else [f.root / "etc/docker/daemon.json"]


_FILES: list[tuple[str, str, str, Callable[[HostFacts], list[Path]], str, int]] = [
    ("3.1", "3.2", "docker.service", _unit("docker.service"), "root:root", 0o644),
    ("3.3", "3.4", "docker.socket", _unit("docker.socket"), "root:root", 0o644),
    ("3.5", "3.6", "/etc/docker", _p("/etc/docker"), "root:root", 0o755),
    ("3.7", "3.8", "registry certificates", _certs_d, "root:root", 0o444),
    ("3.9", "3.10", "TLS CA certificate", _cfg_file("tlscacert"), "root:root", 0o444),
    ("3.11", "3.12", "server certificate", _cfg_file("tlscert"), "root:root", 0o444),
    ("3.13", "3.14", "server key", _cfg_file("tlskey"), "root:root", 0o400),
    ("3.15", "3.16", "Docker socket", _p("/var/run/docker.sock"), "root:docker", 0o660),
    ("3.17", "3.18", "daemon.json", _daemon_json, "root:root", 0o644),
    ("3.19", "3.20", "/etc/default/docker", _p("/etc/default/docker"), "root:root", 0o644),
    ("3.21", "3.22", "/etc/sysconfig/docker", _p("/etc/sysconfig/docker"), "root:root", 0o644),
    ("3.23", "3.24", "containerd socket", _p("/run/containerd/containerd.sock"), "root:root", 0o660),
]


# ---- section 4: images (of running containers for 4.1; all images otherwise)


def _c_4_5(f: HostFacts) -> tuple[Status, list[str]]:
    return (Status.PASS, []) if f.env.get("DOCKER_CONTENT_TRUST") == "1" else (Status.WARN, ["DOCKER_CONTENT_TRUST is not 1"])


def _image_name(im: Mapping[str, Any]) -> str:
    tags = im.get("RepoTags") or []
    return str(tags[0]) if tags else str(im.get("Id", ""))[7:19]


def _c_4_6(f: HostFacts) -> tuple[Status, list[str]]:
    bad = [_image_name(im) for im in f.images if not ((im.get("Config") or {}).get("Healthcheck") or {}).get("Test")]
    return (Status.WARN, [f"no HEALTHCHECK: {n}" for n in sorted(bad)]) if bad else (Status.PASS, [])


def _c_4_7(f: HostFacts) -> tuple[Status, list[str]]:
    bad = []
    for im in f.images:
        for h in im.get("History") or []:
            cb = str(h.get("CreatedBy") or "")
            if any(u in cb for u in ("apt-get update", "apk update", "yum update", "dnf update")) and \
                    not any(i in cb for i in ("install", "apk add", "upgrade")):
                bad.append(_image_name(im))
                break
    return (Status.INFO, [f"update alone: {n}" for n in sorted(bad)]) if bad else (Status.PASS, [])


def _instruction(created_by: str) -> str:
    """The Dockerfile instruction of a history entry ("/bin/sh -c #(nop) ADD ..." -> "ADD ...")."""
    text = created_by.removeprefix("/bin/sh -c ").strip()
    return text.removeprefix("#(nop)").strip()


def _c_4_9(f: HostFacts) -> tuple[Status, list[str]]:
    bad = sorted({_image_name(im) for im in f.images for h in im.get("History") or []
                  if _instruction(str(h.get("CreatedBy") or "")).startswith("ADD ")})
    return (Status.INFO, [f"ADD used: {n}" for n in bad]) if bad else (Status.PASS, [])


def _c_5_1(f: HostFacts) -> tuple[Status, list[str]]:
    state = str((f.info.get("Swarm") or {}).get("LocalNodeState") or "inactive")
    return (Status.PASS, []) if state == "inactive" else (Status.WARN, [f"swarm is {state}"])


# ---- section 5 (and 4.1): per running container

_SENSITIVE = ("/", "/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr")


def _hc(c: Mapping[str, Any]) -> Mapping[str, Any]:
    return c.get("HostConfig") or {}


def _secopts(c: Mapping[str, Any]) -> list[str]:
    return [str(o) for o in _hc(c).get("SecurityOpt") or []]


def _ports(c: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    out = []
    for cport, binds in ((c.get("NetworkSettings") or {}).get("Ports") or {}).items():
        for b in binds or []:
            out.append((str(cport), str(b.get("HostIp") or ""), str(b.get("HostPort") or "")))
    return out


def _k41(c: Mapping[str, Any], f: HostFacts) -> str | None:
    user = str((c.get("Config") or {}).get("User") or "")
    return "runs as root" if user.split(":")[0] in ("", "root", "0") else None


def _k52(c: Mapping[str, Any], f: HostFacts) -> str | None:
    prof = str(c.get("AppArmorProfile") or "")
    return f"AppArmorProfile {prof or '(none)'}" if prof in ("", "unconfined") else None


def _k53(c: Mapping[str, Any], f: HostFacts) -> str | None:
    return None if any(o.startswith("label") for o in _secopts(c)) else "no SELinux options"


def _k54(c: Mapping[str, Any], f: HostFacts) -> str | None:
    add = [str(x) for x in _hc(c).get("CapAdd") or []]
    if _hc(c).get("Privileged"):
        return "privileged (all capabilities)"
    return f"CapAdd={','.join(add)}" if add else None


def _k55(c: Mapping[str, Any], f: HostFacts) -> str | None:
    return "privileged" if _hc(c).get("Privileged") else None


def _k56(c: Mapping[str, Any], f: HostFacts) -> str | None:
    bad = [str(m.get("Source")) for m in c.get("Mounts") or [] if str(m.get("Source") or "").rstrip("/") in
           {s.rstrip("/") for s in _SENSITIVE} or (str(m.get("Source") or "") == "/")]
    return f"mounts {', '.join(bad)}" if bad else None


def _k57(c: Mapping[str, Any], f: HostFacts) -> str | None:
    procs = c.get("_top") or []
    return "runs sshd" if any("sshd" in str(p) for p in procs) else None


def _k58(c: Mapping[str, Any], f: HostFacts) -> str | None:
    low = [f"{hp}->{cp}" for cp, _ip, hp in _ports(c) if hp.isdigit() and int(hp) < 1024]
    return f"privileged host port {', '.join(low)}" if low else None


def _k59(c: Mapping[str, Any], f: HostFacts) -> str | None:
    ports = [f"{ip or '0.0.0.0'}:{hp}->{cp}" for cp, ip, hp in _ports(c)]  # noqa: S104 - reporting it
    return f"publishes {', '.join(ports)}" if ports else None


def _k510(c: Mapping[str, Any], f: HostFacts) -> str | None:
    return "NetworkMode=host" if _hc(c).get("NetworkMode") == "host" else None


def _k511(c: Mapping[str, Any], f: HostFacts) -> str | None:
    return "no memory limit" if not _hc(c).get("Memory") else None


def _k512(c: Mapping[str, Any], f: HostFacts) -> str | None:
    return "default CPU shares" if _hc(c).get("CpuShares") in (None, 0, 1024) and not _hc(c).get("NanoCpus") \
        and not _hc(c).get("CpuQuota") else None


def _k513(c: Mapping[str, Any], f: HostFacts) -> str | None:
    return "root filesystem writable" if not _hc(c).get("ReadonlyRootfs") else None


def _k514(c: Mapping[str, Any], f: HostFacts) -> str | None:
    wild = [f"{hp}->{cp}" for cp, ip, hp in _ports(c) if ip in ("", "0.0.0.0", "::")]  # noqa: S104
    return f"port {', '.join(wild)} on every interface" if wild else None


def _k515(c: Mapping[str, Any], f: HostFacts) -> str | None:
    rp = _hc(c).get("RestartPolicy") or {}
    name, n = str(rp.get("Name") or "no"), int(rp.get("MaximumRetryCount") or 0)
    if name in ("always", "unless-stopped") or (name == "on-failure" and (n == 0 or n > 5)):
        return f"restart policy {name}{':' + str(n) if name == 'on-failure' else ''}"
    return None


def _k516(c: Mapping[str, Any], f: HostFacts) -> str | None:
    return "PidMode=host" if _hc(c).get("PidMode") == "host" else None


def _k517(c: Mapping[str, Any], f: HostFacts) -> str | None:
    return "IpcMode=host" if _hc(c).get("IpcMode") == "host" else None


def _k518(c: Mapping[str, Any], f: HostFacts) -> str | None:
    devs = [str(d.get("PathOnHost")) for d in _hc(c).get("Devices") or []]
    return f"devices {', '.join(devs)}" if devs else None


def _k519(c: Mapping[str, Any], f: HostFacts) -> str | None:
    return None if _hc(c).get("Ulimits") else "default ulimits"


def _k520(c: Mapping[str, Any], f: HostFacts) -> str | None:
    shared = [str(m.get("Destination")) for m in c.get("Mounts") or [] if str(m.get("Propagation")) in ("shared", "rshared")]
    return f"shared propagation on {', '.join(shared)}" if shared else None


def _k521(c: Mapping[str, Any], f: HostFacts) -> str | None:
    return "UTSMode=host" if _hc(c).get("UTSMode") == "host" else None


def _k522(c: Mapping[str, Any], f: HostFacts) -> str | None:
    return "seccomp unconfined" if any(o.replace(":", "=") == "seccomp=unconfined" for o in _secopts(c)) else None


def _k525(c: Mapping[str, Any], f: HostFacts) -> str | None:
    cp = _hc(c).get("CgroupParent")
    return f"CgroupParent={cp}" if cp else None


def _k526(c: Mapping[str, Any], f: HostFacts) -> str | None:
    if _truthy(f.config.get("no-new-privileges")):
        return None
    ok = any(o.replace(":", "=") in ("no-new-privileges", "no-new-privileges=true") for o in _secopts(c))
    return None if ok else "no-new-privileges not set"


def _k527(c: Mapping[str, Any], f: HostFacts) -> str | None:
    return None if (c.get("State") or {}).get("Health") else "no health check"


def _k529(c: Mapping[str, Any], f: HostFacts) -> str | None:
    lim = _hc(c).get("PidsLimit")
    return "no PIDs limit" if lim in (None, 0, -1) else None


def _k530(c: Mapping[str, Any], f: HostFacts) -> str | None:
    nets = ((c.get("NetworkSettings") or {}).get("Networks") or {})
    return "on the default bridge" if "bridge" in nets else None


def _k531(c: Mapping[str, Any], f: HostFacts) -> str | None:
    return "UsernsMode=host" if _hc(c).get("UsernsMode") == "host" else None


def _k532(c: Mapping[str, Any], f: HostFacts) -> str | None:
    socks = [str(m.get("Source")) for m in c.get("Mounts") or [] if str(m.get("Source") or "").endswith("docker.sock")]
    return f"mounts {', '.join(socks)}" if socks else None


# (id, check, status when it fails): INFO for checks docker-bench reports as informational
_CONTAINER_CHECKS: list[tuple[str, ContainerCheck, Status]] = [
    ("4.1", _k41, Status.WARN), ("5.2", _k52, Status.WARN), ("5.3", _k53, Status.WARN), ("5.4", _k54, Status.WARN),
    ("5.5", _k55, Status.WARN), ("5.6", _k56, Status.WARN), ("5.7", _k57, Status.WARN), ("5.8", _k58, Status.WARN),
    ("5.9", _k59, Status.INFO), ("5.10", _k510, Status.WARN), ("5.11", _k511, Status.WARN),
    ("5.12", _k512, Status.WARN), ("5.13", _k513, Status.WARN), ("5.14", _k514, Status.WARN),
    ("5.15", _k515, Status.WARN), ("5.16", _k516, Status.WARN), ("5.17", _k517, Status.WARN),
    ("5.18", _k518, Status.INFO), ("5.19", _k519, Status.INFO), ("5.20", _k520, Status.WARN),
    ("5.21", _k521, Status.WARN), ("5.22", _k522, Status.WARN), ("5.25", _k525, Status.WARN),
    ("5.26", _k526, Status.WARN), ("5.27", _k527, Status.WARN), ("5.29", _k529, Status.WARN),
    ("5.30", _k530, Status.INFO), ("5.31", _k531, Status.WARN), ("5.32", _k532, Status.WARN),
]

_HOST_CHECKS: list[tuple[str, Check]] = [
    ("1.1.1", _c_1_1_1), ("1.1.2", _c_1_1_2),
    *[(cid, _audit_check(p)) for cid, p in _AUDITED],
    ("1.2.1", lambda f: (Status.NOTE, ["manual: harden the host (CIS Linux benchmark)"])), ("1.2.2", _c_1_2_2),
    ("2.1", _c_2_1), ("2.2", _c_2_2), ("2.3", _c_2_3), ("2.4", _c_2_4), ("2.5", _c_2_5), ("2.6", _c_2_6),
    ("2.7", _c_2_7), ("2.8", _c_2_8), ("2.9", _c_2_9), ("2.10", _c_2_10), ("2.11", _c_2_11), ("2.12", _c_2_12),
    ("2.13", _c_2_13), ("2.14", _c_2_14), ("2.15", _c_2_15), ("2.16", _c_2_16), ("2.17", _c_2_17), ("2.18", _c_2_18),
    *[chk for own, mode, what, paths, owner, m in _FILES
      for chk in ((own, _file_check(what, paths, owner, None)), (mode, _file_check(what, paths, None, m)))],
    ("4.5", _c_4_5), ("4.6", _c_4_6), ("4.7", _c_4_7), ("4.9", _c_4_9), ("5.1", _c_5_1),
]


def _order(cis_id: str) -> tuple[int, ...]:
    return tuple(int(x) for x in cis_id.split("."))


def _container_name(c: Mapping[str, Any]) -> str:
    return str(c.get("Name") or c.get("Id", "")[:12]).lstrip("/")


def run_bench(facts: HostFacts, containers: Iterable[str] | None = None) -> list[BenchResult]:
    """Every check, in CIS order. ``containers`` (names or id prefixes) limits the container checks."""
    results: list[BenchResult] = []
    for cid, check in _HOST_CHECKS:
        status, details = check(facts)
        results.append(BenchResult(cid, _title(cid), status, tuple(details)))
    wanted = list(containers or [])
    chosen = [c for c in facts.containers
              if not wanted or _container_name(c) in wanted or any(str(c.get("Id", "")).startswith(w) for w in wanted)]
    for cid, kcheck, fail_status in _CONTAINER_CHECKS:
        if not chosen:
            results.append(BenchResult(cid, _title(cid), Status.INFO, ("no running containers",)))
            continue
        bad = [(name, reason) for c in chosen for name in [_container_name(c)] for reason in [kcheck(c, facts)] if reason]
        if bad:
            results.append(BenchResult(cid, _title(cid), fail_status, tuple(f"{r}: {n}" for n, r in bad),
                                       tuple(n for n, _ in bad)))
        else:
            results.append(BenchResult(cid, _title(cid), Status.PASS))
    return sorted(results, key=lambda r: _order(r.id))


def add_processes(facts: HostFacts, client: Any = None) -> None:
    """Fill each container's process list (for 5.7 sshd) from the Engine's ``top``."""
    import docker
    from docker.errors import DockerException

    api = client or docker.APIClient(base_url=os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"), timeout=60)
    filled: list[Mapping[str, Any]] = []
    for c in facts.containers:
        d = dict(c)
        d["_top"] = []
        if (c.get("State") or {}).get("Running"):
            with contextlib.suppress(DockerException):
                d["_top"] = [" ".join(map(str, p)) for p in (api.top(c["Id"]) or {}).get("Processes") or []]
        filled.append(d)
    facts.containers = filled


def bench_docker(containers: Iterable[str] | None = None, *, all_containers: bool = False) -> list[BenchResult]:
    """Collect the facts from the local Engine and host, and run every check."""
    facts = collect(all_containers=all_containers)
    add_processes(facts)
    return run_bench(facts, containers)


def to_findings(results: Iterable[BenchResult], target: str = "docker-host") -> list[Finding]:
    """COMPLIANCE findings for the WARN results."""
    return [make_finding(r.check_id, target=target, path=f"CIS Docker 1.6 {r.id}", message="; ".join(r.details),
                         extra={"status": str(r.status), "containers": list(r.containers)})
            for r in results if r.status is Status.WARN]
