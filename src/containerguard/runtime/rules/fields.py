"""The field catalog: every field a condition or an output may name, its type, producer, source and argument.

One row per field. Adding a field is one row here plus the code of its producer that fills it in; ``rules
fields``, the agent's availability check (a rule needing a field no running producer supplies is disabled
with a warning) and docs/fields.md (:func:`catalog_markdown`) all come from this table.

Types: ``string``, ``int``, ``bool``, ``bytes``, ``list`` (several string values), ``ilist`` (several
integers), ``dict`` (keyed by the argument), ``json`` (a JSON pointer argument into the raw event) and
``ipnet`` (an IP address compared with networks: ``fd.snet in ("10.0.0.0/8", "192.168.0.0/16")``).
``arg`` says whether the field takes ``[ARG]``: ``none``, ``optional``, ``required``.

Producers (:data:`PRODUCERS`) are the pipeline stages and event sources that fill fields in; each feeds one
event source (:data:`containerguard.runtime.rules.vocabulary.SOURCES`), which is the field's default source.

How an event stores each field is described in docs/events.md; :func:`storage_key` names the key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple


class Producer(NamedTuple):
    """Who fills a field in, and the event source its fields belong to (``any``: every source)."""

    name: str
    source: str
    description: str


#: Every producer of fields, in pipeline order. ``none`` marks catalog fields kept for rule compatibility that
#: nothing supplies yet: the agent disables rules needing them; ``rules replay`` evaluates them from recordings.
PRODUCERS: dict[str, Producer] = {p.name: p for p in (
    Producer("sensor", "syscall", "the eBPF sensor's syscall events, decoded by runtime/sensor"),
    Producer("process_table", "syscall", "the agent's process table (exec events and /proc)"),
    Producer("users", "syscall", "user names from the container's (or host's) /etc/passwd"),
    Producer("containers", "syscall", "the agent's container table (Docker Engine API)"),
    Producer("baseline", "syscall", "behavioural baselines (runtime/baseline)"),
    Producer("dns", "syscall",
             "domain names of socket addresses (runtime/dns.py): as Falco, the names the enabled rules compare these "
             "fields with are resolved (at rule load, refreshed every 10 s, backing off to 320 s while unchanged) and "
             "an address takes the first watched name that resolves to it; `=`, `in` and `!=` compare with every "
             "such name. Also counted: the container's own host entries (`docker run --add-host`). "
             "`agent --resolve-names dns|hosts|off` (hosts: /etc/hosts only, no DNS query)"),
    Producer("engine", "syscall", "computed by the rules engine from other fields of the event"),
    Producer("agent", "any", "the agent itself: host name, sequence number, event clock"),
    Producer("k8s_audit", "k8s_audit", "Kubernetes audit events (webhook or log file)"),
    Producer("aws_cloudtrail", "aws_cloudtrail",
             "AWS CloudTrail records (runtime/cloud/cloudtrail.py; names and meaning of Falco's cloudtrail plugin)"),
    Producer("gcp_auditlog", "gcp_auditlog",
             "Google Cloud Audit Logs entries (runtime/cloud/gcp.py; names and meaning of Falco's gcpaudit plugin)"),
    Producer("azure_activitylog", "azure_activitylog",
             "Azure Activity Log records (runtime/cloud/azure.py; ContainerGuard's own names, docs/cloud.md)"),
    Producer("audit_json", "any",
             "the raw JSON document of a Kubernetes audit or cloud audit event (Falco's json plugin)"),
    Producer("none", "syscall", "not supplied by ContainerGuard (kept for rule compatibility)"),
)}

#: What ``containerguard agent`` runs: the syscall pipeline's producers (k8s_audit joins with --k8s-audit-listen).
AGENT_PRODUCERS = frozenset({"sensor", "process_table", "users", "containers", "engine", "agent", "dns"})


class FieldSpec(NamedTuple):
    """One catalog row."""

    type: str
    description: str
    source: str = "syscall"  # the event source it belongs to (vocabulary.SOURCES) or "any"
    arg: str = "none"  # none | optional | required
    producer: str = "none"  # a key of PRODUCERS


def _f(producer: str, type_: str, desc: str, arg: str = "none", source: str | None = None) -> FieldSpec:
    return FieldSpec(type_, desc, source or PRODUCERS[producer].source, arg, producer)


_SENSOR, _PROCS, _USERS, _CONT = "sensor", "process_table", "users", "containers"
_ENGINE, _AGENT, _KA, _NONE = "engine", "agent", "k8s_audit", "none"
_CT, _GCP, _AZ, _JSON = "aws_cloudtrail", "gcp_auditlog", "azure_activitylog", "audit_json"

FIELD_CATALOG: dict[str, FieldSpec] = {
    # ---- event
    "evt.type": _f(_SENSOR, "string", "Event type (execve, openat, connect, container, ...)"),
    "evt.dir": _f(_SENSOR, "string", "Direction: '<' exit (the sensor reports exits), '>' enter"),
    "evt.num": _f(_AGENT, "int", "Sequence number of the event"),
    "evt.rawtime": _f(_AGENT, "int", "Event time, nanoseconds since the epoch"),
    "evt.time": _f(_ENGINE, "string", "Event time as RFC 3339 text"),
    "evt.res": _f(_SENSOR, "string", "Result: SUCCESS or the errno name (ENOENT, EACCES, ...)"),
    "evt.rawres": _f(_SENSOR, "int", "Raw return value"),
    "evt.failed": _f(_SENSOR, "bool", "True when the syscall failed"),
    "evt.arg": _f(_SENSOR, "string", "A syscall argument by name (evt.arg.flags, evt.arg[flags]) or position (evt.arg[0])",
                  arg="required"),
    "evt.args": _f(_AGENT, "string", "All arguments of the exit event as text, in Falco's layout "
                   "(`fd=3(<f>/etc/shadow) dirfd=-100(AT_FDCWD) name=/etc/shadow flags=4097(O_RDONLY|O_CLOEXEC) mode=0`): "
                   "descriptors with their type and name, errno names, open flags in Falco's encoding, octal modes, "
                   "relative paths followed by their resolved form. Differences from Falco: parameters the sensor "
                   "does not capture are left out (dev and ino of opens, accept queue figures, execve's memory, "
                   "cgroup, env and vpgid counters; ptrace addr/data), and request/flag values other than open flags "
                   "print as decoded names or numbers (`request=PTRACE_TRACEME`, `nstype=CLONE_NEWNS`). Recordings "
                   "may hold it as a dict of NAME: value (read by evt.arg.NAME)"),
    "evt.buffer": _f(_SENSOR, "bytes", "Data buffer of sendto/recvfrom/sendmsg/recvmsg events (sendmsg/recvmsg: the first "
                     "iovec): the first 80 bytes that went through (Falco's default snaplen), captured only when an "
                     "enabled rule reads evt.buffer; printed with non-printable bytes as '.'; not supplied for "
                     "read/write, which the sensor does not trace"),
    "evt.buflen": _f(_SENSOR, "int", "Bytes sent or received by a data call (with evt.buffer)"),
    "evt.is_open_read": _f(_SENSOR, "bool", "An open for reading"),
    "evt.is_open_write": _f(_SENSOR, "bool", "An open for writing (O_WRONLY, O_RDWR, O_CREAT, O_TRUNC)"),
    "evt.is_open_exec": _f(_SENSOR, "bool", "An open of a file with execute permission / O_CREAT with +x mode"),
    "evt.is_open_create": _f(_SENSOR, "bool", "An open with O_CREAT"),
    "evt.hostname": _f(_AGENT, "string", "Host name of the machine the event came from"),
    "evt.rawarg": _f(_NONE, "string", "A syscall argument by name, unformatted (evt.rawarg.NAME, evt.rawarg[NAME])", arg="required"),
    "evt.category": _f(_NONE, "string", "Event category (file, net, process, ...)"),
    "evt.abspath": _f(_NONE, "string", "Absolute path argument of *at syscalls"),
    # ---- process
    "proc.pid": _f(_PROCS, "int", "Process id"),
    "proc.vpid": _f(_PROCS, "int", "Process id inside its pid namespace (1 for a container's init)"),
    "proc.ppid": _f(_PROCS, "int", "Parent process id"),
    "proc.name": _f(_PROCS, "string", "Process name (comm, up to 16 characters)"),
    "proc.exe": _f(_PROCS, "string", "argv[0] as executed"),
    "proc.exepath": _f(_PROCS, "string", "Full path of the executable (memfd:NAME for memfd executables)"),
    "proc.cmdline": _f(_PROCS, "string", "Name and arguments joined by spaces"),
    "proc.args": _f(_PROCS, "string", "Arguments joined by spaces"),
    "proc.cwd": _f(_PROCS, "string", "Working directory"),
    "proc.tty": _f(_PROCS, "int", "Controlling terminal (0 when none)"),
    "proc.sid": _f(_PROCS, "int", "Session id"),
    "proc.pname": _f(_PROCS, "string", "Parent process name"),
    "proc.pcmdline": _f(_PROCS, "string", "Parent command line"),
    "proc.pexepath": _f(_PROCS, "string", "Parent executable path"),
    "proc.exe_resolved": _f(_PROCS, "string", "The executable with its symbolic links resolved inside the process's root, "
                                              "as the kernel opened it (/bin/sh -> /usr/bin/dash); one program has one "
                                              "path however it was started"),
    "proc.pexe_resolved": _f(_PROCS, "string", "The parent's executable with its symbolic links resolved (proc.exe_resolved)"),
    "proc.aname": _f(_PROCS, "list", "Ancestor name: proc.aname[N] (N=1 parent); without N any ancestor", arg="optional"),
    "proc.apid": _f(_PROCS, "ilist", "Ancestor pid: proc.apid[N] (N=1 parent); without N any ancestor", arg="optional"),
    "proc.env": _f(_PROCS, "dict", "Environment: proc.env[NAME] one variable; without NAME all as text", arg="optional"),
    "proc.is_exe_upper_layer": _f(_PROCS, "bool", "The executable lives in the container's writable (upper) layer"),
    "proc.is_exe_from_memfd": _f(_PROCS, "bool", "The executable is a memfd (fileless execution)"),
    "proc.exe_written": _f(_PROCS, "bool", "The agent saw this executable path written or chmod +x since the container started"),
    "proc.exe_drift": _f(_PROCS, "string", "Zero-drift from the image layers: empty for the image's own executable, else why "
                                           "not (not in the layers, replaced, mode changed); <NA> when the layers are not known"),
    "proc.is_container_healthcheck": _f(_NONE, "bool", "The process is the container's Docker health check"),
    "proc.aexe": _f(_PROCS, "list", "Ancestor argv[0]: proc.aexe[N] (N=1 parent); without N any ancestor", arg="optional"),
    "proc.aexepath": _f(_PROCS, "list", "Ancestor executable path: proc.aexepath[N]; without N any ancestor", arg="optional"),
    "proc.acmdline": _f(_PROCS, "list", "Ancestor command line: proc.acmdline[N]; without N any ancestor", arg="optional"),
    "proc.pexe": _f(_PROCS, "string", "Parent argv[0]"),
    "proc.exeline": _f(_PROCS, "string", "argv[0] and the arguments joined by spaces"),
    "proc.cmdnargs": _f(_PROCS, "int", "Number of command-line arguments"),
    "proc.cmdlenargs": _f(_PROCS, "int", "Total length of the command-line arguments"),
    "proc.duration": _f(_AGENT, "int", "Nanoseconds since the process started"),
    "proc.start_ns": _f(_PROCS, "int", "Process start time (ns since the epoch)"),
    "proc.sname": _f(_PROCS, "string", "Name of the session leader"),
    "proc.vpgid": _f(_PROCS, "int", "Process group id inside the pid namespace"),
    "proc.pvpid": _f(_PROCS, "int", "Parent process id inside the pid namespace"),
    "proc.is_vpgid_leader": _f(_PROCS, "bool", "The process leads its process group"),
    "proc.loginshellid": _f(_NONE, "int", "Pid of the outermost shell ancestor"),
    "proc.exe_ino": _f(_PROCS, "int", "Inode of the executable"),
    "proc.exe_ino.ctime": _f(_PROCS, "int", "ctime of the executable's inode (ns)"),
    "proc.exe_ino.mtime": _f(_PROCS, "int", "mtime of the executable's inode (ns)"),
    "proc.exe_ino.ctime_duration_proc_start": _f(_PROCS, "int", "Nanoseconds from the executable's inode change "
                                                 "(ctime) to the process start: small for a just-dropped binary"),
    "proc.is_sid_leader": _f(_PROCS, "bool", "The process leads its session"),
    "proc.vpgid.name": _f(_PROCS, "string", "Name of the process-group leader"),
    "proc.vpgid.exe": _f(_PROCS, "string", "argv[0] of the process-group leader"),
    "proc.stdin.type": _f(_PROCS, "string", "fd.type of descriptor 0 at exec (ipv4, ipv6, unix, pipe, file, ...)"),
    "proc.stdout.type": _f(_PROCS, "string", "fd.type of descriptor 1 at exec"),
    "proc.stderr.type": _f(_PROCS, "string", "fd.type of descriptor 2 at exec"),
    "proc.stdin.name": _f(_PROCS, "string", "fd.name of descriptor 0 at exec when it is a socket (cip:cport->sip:sport)"),
    "proc.stdout.name": _f(_PROCS, "string", "fd.name of descriptor 1 at exec when it is a socket"),
    "proc.stderr.name": _f(_PROCS, "string", "fd.name of descriptor 2 at exec when it is a socket"),
    "thread.cap_effective": _f(_SENSOR, "string", "Effective capabilities (CAP_SYS_ADMIN CAP_NET_RAW ...)"),
    "thread.cap_permitted": _f(_SENSOR, "string", "Permitted capabilities"),
    "thread.cap_inheritable": _f(_NONE, "string", "Inheritable capabilities"),
    "thread.tid": _f(_SENSOR, "int", "Thread id"),
    # ---- user / group
    "user.uid": _f(_PROCS, "int", "Effective user id"),
    "user.name": _f(_USERS, "string", "User name"),
    "user.loginuid": _f(_PROCS, "int", "Audit login uid (-1 when unset)"),
    "user.loginname": _f(_USERS, "string", "Audit login user name"),
    "user.homedir": _f(_NONE, "string", "Home directory of the user"),
    "user.shell": _f(_NONE, "string", "Login shell of the user"),
    "group.gid": _f(_PROCS, "int", "Effective group id"),
    "group.name": _f(_USERS, "string", "Group name"),
    # ---- file descriptors / network
    "fd.num": _f(_SENSOR, "int", "File descriptor number"),
    "fd.type": _f(_SENSOR, "string", "file, directory, ipv4, ipv6, unix, memfd, ..."),
    "fd.typechar": _f(_SENSOR, "string", "f file, d directory, 4 ipv4, 6 ipv6, u unix, ..."),
    "fd.name": _f(_SENSOR, "string", "File path, or 'cip:cport->sip:sport' for sockets"),
    "fd.directory": _f(_SENSOR, "string", "Directory part of fd.name"),
    "fd.filename": _f(_SENSOR, "string", "File name part of fd.name"),
    "fd.sip": _f(_SENSOR, "string", "Server IP address"),
    "fd.sport": _f(_SENSOR, "int", "Server port"),
    "fd.cip": _f(_SENSOR, "string", "Client IP address"),
    "fd.cport": _f(_SENSOR, "int", "Client port"),
    "fd.rip": _f(_SENSOR, "string", "Remote IP address"),
    "fd.rport": _f(_SENSOR, "int", "Remote port"),
    "fd.lip": _f(_SENSOR, "string", "Local IP address"),
    "fd.lport": _f(_SENSOR, "int", "Local port"),
    "fd.l4proto": _f(_SENSOR, "string", "tcp, udp, icmp, raw"),
    "fd.sockfamily": _f(_SENSOR, "string", "ip or unix"),
    "fd.ip": _f(_ENGINE, "list", "Either end's IP address (client or server)"),
    "fd.net": _f(_ENGINE, "ipnet", "Either end's IP address, compared with networks: fd.net = 10.0.0.0/8"),
    "fd.snet": _f(_ENGINE, "ipnet", "Server IP address, compared with networks (CIDR)"),
    "fd.cnet": _f(_ENGINE, "ipnet", "Client IP address, compared with networks (CIDR)"),
    "fd.rnet": _f(_ENGINE, "ipnet", "Remote IP address, compared with networks (CIDR)"),
    "fd.lnet": _f(_ENGINE, "ipnet", "Local IP address, compared with networks (CIDR)"),
    "fd.port": _f(_ENGINE, "ilist", "Either end's port (client or server)"),
    "fd.sip.name": _f("dns", "string", "Watched domain name (one a rule compares with) that resolves to the server IP; <NA> when none"),
    "fd.cip.name": _f("dns", "string", "Watched domain name that resolves to the client IP; <NA> when none"),
    "fd.rip.name": _f("dns", "string", "Watched domain name that resolves to the remote IP; <NA> when none"),
    "fd.lip.name": _f("dns", "string", "Watched domain name that resolves to the local IP; <NA> when none"),
    "fd.nameraw": _f(_SENSOR, "string", "File name as the program passed it (not normalised)"),
    "fd.connected": _f(_SENSOR, "bool", "The socket is connected"),
    "fd.name_changed": _f(_SENSOR, "bool", "The fd name changed with this event"),
    "fd.ino": _f(_NONE, "int", "Inode of the file"),
    "fd.is_server": _f(_SENSOR, "bool", "The process is the server end of the connection (accept/listen)"),
    "fs.path.name": _f(_SENSOR, "string", "Path argument of unlink/rename/chmod/mkdir/link/symlink events"),
    "fs.path.source": _f(_SENSOR, "string", "Source path of rename/link/symlink events"),
    "fs.path.target": _f(_SENSOR, "string", "Target path of rename/link/symlink events"),
    # ---- containers
    "container.id": _f(_CONT, "string", "Short (12 character) container id, 'host' outside containers"),
    "container.name": _f(_CONT, "string", "Container name"),
    "container.image": _f(_CONT, "string", "Image reference as the container was created (repository:tag)"),
    "container.image.repository": _f(_CONT, "string", "Image repository"),
    "container.image.tag": _f(_CONT, "string", "Image tag"),
    "container.image.digest": _f(_CONT, "string", "Image digest"),
    "container.privileged": _f(_CONT, "bool", "The container runs privileged"),
    "container.mount.source": _f(_CONT, "list", "Host paths mounted into the container; [N] the N-th, [GLOB] the source of the "
                                 "mount whose destination matches GLOB", arg="optional"),
    "container.mount.dest": _f(_CONT, "list", "Mount points inside the container; [N] the N-th, [GLOB] the destination of the "
                               "mount whose source matches GLOB", arg="optional"),
    "container.cap_add": _f(_CONT, "list", "Capabilities added to the container"),
    "container.network_mode": _f(_CONT, "string", "Network mode (bridge, host, none, container:ID)"),
    "container.user": _f(_CONT, "string", "User the container was started as"),
    "container.image.id": _f(_CONT, "string", "Image id (config digest)"),
    "container.full_id": _f(_CONT, "string", "Full 64-character container id"),
    "container.label": _f(_CONT, "dict", "A container label: container.label[com.example.team]; without NAME all labels",
                          arg="optional"),
    "container.labels": _f(_CONT, "dict", "All container labels as text (KEY=VALUE ...)"),
    "container.mounts": _f(_CONT, "list", "Mounts as SOURCE:DEST entries"),
    "container.cap_drop": _f(_CONT, "list", "Capabilities dropped from the container"),
    "container.type": _f(_CONT, "string", "Container runtime (docker, containerd, cri-o, podman)"),
    "container.ip": _f(_NONE, "string", "Primary IP address of the container"),
    "container.start_ts": _f(_CONT, "int", "Container start time (ns since the epoch)"),
    "container.healthcheck": _f(_NONE, "string", "The container's health-check command"),
    "container.liveness_probe": _f(_NONE, "string", "The pod's liveness probe command"),
    "container.readiness_probe": _f(_NONE, "string", "The pod's readiness probe command"),
    "k8s.ns.name": _f(_CONT, "string", "Kubernetes namespace of the container's pod"),
    "k8s.pod.name": _f(_CONT, "string", "Kubernetes pod name of the container"),
    "k8s.pod.uid": _f(_CONT, "string", "Kubernetes pod uid of the container"),
    "k8s.pod.labels": _f(_CONT, "dict", "All pod labels as text (from the pod's sandbox container)"),
    "k8s.pod.sandbox_id": _f(_CONT, "string", "Short id of the pod's sandbox (pause) container"),
    "k8s.pod.label": _f(_CONT, "dict", "A pod label: k8s.pod.label[app]; without NAME all labels as text", arg="optional"),
    "k8s.ns.name.label": _f(_NONE, "dict", "Not supplied by ContainerGuard (kept for rule compatibility)", arg="optional"),
    # ---- Kubernetes audit (ka.*) and raw JSON (jevt.*)
    "jevt.value": _f(_KA, "json", "Value at a JSON pointer in the raw audit event: jevt.value[/user/username]", arg="required"),
    "jevt.time": _f(_KA, "string", "Audit event time (stageTimestamp) as RFC 3339 text"),
    "jevt.rawtime": _f(_KA, "int", "Audit event time in nanoseconds"),
    "ka.auditid": _f(_KA, "string", "Audit event id"),
    "ka.stage": _f(_KA, "string", "Audit stage (ResponseComplete, ...)"),
    "ka.auth.decision": _f(_KA, "string", "Authorization decision (allow, forbid)"),
    "ka.auth.reason": _f(_KA, "string", "Authorization reason"),
    "ka.user.name": _f(_KA, "string", "User name"),
    "ka.user.groups": _f(_KA, "list", "User groups"),
    "ka.impuser.name": _f(_KA, "string", "Impersonated user name"),
    "ka.verb": _f(_KA, "string", "Action verb (create, get, list, delete, patch, ...)"),
    "ka.uri": _f(_KA, "string", "Request URI"),
    "ka.uri.param": _f(_KA, "string", "Query parameter of the request URI: ka.uri.param[command]", arg="required"),
    "ka.target.name": _f(_KA, "string", "Target object name"),
    "ka.target.namespace": _f(_KA, "string", "Target namespace"),
    "ka.target.resource": _f(_KA, "string", "Target resource (pods, secrets, ...)"),
    "ka.target.subresource": _f(_KA, "string", "Target subresource (exec, attach, log, ...)"),
    "ka.req.pod.containers.image": _f(_KA, "list", "Images of the pod's containers (spec.containers) in the request", arg="optional"),
    "ka.req.pod.containers.image.repository": _f(_KA, "list", "Image repositories of the pod's containers", arg="optional"),
    "ka.req.pod.containers.privileged": _f(_KA, "list", "securityContext.privileged of each container (true/false)", arg="optional"),
    "ka.req.pod.initContainers.image": _f(_KA, "list", "Images of the pod's init containers"),
    "ka.req.pod.initContainers.privileged": _f(_KA, "list", "securityContext.privileged of each init container"),
    "ka.req.pod.ephemeralContainers.image": _f(_KA, "list", "Images of the pod's ephemeral (debug) containers"),
    "ka.req.pod.ephemeralContainers.privileged": _f(_KA, "list", "securityContext.privileged of each ephemeral container"),
    "ka.req.container.image": _f(_KA, "string", "Image of the first container (deprecated upstream)"),
    "ka.req.container.image.repository": _f(_KA, "string", "Repository of the first container's image (deprecated upstream)"),
    "ka.req.container.privileged": _f(_KA, "string", "true when any container is privileged (deprecated upstream)"),
    "ka.req.container.host_network": _f(_KA, "string", "Alias of ka.req.pod.host_network (deprecated upstream)"),
    "ka.req.pod.containers.allow_privilege_escalation": _f(_KA, "list", "allowPrivilegeEscalation of the containers that set it", arg="optional"),
    "ka.req.pod.containers.read_only_fs": _f(_KA, "list", "readOnlyRootFilesystem of the containers that set it", arg="optional"),
    "ka.req.pod.containers.run_as_user": _f(_KA, "list", "runAsUser of the containers that set it", arg="optional"),
    "ka.req.pod.containers.run_as_group": _f(_KA, "list", "runAsGroup of the containers that set it", arg="optional"),
    "ka.req.pod.containers.eff_run_as_user": _f(_KA, "list", "Effective uid of each container (container, else pod, else 0)", arg="optional"),
    "ka.req.pod.containers.eff_run_as_group": _f(_KA, "list", "Effective gid of each container (container, else pod, else 0)", arg="optional"),
    "ka.req.pod.containers.proc_mount": _f(_KA, "list", "procMount of the containers that set it", arg="optional"),
    "ka.req.pod.run_as_user": _f(_KA, "string", "Pod securityContext.runAsUser"),
    "ka.req.pod.run_as_group": _f(_KA, "string", "Pod securityContext.runAsGroup"),
    "ka.req.pod.fs_group": _f(_KA, "string", "Pod securityContext.fsGroup"),
    "ka.req.pod.supplemental_groups": _f(_KA, "list", "Pod securityContext.supplementalGroups"),
    "ka.req.pod.host_ipc": _f(_KA, "string", "spec.hostIPC (true/false)"),
    "ka.req.pod.volumes.flexvolume_driver": _f(_KA, "list", "flexVolume drivers of the pod's volumes", arg="optional"),
    "ka.req.pod.volumes.volume_type": _f(_KA, "list", "Volume types (hostPath, secret, ...) of the pod's volumes", arg="optional"),
    "ka.req.service.ports": _f(_KA, "list", "Ports of a service in the request (each as JSON)", arg="optional"),
    "ka.req.configmap.name": _f(_KA, "string", "Name of the configmap in the request"),
    "ka.req.configmap.obj": _f(_KA, "string", "The configmap's data in the request, as JSON text"),
    "ka.req.role.rules": _f(_KA, "list", "Rules of a role / cluster role in the request (each as JSON)"),
    "ka.req.role.rules.apiGroups": _f(_KA, "list", "API groups of a role's rules", arg="optional"),
    "ka.req.role.rules.nonResourceURLs": _f(_KA, "list", "Non-resource URLs of a role's rules", arg="optional"),
    "jevt.obj": _f(_KA, "string", "The whole audit event as JSON text"),
    "ka.req.pod.containers.host_port": _f(_KA, "list", "hostPort of each container port", arg="optional"),
    "ka.req.pod.containers.add_capabilities": _f(_KA, "list", "Capabilities added by any container", arg="optional"),
    "ka.req.pod.host_network": _f(_KA, "string", "spec.hostNetwork (true/false)"),
    "ka.req.pod.host_pid": _f(_KA, "string", "spec.hostPID (true/false)"),
    "ka.req.pod.volumes.hostpath": _f(_KA, "list", "hostPath volume paths", arg="optional"),
    "ka.req.volume.hostpath": _f(_KA, "string", "true when a hostPath volume is the [PATH] (a prefix when it ends "
                                 "with *), else false (deprecated upstream)", arg="required"),
    "ka.req.service.type": _f(_KA, "string", "Service type in the request"),
    "ka.req.role.rules.verbs": _f(_KA, "list", "Verbs of a role's rules", arg="optional"),
    "ka.req.role.rules.resources": _f(_KA, "list", "Resources of a role's rules", arg="optional"),
    "ka.req.binding.role": _f(_KA, "string", "Role referenced by a (cluster)role binding"),
    "ka.req.binding.subjects": _f(_KA, "list", "Subject names of a (cluster)role binding"),
    "ka.resp.name": _f(_KA, "string", "Object name in the response"),
    "ka.response.code": _f(_KA, "int", "HTTP response code"),
    "ka.response.reason": _f(_KA, "string", "Response status reason"),
    "ka.useragent": _f(_KA, "string", "User agent of the client"),
    "ka.sourceips": _f(_KA, "list", "Source IP addresses of the request"),
    # ---- AWS CloudTrail (ct.*, s3.*, ec2.*, ecr.*: Falco cloudtrail plugin names)
    "ct.id": _f(_CT, "string", 'Event ID (eventID)'),
    "ct.error": _f(_CT, "string", 'Error code (errorCode); absent when the call succeeded'),
    "ct.errormessage": _f(_CT, "string", 'Error message (errorMessage)'),
    "ct.time": _f(_CT, "string", 'Event time as written (eventTime)'),
    "ct.src": _f(_CT, "string", 'Service (eventSource, e.g. iam.amazonaws.com)'),
    "ct.shortsrc": _f(_CT, "string", 'eventSource without .amazonaws.com'),
    "ct.name": _f(_CT, "string", 'API call (eventName)'),
    "ct.user": _f(_CT, "string", 'User: userName (Root, IAMUser), invokedBy (AWSService), the issuing role (AssumedRole)'),
    "ct.user.accountid": _f(_CT, "string", 'Account of the caller (userIdentity.accountId)'),
    "ct.user.identitytype": _f(_CT, "string", 'Identity type (Root, IAMUser, AssumedRole, AWSService, ...)'),
    "ct.user.principalid": _f(_CT, "string", 'Principal id of the caller'),
    "ct.user.arn": _f(_CT, "string", 'ARN of the caller'),
    "ct.user.mfaauthenticated": _f(_CT, "string", 'true when the session was MFA-authenticated (sessionContext.attributes)'),
    "ct.user.secretreads": _f(_CT, "int", 'ContainerGuard: secret reads (GetSecretValue, GetParameter(s), ...) by this principal in the last 10 minutes of event time, this one included'),
    "ct.region": _f(_CT, "string", 'Region (awsRegion)'),
    "ct.srcip": _f(_CT, "string", 'Caller address or service (sourceIPAddress)'),
    "ct.useragent": _f(_CT, "string", 'User agent'),
    "ct.info": _f(_CT, "string", 'Summary: who, from where, read or write, what'),
    "ct.managementevent": _f(_CT, "string", 'true for management events'),
    "ct.readonly": _f(_CT, "string", 'true when the call only reads'),
    "ct.requestid": _f(_CT, "string", 'Request id'),
    "ct.eventtype": _f(_CT, "string", 'Record type (AwsApiCall, AwsConsoleSignIn, ...)'),
    "ct.apiversion": _f(_CT, "string", 'API version'),
    "ct.resources": _f(_CT, "string", 'Resources accessed, as JSON text'),
    "ct.recipientaccountid": _f(_CT, "string", 'Account that received the event'),
    "ct.serviceeventdetails": _f(_CT, "string", 'Service event details, as JSON text'),
    "ct.sharedeventid": _f(_CT, "string", 'Shared event id'),
    "ct.vpcendpointid": _f(_CT, "string", 'VPC endpoint of the request'),
    "ct.eventcategory": _f(_CT, "string", 'Event category (Management, Data, Insight)'),
    "ct.addendum.reason": _f(_CT, "string", 'Addendum reason'),
    "ct.addendum.updatedfields": _f(_CT, "string", 'Addendum updated fields'),
    "ct.addendum.originalrequestid": _f(_CT, "string", 'Addendum original request id'),
    "ct.addendum.originaleventid": _f(_CT, "string", 'Addendum original event id'),
    "ct.sessioncredentialfromconsole": _f(_CT, "string", 'true when the credentials came from a console session'),
    "ct.edgedevicedetails": _f(_CT, "string", 'Edge device details, as JSON text'),
    "ct.tlsdetails.tlsversion": _f(_CT, "string", 'TLS version'),
    "ct.tlsdetails.ciphersuite": _f(_CT, "string", 'TLS cipher suite'),
    "ct.tlsdetails.clientprovidedhostheader": _f(_CT, "string", 'Host header the client sent'),
    "ct.additionaleventdata": _f(_CT, "string", 'additionalEventData, as JSON text'),
    "ct.request": _f(_CT, "string", 'All request parameters, as JSON text'),
    "ct.response": _f(_CT, "string", 'All response elements, as JSON text'),
    "ct.response.subnetid": _f(_CT, "string", 'responseElements.subnetId'),
    "ct.response.reservationid": _f(_CT, "string", 'responseElements.reservationId'),
    "ct.request.availabilityzone": _f(_CT, "string", 'requestParameters.availabilityZone'),
    "ct.request.cluster": _f(_CT, "string", 'requestParameters.cluster'),
    "ct.request.functionname": _f(_CT, "string", 'requestParameters.functionName'),
    "ct.request.groupname": _f(_CT, "string", 'requestParameters.groupName'),
    "ct.request.host": _f(_CT, "string", 'requestParameters.Host'),
    "ct.request.name": _f(_CT, "string", 'requestParameters.name'),
    "ct.request.policy": _f(_CT, "string", 'requestParameters.policy'),
    "ct.request.serialnumber": _f(_CT, "string", 'requestParameters.serialNumber'),
    "ct.request.servicename": _f(_CT, "string", 'requestParameters.serviceName'),
    "ct.request.subnetid": _f(_CT, "string", 'requestParameters.subnetId'),
    "ct.request.taskdefinition": _f(_CT, "string", 'requestParameters.taskDefinition'),
    "ct.request.username": _f(_CT, "string", 'requestParameters.userName'),
    "s3.uri": _f(_CT, "string", 's3://BUCKET/KEY of the request'),
    "s3.bucket": _f(_CT, "string", 'Bucket (requestParameters.bucketName)'),
    "s3.key": _f(_CT, "string", 'Object key (requestParameters.key)'),
    "s3.bytes": _f(_CT, "int", 'Bytes transferred in and out'),
    "s3.bytes.in": _f(_CT, "int", 'Bytes uploaded'),
    "s3.bytes.out": _f(_CT, "int", 'Bytes downloaded'),
    "s3.cnt.get": _f(_CT, "int", '1 for GetObject, else 0'),
    "s3.cnt.put": _f(_CT, "int", '1 for PutObject, else 0'),
    "s3.cnt.other": _f(_CT, "int", '0 for GetObject/PutObject, else 1'),
    "ec2.name": _f(_CT, "string", 'Name tag of the instance in a RunInstances request'),
    "ec2.imageid": _f(_CT, "string", 'Image of the first instance in the response'),
    "ecr.repository": _f(_CT, "string", 'ECR repository (requestParameters.repositoryName)'),
    "ecr.imagetag": _f(_CT, "string", 'ECR image tag (requestParameters.imageTag)'),
    # ---- Google Cloud Audit Logs (gcp.*: Falco gcpaudit plugin names; 'ContainerGuard:' rows are ours)
    "gcp.user": _f(_GCP, "string", 'Principal email (authenticationInfo.principalEmail)'),
    "gcp.callerIP": _f(_GCP, "string", 'Caller IP (requestMetadata.callerIp)'),
    "gcp.userAgent": _f(_GCP, "string", 'Caller user agent'),
    "gcp.authorizationInfo": _f(_GCP, "string", 'authorizationInfo, as JSON text'),
    "gcp.serviceName": _f(_GCP, "string", 'API service (serviceName)'),
    "gcp.policyDelta": _f(_GCP, "string", 'IAM binding deltas (serviceData.policyDelta or metadata.datasetChange), as JSON text'),
    "gcp.request": _f(_GCP, "string", 'The request, as JSON text'),
    "gcp.response": _f(_GCP, "string", 'The response, as JSON text'),
    "gcp.methodName": _f(_GCP, "string", 'API method (methodName)'),
    "gcp.cloudfunctions.function": _f(_GCP, "string", 'resource.labels.function_name'),
    "gcp.cloudsql.databaseId": _f(_GCP, "string", 'resource.labels.database_id'),
    "gcp.compute.instanceId": _f(_GCP, "string", 'resource.labels.instance_id'),
    "gcp.compute.networkId": _f(_GCP, "string", 'resource.labels.network_id'),
    "gcp.compute.subnetwork": _f(_GCP, "string", 'resource.labels.subnetwork_name'),
    "gcp.compute.subnetworkId": _f(_GCP, "string", 'resource.labels.subnetwork_id'),
    "gcp.dns.zone": _f(_GCP, "string", 'resource.labels.zone_name'),
    "gcp.iam.serviceAccount": _f(_GCP, "string", 'resource.labels.email_id'),
    "gcp.iam.serviceAccountId": _f(_GCP, "string", 'resource.labels.unique_id'),
    "gcp.location": _f(_GCP, "string", 'Location, region, or zone without its suffix'),
    "gcp.logging.sink": _f(_GCP, "string", 'Sink name (logging_sink resources)'),
    "gcp.projectId": _f(_GCP, "string", 'resource.labels.project_id'),
    "gcp.resourceName": _f(_GCP, "string", 'protoPayload.resourceName'),
    "gcp.resourceType": _f(_GCP, "string", 'resource.type'),
    "gcp.storage.bucket": _f(_GCP, "string", 'resource.labels.bucket_name'),
    "gcp.gke.cluster": _f(_GCP, "string", 'ContainerGuard: resource.labels.cluster_name'),
    "gcp.status.code": _f(_GCP, "int", 'ContainerGuard: google.rpc status code of the call (0 = OK)'),
    "gcp.status.message": _f(_GCP, "string", 'ContainerGuard: status message'),
    "gcp.severity": _f(_GCP, "string", 'ContainerGuard: LogEntry severity'),
    "gcp.logName": _f(_GCP, "string", 'ContainerGuard: LogEntry logName'),
    "gcp.insertId": _f(_GCP, "string", 'ContainerGuard: LogEntry insertId'),
    "gcp.user.secretreads": _f(_GCP, "int", 'ContainerGuard: AccessSecretVersion calls by this principal in the last 10 minutes of event time'),
    # ---- Azure Activity Log (azure.*: ContainerGuard's names)
    "azure.operation": _f(_AZ, "string", 'Operation, lower-cased (microsoft.authorization/roleassignments/write)'),
    "azure.category": _f(_AZ, "string", 'Category (Administrative, Security, Policy, ...)'),
    "azure.result": _f(_AZ, "string", 'Result (Start, Success, Failure in exports; Started, Succeeded, Failed from the REST API)'),
    "azure.result.signature": _f(_AZ, "string", 'Result signature / sub-status'),
    "azure.level": _f(_AZ, "string", 'Level (Informational, Warning, Error, Critical)'),
    "azure.correlationid": _f(_AZ, "string", 'Correlation id'),
    "azure.location": _f(_AZ, "string", 'Location'),
    "azure.tenantid": _f(_AZ, "string", 'Tenant id'),
    "azure.status.code": _f(_AZ, "string", 'HTTP status code (properties.statusCode)'),
    "azure.caller": _f(_AZ, "string", 'Caller: UPN, name, app id or object id'),
    "azure.callerip": _f(_AZ, "string", 'Caller IP address'),
    "azure.claims.appid": _f(_AZ, "string", 'Application id of the caller'),
    "azure.claims.idtyp": _f(_AZ, "string", 'Identity type claim (app, user)'),
    "azure.authorization.action": _f(_AZ, "string", 'Authorized action, lower-cased'),
    "azure.authorization.scope": _f(_AZ, "string", 'Authorized scope, lower-cased'),
    "azure.authorization.role": _f(_AZ, "string", 'Role that granted the action'),
    "azure.resourceid": _f(_AZ, "string", 'Resource id, lower-cased'),
    "azure.subscriptionid": _f(_AZ, "string", 'Subscription id'),
    "azure.resourcegroup": _f(_AZ, "string", 'Resource group, lower-cased'),
    "azure.resource.provider": _f(_AZ, "string", 'Resource provider (microsoft.storage)'),
    "azure.resource.type": _f(_AZ, "string", 'Resource type (microsoft.storage/storageaccounts)'),
    "azure.resource.name": _f(_AZ, "string", 'Resource name (last segment of the resource id), lower-cased'),
    "azure.request": _f(_AZ, "string", 'Request body (properties.requestbody) as text'),
    "azure.response": _f(_AZ, "string", 'Response body (properties.responseBody) as text'),
    "azure.caller.secretreads": _f(_AZ, "int", 'Key and credential reads (listKeys, listClusterAdminCredential, ...) by this caller in the last 10 minutes'),
    "azure.claims": _f(_AZ, "dict", "A claim of the caller's token: azure.claims[appid]", arg="optional"),
    "azure.properties": _f(_AZ, "dict", "A key of the record's properties: azure.properties[entity]", arg="optional"),
    # ---- the raw JSON of audit events (Falco json plugin) and plugin-event fields
    "json.value": _f(_JSON, "json", "Value at a JSON pointer in the raw event: json.value[/requestParameters/bucketName]", arg="required"),
    "evt.plugininfo": _f(_CT, "string", "Summary of a plugin event (ct.info for CloudTrail)", source="any"),
    "evt.time.iso8601": _f(_ENGINE, "string", "Event time as ISO 8601 text", source="any"),
}

SUPPORTED_FIELDS: set[str] = set(FIELD_CATALOG)


def fields_of(producers: Iterable[str]) -> set[str]:
    """The catalog names these producers supply (what a rule may rely on when they run)."""
    wanted = set(producers)
    unknown = wanted - set(PRODUCERS)
    if unknown:
        raise ValueError(f"unknown field producer(s): {', '.join(sorted(unknown))}")
    return {name for name, spec in FIELD_CATALOG.items() if spec.producer in wanted}


def catalog_markdown() -> str:
    """docs/fields.md: the catalog as Markdown, one table per producer (a test keeps the file current)."""
    lines = ["# Rule fields", "",
             "Generated from the field catalog (`src/containerguard/runtime/rules/fields.py`) by",
             "`containerguard rules fields --format markdown`; do not edit by hand. The producer is the pipeline",
             "stage or event source that fills the field in; `containerguard agent` disables (with a warning) a",
             "rule that needs a field no running producer supplies.", ""]
    for prod in PRODUCERS.values():
        names = sorted(n for n, s in FIELD_CATALOG.items() if s.producer == prod.name)
        if not names:
            continue
        lines += [f"## {prod.name}", "", f"{prod.description[0].upper()}{prod.description[1:]}.", "",
                  "| field | type | source | argument | description |", "|---|---|---|---|---|"]
        for n in names:
            s = FIELD_CATALOG[n]
            desc = s.description.replace("|", "\\|")
            lines.append(f"| `{n}` | {s.type} | {s.source} | {s.arg} | {desc} |")
        lines.append("")
    return "\n".join(lines)

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
_STORAGE = {**{k: v[0] for k, v in ANCESTORS.items()}, "jevt.value": "jevt", "json.value": "jevt",
            "evt.plugininfo": "ct.info", "ka.uri.param": "ka.uri",
            "k8s.pod.label": "k8s.pod.labels", "container.label": "container.labels"}
#: Domain-name fields and the address field each names (runtime/dns.py fills them). ``=``, ``!=`` and ``in`` compare
#: with every watched name the address resolves to, stored under the field's name plus ``s`` (``fd.sip.names``).
DNS_NAME_FIELDS = {"fd.sip.name": "fd.sip", "fd.cip.name": "fd.cip", "fd.rip.name": "fd.rip", "fd.lip.name": "fd.lip"}

#: Fields that read one key of a dict (or all of it as KEY=VALUE text without an argument).
DICT_FIELDS = frozenset({"proc.env", "k8s.pod.label", "container.label", "container.labels", "azure.claims",
                         "azure.properties"})


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
