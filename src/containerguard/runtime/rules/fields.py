"""The field catalog: every field a condition or an output may name, its type, source and argument kind.

Types: ``string``, ``int``, ``bool``, ``bytes``, ``list`` (several string values), ``ilist`` (several
integers), ``dict`` (keyed by the argument), ``json`` (a JSON pointer argument into the raw event) and
``ipnet`` (an IP address compared with networks: ``fd.snet in ("10.0.0.0/8", "192.168.0.0/16")``).
``arg`` says whether the field takes ``[ARG]``: ``none``, ``optional``, ``required``.

How an event stores each field is described in docs/events.md; :func:`storage_key` names the key.
"""

from __future__ import annotations

from typing import NamedTuple


class FieldSpec(NamedTuple):
    type: str
    description: str
    source: str = "syscall"  # syscall | k8s_audit | any
    arg: str = "none"  # none | optional | required


def _f(type_: str, desc: str, source: str = "syscall", arg: str = "none") -> FieldSpec:
    return FieldSpec(type_, desc, source, arg)


_K = "k8s_audit"

FIELD_CATALOG: dict[str, FieldSpec] = {
    # ---- event
    "evt.type": _f("string", "Event type (execve, openat, connect, container, ...)"),
    "evt.dir": _f("string", "Direction: '<' exit (the sensor reports exits), '>' enter"),
    "evt.num": _f("int", "Sequence number of the event"),
    "evt.rawtime": _f("int", "Event time, nanoseconds since the epoch"),
    "evt.time": _f("string", "Event time as RFC 3339 text"),
    "evt.res": _f("string", "Result: SUCCESS or the errno name (ENOENT, EACCES, ...)"),
    "evt.rawres": _f("int", "Raw return value"),
    "evt.failed": _f("bool", "True when the syscall failed"),
    "evt.arg": _f("string", "A syscall argument by name (evt.arg.flags, evt.arg[flags]) or position (evt.arg[0])",
                  arg="required"),
    "evt.args": _f("string", "All syscall arguments as text"),
    "evt.buffer": _f("bytes", "Data buffer of read/write/sendto events"),
    "evt.is_open_read": _f("bool", "An open for reading"),
    "evt.is_open_write": _f("bool", "An open for writing (O_WRONLY, O_RDWR, O_CREAT, O_TRUNC)"),
    "evt.is_open_exec": _f("bool", "An open of a file with execute permission / O_CREAT with +x mode"),
    "evt.is_open_create": _f("bool", "An open with O_CREAT"),
    "evt.hostname": _f("string", "Host name of the machine the event came from", source="any"),
    "evt.rawarg": _f("string", "A syscall argument by name, unformatted (evt.rawarg.NAME, evt.rawarg[NAME])", arg="required"),
    "evt.category": _f("string", "Event category (file, net, process, ...)"),
    "evt.abspath": _f("string", "Absolute path argument of *at syscalls"),
    # ---- process
    "proc.pid": _f("int", "Process id"),
    "proc.vpid": _f("int", "Process id inside its pid namespace (1 for a container's init)"),
    "proc.ppid": _f("int", "Parent process id"),
    "proc.name": _f("string", "Process name (comm, up to 16 characters)"),
    "proc.exe": _f("string", "argv[0] as executed"),
    "proc.exepath": _f("string", "Full path of the executable (memfd:NAME for memfd executables)"),
    "proc.cmdline": _f("string", "Name and arguments joined by spaces"),
    "proc.args": _f("string", "Arguments joined by spaces"),
    "proc.cwd": _f("string", "Working directory"),
    "proc.tty": _f("int", "Controlling terminal (0 when none)"),
    "proc.sid": _f("int", "Session id"),
    "proc.pname": _f("string", "Parent process name"),
    "proc.pcmdline": _f("string", "Parent command line"),
    "proc.pexepath": _f("string", "Parent executable path"),
    "proc.aname": _f("list", "Ancestor name: proc.aname[N] (N=1 parent); without N any ancestor", arg="optional"),
    "proc.apid": _f("ilist", "Ancestor pid: proc.apid[N] (N=1 parent); without N any ancestor", arg="optional"),
    "proc.env": _f("dict", "Environment: proc.env[NAME] one variable; without NAME all as text", arg="optional"),
    "proc.is_exe_upper_layer": _f("bool", "The executable lives in the container's writable (upper) layer"),
    "proc.is_exe_from_memfd": _f("bool", "The executable is a memfd (fileless execution)"),
    "proc.exe_written": _f("bool", "The agent saw this executable path written or chmod +x since the container started"),
    "proc.is_container_healthcheck": _f("bool", "The process is the container's Docker health check"),
    "proc.aexe": _f("list", "Ancestor argv[0]: proc.aexe[N] (N=1 parent); without N any ancestor", arg="optional"),
    "proc.aexepath": _f("list", "Ancestor executable path: proc.aexepath[N]; without N any ancestor", arg="optional"),
    "proc.acmdline": _f("list", "Ancestor command line: proc.acmdline[N]; without N any ancestor", arg="optional"),
    "proc.pexe": _f("string", "Parent argv[0]"),
    "proc.exeline": _f("string", "argv[0] and the arguments joined by spaces"),
    "proc.cmdnargs": _f("int", "Number of command-line arguments"),
    "proc.cmdlenargs": _f("int", "Total length of the command-line arguments"),
    "proc.duration": _f("int", "Nanoseconds since the process started"),
    "proc.start_ns": _f("int", "Process start time (ns since the epoch)"),
    "proc.sname": _f("string", "Name of the session leader"),
    "proc.vpgid": _f("int", "Process group id inside the pid namespace"),
    "proc.pvpid": _f("int", "Parent process id inside the pid namespace"),
    "proc.is_vpgid_leader": _f("bool", "The process leads its process group"),
    "proc.loginshellid": _f("int", "Pid of the outermost shell ancestor"),
    "proc.exe_ino": _f("int", "Inode of the executable"),
    "proc.exe_ino.ctime": _f("int", "ctime of the executable's inode (ns)"),
    "proc.exe_ino.mtime": _f("int", "mtime of the executable's inode (ns)"),
    "proc.exe_ino.ctime_duration_proc_start": _f("int", "Nanoseconds from the executable's inode change (ctime) to "
                                                 "the process start: small for a just-dropped binary"),
    "proc.is_sid_leader": _f("bool", "The process leads its session"),
    "proc.vpgid.name": _f("string", "Name of the process-group leader"),
    "proc.vpgid.exe": _f("string", "argv[0] of the process-group leader"),
    "proc.stdin.type": _f("string", "fd.type of descriptor 0 at exec (ipv4, ipv6, unix, pipe, file, ...)"),
    "proc.stdout.type": _f("string", "fd.type of descriptor 1 at exec"),
    "proc.stderr.type": _f("string", "fd.type of descriptor 2 at exec"),
    "proc.stdin.name": _f("string", "fd.name of descriptor 0 at exec when it is a socket (cip:cport->sip:sport)"),
    "proc.stdout.name": _f("string", "fd.name of descriptor 1 at exec when it is a socket"),
    "proc.stderr.name": _f("string", "fd.name of descriptor 2 at exec when it is a socket"),
    "thread.cap_effective": _f("string", "Effective capabilities (CAP_SYS_ADMIN CAP_NET_RAW ...)"),
    "thread.cap_permitted": _f("string", "Permitted capabilities"),
    "thread.cap_inheritable": _f("string", "Inheritable capabilities"),
    "thread.tid": _f("int", "Thread id"),
    # ---- user / group
    "user.uid": _f("int", "Effective user id"),
    "user.name": _f("string", "User name"),
    "user.loginuid": _f("int", "Audit login uid (-1 when unset)"),
    "user.loginname": _f("string", "Audit login user name"),
    "user.homedir": _f("string", "Home directory of the user"),
    "user.shell": _f("string", "Login shell of the user"),
    "group.gid": _f("int", "Effective group id"),
    "group.name": _f("string", "Group name"),
    # ---- file descriptors / network
    "fd.num": _f("int", "File descriptor number"),
    "fd.type": _f("string", "file, directory, ipv4, ipv6, unix, memfd, ..."),
    "fd.typechar": _f("string", "f file, d directory, 4 ipv4, 6 ipv6, u unix, ..."),
    "fd.name": _f("string", "File path, or 'cip:cport->sip:sport' for sockets"),
    "fd.directory": _f("string", "Directory part of fd.name"),
    "fd.filename": _f("string", "File name part of fd.name"),
    "fd.sip": _f("string", "Server IP address"),
    "fd.sport": _f("int", "Server port"),
    "fd.cip": _f("string", "Client IP address"),
    "fd.cport": _f("int", "Client port"),
    "fd.rip": _f("string", "Remote IP address"),
    "fd.rport": _f("int", "Remote port"),
    "fd.lip": _f("string", "Local IP address"),
    "fd.lport": _f("int", "Local port"),
    "fd.l4proto": _f("string", "tcp, udp, icmp, raw"),
    "fd.sockfamily": _f("string", "ip or unix"),
    "fd.ip": _f("list", "Either end's IP address (client or server)"),
    "fd.net": _f("ipnet", "Either end's IP address, compared with networks: fd.net = 10.0.0.0/8"),
    "fd.snet": _f("ipnet", "Server IP address, compared with networks (CIDR)"),
    "fd.cnet": _f("ipnet", "Client IP address, compared with networks (CIDR)"),
    "fd.rnet": _f("ipnet", "Remote IP address, compared with networks (CIDR)"),
    "fd.lnet": _f("ipnet", "Local IP address, compared with networks (CIDR)"),
    "fd.port": _f("ilist", "Either end's port (client or server)"),
    "fd.sip.name": _f("string", "Domain name the server IP was resolved from"),
    "fd.cip.name": _f("string", "Domain name the client IP was resolved from"),
    "fd.rip.name": _f("string", "Domain name the remote IP was resolved from"),
    "fd.lip.name": _f("string", "Domain name the local IP was resolved from"),
    "fd.nameraw": _f("string", "File name as the program passed it (not normalised)"),
    "fd.connected": _f("bool", "The socket is connected"),
    "fd.name_changed": _f("bool", "The fd name changed with this event"),
    "fd.ino": _f("int", "Inode of the file"),
    "fd.is_server": _f("bool", "The process is the server end of the connection (accept/listen)"),
    "fs.path.name": _f("string", "Path argument of unlink/rename/chmod/mkdir/link/symlink events"),
    "fs.path.source": _f("string", "Source path of rename/link/symlink events"),
    "fs.path.target": _f("string", "Target path of rename/link/symlink events"),
    # ---- containers
    "container.id": _f("string", "Short (12 character) container id, 'host' outside containers"),
    "container.name": _f("string", "Container name"),
    "container.image": _f("string", "Image reference as the container was created (repository:tag)"),
    "container.image.repository": _f("string", "Image repository"),
    "container.image.tag": _f("string", "Image tag"),
    "container.image.digest": _f("string", "Image digest"),
    "container.privileged": _f("bool", "The container runs privileged"),
    "container.mount.source": _f("list", "Host paths mounted into the container; [N] the N-th, [GLOB] the source of the "
                                 "mount whose destination matches GLOB", arg="optional"),
    "container.mount.dest": _f("list", "Mount points inside the container; [N] the N-th, [GLOB] the destination of the "
                               "mount whose source matches GLOB", arg="optional"),
    "container.cap_add": _f("list", "Capabilities added to the container"),
    "container.network_mode": _f("string", "Network mode (bridge, host, none, container:ID)"),
    "container.user": _f("string", "User the container was started as"),
    "container.image.id": _f("string", "Image id (config digest)"),
    "container.full_id": _f("string", "Full 64-character container id"),
    "container.label": _f("dict", "A container label: container.label[com.example.team]; without NAME all labels",
                          arg="optional"),
    "container.labels": _f("dict", "All container labels as text (KEY=VALUE ...)"),
    "container.mounts": _f("list", "Mounts as SOURCE:DEST entries"),
    "container.cap_drop": _f("list", "Capabilities dropped from the container"),
    "container.type": _f("string", "Container runtime (docker, containerd, cri-o, podman)"),
    "container.ip": _f("string", "Primary IP address of the container"),
    "container.start_ts": _f("int", "Container start time (ns since the epoch)"),
    "container.healthcheck": _f("string", "The container's health-check command"),
    "container.liveness_probe": _f("string", "The pod's liveness probe command"),
    "container.readiness_probe": _f("string", "The pod's readiness probe command"),
    "k8s.ns.name": _f("string", "Kubernetes namespace of the container's pod"),
    "k8s.pod.name": _f("string", "Kubernetes pod name of the container"),
    "k8s.pod.uid": _f("string", "Kubernetes pod uid of the container"),
    "k8s.pod.labels": _f("dict", "All pod labels as text (KEY:VALUE, ...)"),
    "k8s.pod.sandbox_id": _f("string", "Short id of the pod's sandbox (pause) container"),
    "k8s.pod.label": _f("dict", "A pod label: k8s.pod.label[app]; without NAME all labels as text", arg="optional"),
    "k8s.ns.name.label": _f("dict", "Not supplied by ContainerGuard (kept for rule compatibility)", arg="optional"),
    # ---- Kubernetes audit (ka.*) and raw JSON (jevt.*)
    "jevt.value": _f("json", "Value at a JSON pointer in the raw audit event: jevt.value[/user/username]", _K, "required"),
    "jevt.time": _f("string", "Audit event time (stageTimestamp) as RFC 3339 text", _K),
    "jevt.rawtime": _f("int", "Audit event time in nanoseconds", _K),
    "ka.auditid": _f("string", "Audit event id", _K),
    "ka.stage": _f("string", "Audit stage (ResponseComplete, ...)", _K),
    "ka.auth.decision": _f("string", "Authorization decision (allow, forbid)", _K),
    "ka.auth.reason": _f("string", "Authorization reason", _K),
    "ka.user.name": _f("string", "User name", _K),
    "ka.user.groups": _f("list", "User groups", _K),
    "ka.impuser.name": _f("string", "Impersonated user name", _K),
    "ka.verb": _f("string", "Action verb (create, get, list, delete, patch, ...)", _K),
    "ka.uri": _f("string", "Request URI", _K),
    "ka.uri.param": _f("string", "Query parameter of the request URI: ka.uri.param[command]", _K, "required"),
    "ka.target.name": _f("string", "Target object name", _K),
    "ka.target.namespace": _f("string", "Target namespace", _K),
    "ka.target.resource": _f("string", "Target resource (pods, secrets, ...)", _K),
    "ka.target.subresource": _f("string", "Target subresource (exec, attach, log, ...)", _K),
    "ka.req.pod.containers.image": _f("list", "Images of the pod's containers in the request", _K),
    "ka.req.pod.containers.image.repository": _f("list", "Image repositories of the pod's containers", _K),
    "ka.req.pod.containers.privileged": _f("list", "securityContext.privileged of each container (true/false)", _K),
    "ka.req.pod.containers.host_port": _f("list", "hostPort of each container port", _K),
    "ka.req.pod.containers.add_capabilities": _f("list", "Capabilities added by any container", _K),
    "ka.req.pod.host_network": _f("string", "spec.hostNetwork (true/false)", _K),
    "ka.req.pod.host_pid": _f("string", "spec.hostPID (true/false)", _K),
    "ka.req.pod.volumes.hostpath": _f("list", "hostPath volume paths", _K),
    "ka.req.service.type": _f("string", "Service type in the request", _K),
    "ka.req.role.rules.verbs": _f("list", "Verbs of a role's rules", _K),
    "ka.req.role.rules.resources": _f("list", "Resources of a role's rules", _K),
    "ka.req.binding.role": _f("string", "Role referenced by a (cluster)role binding", _K),
    "ka.req.binding.subjects": _f("list", "Subject names of a (cluster)role binding", _K),
    "ka.resp.name": _f("string", "Object name in the response", _K),
    "ka.response.code": _f("int", "HTTP response code", _K),
    "ka.response.reason": _f("string", "Response status reason", _K),
    "ka.useragent": _f("string", "User agent of the client", _K),
    "ka.sourceips": _f("list", "Source IP addresses of the request", _K),
}

SUPPORTED_FIELDS: set[str] = set(FIELD_CATALOG)

#: Ancestor fields: catalog name -> (list storage key, parent first; the process's own field for [0]).
#: Every operator on them matches if any ancestor matches.
ANCESTORS = {
    "proc.aname": ("proc.anames", "proc.name"),
    "proc.apid": ("proc.apids", "proc.pid"),
    "proc.aexe": ("proc.aexes", "proc.exe"),
    "proc.aexepath": ("proc.aexepaths", "proc.exepath"),
    "proc.acmdline": ("proc.acmdlines", "proc.cmdline"),
}
ANCESTOR_FIELDS = frozenset(ANCESTORS)

#: Where an event keeps a field whose catalog name differs from its storage key.
_STORAGE = {**{k: v[0] for k, v in ANCESTORS.items()}, "jevt.value": "jevt", "ka.uri.param": "ka.uri",
            "k8s.pod.label": "k8s.pod.labels", "container.label": "container.labels"}
#: Fields that read one key of a dict (or all of it as KEY=VALUE text without an argument).
DICT_FIELDS = frozenset({"proc.env", "k8s.pod.label", "k8s.pod.labels", "container.label", "container.labels"})


def storage_key(name: str) -> str:
    """The key in ``Event.fields`` that holds field ``name`` (see docs/events.md)."""
    return _STORAGE.get(name, name)


def lookup(token: str) -> tuple[str, str | None] | None:
    """Split ``token`` (``proc.aname``, ``evt.arg.flags``) into (catalog name, argument) or None if unknown.

    The bracket argument, if any, has already been split off by the parser; ``evt.arg.NAME`` is the dotted
    spelling of ``evt.arg[NAME]``.
    """
    if token in FIELD_CATALOG:
        return token, None
    for prefix in ("evt.arg.", "evt.rawarg."):
        if token.startswith(prefix) and len(token) > len(prefix):
            return prefix[:-1], token[len(prefix):]
    return None
