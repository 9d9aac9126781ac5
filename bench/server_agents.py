"""1,000 agents on loopback against a real ``containerguard server`` (issue #11, "Performance"): every agent
sends its container inventory (a snapshot of its running containers) once a minute through the real agent
report endpoint, and a tenth of the agents send alert bursts each minute; the script reports the server
process's CPU (from /proc, user+system; on PostgreSQL also that of its backends for this database) and the
database's growth, per agent and per agent-minute -- the measured costs docs/scaling.md extrapolates from.

The agents are asyncio tasks in this process (one token each, as real agents have), spread evenly over the
minute. The server starts from an empty store (SQLite by default, ``--db postgresql`` for a fresh PostgreSQL
database dropped after). Client and server share this machine's CPUs, so the server CPU figure is the one to
read; the "lag" line says whether the server kept up with the schedule.

    .venv/bin/python bench/server_agents.py                                 # 1,000 agents, 2 minutes, SQLite
    .venv/bin/python bench/server_agents.py --db postgresql
    .venv/bin/python bench/server_agents.py --agents 200 --minutes 1 --period 20   # quick (stated sizes)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import random
import resource
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import target_line
from bench._server_seed import ADMIN

CONTAINERS = 12  # running containers per host (a typical Kubernetes node)
BURST = 200  # alerts in one burst
BURSTING = 0.1  # share of agents sending a burst each minute


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _pg_name(db: str) -> str:
    return db.split("///", 1)[1].split("?", 1)[0]


def db_cpu(db: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving ``db`` now (pid -> user+system); {} for SQLite, whose work
    runs inside the server process and is counted there."""
    if not db.startswith("postgresql"):
        return {}
    out = subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-tAc",
                          f"SELECT pid FROM pg_stat_activity WHERE datname = '{_pg_name(db)}' AND pid <> pg_backend_pid()"],
                         capture_output=True, text=True, check=True)
    cpu = {}
    for pid in (int(x) for x in out.stdout.split()):
        with contextlib.suppress(OSError, IndexError):  # gone meanwhile
            cpu[pid] = cpu_seconds(pid)
    return cpu


def db_bytes(db: str) -> int:
    if db.startswith("postgresql"):
        out = subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-tAc",
                              f"SELECT pg_database_size('{_pg_name(db)}')"],
                             capture_output=True, text=True, check=True)
        return int(out.stdout.strip())
    return sum(p.stat().st_size for p in Path(db).parent.glob(Path(db).name + "*"))  # db, -wal, -shm


def containers(host: int, minute: int) -> list[dict[str, object]]:
    # one container of the twelve is replaced every minute (a rollout), the rest keep running
    out = []
    for c in range(CONTAINERS):
        gen = minute if c == 0 else 0
        out.append({"id": f"{host:08x}{c:04x}{gen:052x}", "name": f"svc-{c}-{gen}",
                    "image": f"registry.local/team-{(host + c) % 17}/app-{(host * 7 + c) % 1000}:1",
                    "image_id": f"sha256:{(host * 7 + c) % 1000 + 1:064x}", "privileged": c == 11,
                    "cap_add": ["NET_ADMIN"] if c == 10 else [], "mounts": [{"Source": "/data", "Destination": "/data"}],
                    "ports": [{"PrivatePort": 8080}], "network_mode": "bridge"})
    return out


async def agent(c: httpx.AsyncClient, token: str, host: str, index: int, minutes: int, period: float,
                t_start: float, stats: dict[str, float]) -> None:
    rnd = random.Random(index)
    offset = period * index / max(1, stats["agents"])  # spread the agents over the period
    auth = {"Authorization": f"Bearer {token}"}
    for minute in range(minutes):
        due = t_start + minute * period + offset
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        stats["lag"] = max(stats["lag"], time.perf_counter() - due)
        alerts = []
        if rnd.random() < BURSTING:
            now = dt.datetime.now(dt.UTC).isoformat()
            alerts = [{"uid": f"{index}-{minute}-{i}-{uuid.uuid4().hex[:8]}", "time": now,
                       "rule": "Terminal shell in container", "priority": "Warning" if i % 40 else "Critical",
                       "output": f"shell spawned (user=root proc.name=bash pid={i})",
                       "container_id": f"{index:08x}{i % CONTAINERS:04x}{0:052x}",
                       "container_name": f"svc-{i % CONTAINERS}-0", "output_fields": {"proc.name": "bash"}}
                      for i in range(BURST)]
        body = {"host": host, "batch_id": f"m{minute}-{uuid.uuid4().hex[:12]}", "agent_version": "bench",
                "containers": containers(index, minute), "alerts": alerts}
        t0 = time.perf_counter()
        r = None
        last = ""
        for _attempt in range(3):  # the server closes idle keep-alive connections (5 s): an agent reconnects
            try:
                r = await c.post("/api/v1/agent/report", json=body, headers=auth)
                break
            except httpx.TransportError as e:
                stats["retries"] += 1
                last = f"{type(e).__name__} {e}"
        if r is None:
            stats["errors"] += 1
            print(f"agent {index}: {last}", file=sys.stderr)
            continue
        stats["requests"] += 1
        stats["latency_max"] = max(stats["latency_max"], time.perf_counter() - t0)
        if r.status_code != 200:
            stats["errors"] += 1
        else:
            stats["alerts"] += r.json()["alerts_stored"]


async def run(url: str, tokens: list[tuple[str, str]], minutes: int, period: float) -> dict[str, float]:
    stats = {"agents": float(len(tokens)), "lag": 0.0, "requests": 0.0, "errors": 0.0, "alerts": 0.0,
             "latency_max": 0.0, "retries": 0.0}
    # one connection pool (as if each agent kept its own connection alive), built before the clock starts
    limits = httpx.Limits(max_connections=len(tokens), max_keepalive_connections=len(tokens))
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as c:
        t_start = time.perf_counter() + 1
        await asyncio.gather(*(agent(c, tok, host, i, minutes, period, t_start, stats)
                               for i, (tok, host) in enumerate(tokens)))
    return stats


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", help="'postgresql' for a fresh PostgreSQL database (dropped after); default a new SQLite file")
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--minutes", type=int, default=2, help="report rounds per agent (default 2)")
    ap.add_argument("--period", type=float, default=60.0, help="seconds between an agent's reports (default 60)")
    args = ap.parse_args()

    from bench.server_api import start_server
    from tests.fixtures import server as srv

    # one connection per agent on each side: a server for 1,000 agents needs more than the usual 1,024 open
    # files (systemd: LimitNOFILE); the server process inherits this limit
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"server-agents-bench-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    drop = None
    if args.db == "postgresql":
        db = drop = srv.postgres_url("cg_bench")
    else:
        db = str(work / "db.sqlite")
    proc = start_server(db, work)
    ok = True
    try:
        url = proc.url  # type: ignore[attr-defined]
        pid = proc.proc.pid  # type: ignore[attr-defined]
        with httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {ADMIN}"}) as admin:
            tokens = []
            for a in range(args.agents):
                r = admin.post("/api/v1/tokens", json={"name": f"node-{a:05d}", "role": "agent"})
                assert r.status_code == 201, r.text
                tokens.append((r.json()["token"], r.json()["name"]))
        size0, cpu0, dbcpu0, t0 = db_bytes(db), cpu_seconds(pid), db_cpu(db), time.perf_counter()
        stats = asyncio.run(run(url, tokens, args.minutes, args.period))
        wall = time.perf_counter() - t0
        cpu, size = cpu_seconds(pid) - cpu0, db_bytes(db) - size0
        # backends that ended during the run (none with the server's persistent pool) are not counted
        dbcpu = sum(c - dbcpu0.get(p, 0.0) for p, c in db_cpu(db).items())
        agent_minutes = args.agents * args.minutes  # reports: one per agent-minute at the default period
        kind = "PostgreSQL" if db.startswith("postgresql") else "SQLite"
        print(f"{kind}: {args.agents} agents x {args.minutes} rounds every {args.period:.0f} s "
              f"({CONTAINERS} containers each, {BURSTING:.0%} send {BURST} alerts a round): "
              f"{stats['requests']:.0f} reports, {stats['alerts']:.0f} alerts stored, {stats['errors']:.0f} errors, "
              f"{stats['retries']:.0f} reconnects, "
              f"{wall:.0f} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        ok &= stats["errors"] == 0
        # the server keeps up when its CPU for a period's work stays under one core's period
        ok &= target_line("server CPU share of one core", cpu / wall * 100, 100, "%", fmt="7.1f",
                          note=f"{cpu:.1f} CPU s in {wall:.0f} s")
        print(f"server CPU per agent report       {cpu / agent_minutes * 1000:7.2f} ms")
        if db.startswith("postgresql"):
            print(f"PostgreSQL CPU per agent report   {dbcpu / agent_minutes * 1000:7.2f} ms"
                  f"   ({dbcpu:.1f} CPU s in its backends for this database)")
        print(f"database growth per agent report  {size / agent_minutes / 1024:7.2f} KiB"
              f"   ({size / 1024 / 1024:.1f} MiB in all, incl. {stats['alerts']:.0f} alerts)")
        print(f"database growth per agent          {size / args.agents / 1024:7.2f} KiB over {args.minutes} rounds")
        ok &= target_line("schedule lag (max)", stats["lag"], args.period / 2, "s", fmt="7.2f",
                          note=f"slowest report {stats['latency_max']:.2f} s")
    finally:
        proc.stop()  # type: ignore[attr-defined]
        if drop:
            srv.drop_postgres(drop)
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
