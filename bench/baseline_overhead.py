"""Behavioural baselines: the cost they add per event, and the size of a busy workload's baseline.

    python bench/baseline_overhead.py [--count 200000] [--rounds 15] [--repeat 5] [--upstream]

1. The rules engine's event mix (bench/rules_eventmix.py: a dozen containers and the host) is evaluated through
   the agent's evaluation path (runtime/evaluate.Evaluator) with the default ruleset, without and with the
   baseline detector. The detector first learns the mix, then every workload is switched to monitor, so the
   timed pass checks every event against a learned baseline (the steady state). Target: baselines add at most
   10 % to the engine's per-event cost.
   Each event is evaluated as the agent evaluates it: right after its field dict is built (the agent's enrich
   stage builds a new dict per event from the process's and the container's cached fields and the sensor's
   parsed values, then hands it to the evaluator), with the values the sensor parses anew for every event (not
   those it takes from a fixed vocabulary, such as fd.typechar), and an exec's new process names, as new strings
   whose hash is not computed yet. Building alone is timed the same way and taken off; which fields are new is
   found before timing, so the build is a dict copy, the new strings and the Event, and its noise (it is taken
   off) stays small next to the cost measured. The same measurement over events built ahead and evaluated from memory (colder in the CPU
   caches than the agent's, so every field read costs more, and the baseline checks read fields the rules do
   not) is printed too, without a target.
   CPU time of this process (time.process_time); the evaluators run the same events slice by slice,
   interleaved, keeping each slice's best round, so load on a shared host weighs on both alike. The cyclic
   garbage collector is frozen and off while timing (as in bench/rules_throughput.py), so a collection triggered
   by one evaluator's allocations is not billed to it.
   The whole measurement runs ``--repeat`` times, each in a fresh interpreter, and the median is the figure:
   one process's memory layout (where its code, dicts and sets land in the CPU caches) moves its figure by up to
   3 points for its whole life, the same code measuring 8 % in one process and 12 % in the next; a VM's speed
   also drifts between runs. Every run is printed.
   With ``--upstream`` the same is measured again with the three upstream Falco rules files loaded as the agent
   would (this host's fields and traced event types): a heavier engine, the same baseline checks.
2. A busy workload: one container running 300 distinct programs (each started by its own parent, as one of 2
   users, with 3 argument styles and ids/numbers that change every run), writing into 2,000 directories, talking
   to 1,000 peers on 50 ports and listening on 20 ports, is learned from 23,000 events; the stored document
   (the JSON in SQLite) must stay under 1 MB.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import target_line
from rules_eventmix import generate

from containerguard.model import Event
from containerguard.runtime.baseline import BaselineDetector, BaselineStore
from containerguard.runtime.evaluate import Evaluator
from containerguard.runtime.rules import RuleSet, default_rules_path, load_rules

_SLICE = 2000

#: what the sensor parses anew for every event (bpftrace's line): its text values are new strings, hashed by the
#: first test that needs their hash
_SENSOR_PREFIXES = ("fd.", "evt.arg.")
#: sensor fields whose text comes from a fixed vocabulary (runtime/sensor/fields.py: literals such as "4", "ipv4",
#: "tcp", "ip"): the same interned objects every time, their hash computed once
_VOCABULARY = frozenset({"fd.typechar", "fd.type", "fd.l4proto", "fd.sockfamily"})
#: an exec's new process: the process table builds these once for it (a later event of the process shares them)
_NEW_PROCESS = ("proc.name", "proc.exe", "proc.exepath", "proc.exe_resolved", "proc.args", "proc.cmdline")


def fresh_keys(e: Event) -> tuple[str, ...]:
    """The fields of ``e`` the agent builds anew for it: the sensor's parsed text values, and for an exec the new
    process's names (computed once per event, before timing: the agent does not search for them)."""
    keys = [k for k, v in e.fields.items()
            if type(v) is str and v and k.startswith(_SENSOR_PREFIXES) and k not in _VOCABULARY]
    if e.type in ("execve", "execveat"):
        keys += [k for k in _NEW_PROCESS if type(e.fields.get(k)) is str and e.fields[k]]
    return tuple(keys)


def as_built(e: Event, keys: tuple[str, ...]) -> Event:
    """``e`` as the agent's enrich stage hands it to the evaluator: a new field dict (a copy of the process's and
    the container's cached fields, updated with the event's own), whose per-event values (``keys``,
    :func:`fresh_keys`) are new strings."""
    f = dict(e.fields)
    for k in keys:
        f[k] = (f[k] + "\0")[:-1]  # an equal string that is a new object, its hash not computed yet
    return Event(e.type, e.time_ns, f)


def _timed(plain: Evaluator, with_baselines: Evaluator, events: list[Event], rounds: int,
           agent: bool) -> tuple[float, float]:
    """ns per event of each evaluator over the same events: like with like, the two interleaved slice by slice
    (a busy shared host slows both alike) and each slice's best of ``rounds`` kept.

    ``agent``: each event is built right before it is evaluated (:func:`as_built`), as the agent's enrich stage
    does, so its fields are as fresh in the CPU caches as they are in the agent; building alone is timed the
    same way and taken off. Otherwise the events were built ahead and are evaluated from memory."""
    total = [0.0, 0.0, 0.0]
    clock = time.process_time
    keys = [fresh_keys(e) for e in events]
    for i in range(0, len(events), _SLICE):
        part = events[i:i + _SLICE]
        pkeys = keys[i:i + _SLICE]
        best = [float("inf")] * 3
        for _ in range(rounds):
            for j, ev in enumerate((plain, with_baselines, None)):
                if ev is None:
                    if not agent:
                        best[j] = 0.0
                        continue
                    t = clock()
                    for e, k in zip(part, pkeys, strict=True):
                        as_built(e, k)
                elif agent:
                    evaluate = ev.evaluate
                    t = clock()
                    for e, k in zip(part, pkeys, strict=True):
                        evaluate(as_built(e, k))
                else:
                    evaluate = ev.evaluate
                    t = clock()
                    for e in part:
                        evaluate(e)
                best[j] = min(best[j], clock() - t)
        total = [a + b for a, b in zip(total, best, strict=True)]
    return (total[0] - total[2]) / len(events) * 1e9, (total[1] - total[2]) / len(events) * 1e9


def busy_workload(det: BaselineDetector) -> None:
    rng = random.Random(3)
    c = {"container.id": "b0b0b0b0b0b0", "container.name": "busy-1", "container.image": "shop/busy:1",
         "container.image.id": "sha256:busy"}
    progs = [f"/usr/local/bin/tool{i}" for i in range(300)]
    for i in range(20_000):
        n = rng.randrange(len(progs))
        args = f"--mode={rng.choice(['a', 'b', 'c'])} --id {rng.randrange(10**6)} job-{rng.randrange(10)}"
        det.detect(Event(type="execve", time_ns=i, fields={**c, "proc.exepath": progs[n], "proc.args": args,
                                                          "user.name": rng.choice(["app", "root"]),
                                                          "proc.pexepath": progs[n // 30]}))
    for i in range(2_000):
        det.detect(Event(type="openat", time_ns=i, fields={**c, "fd.name": f"/data/tenant{i % 200}/part{i}/f.log",
                                                          "evt.is_open_write": True}))
    for i in range(1_000):
        det.detect(Event(type="connect", time_ns=i, fields={**c, "fd.typechar": "4",
                                                           "fd.sip": f"10.{i % 250}.{i // 250}.{rng.randrange(255)}",
                                                           "fd.sport": 1000 + i % 50}))
    for i in range(20):
        det.detect(Event(type="bind", time_ns=i, fields={**c, "fd.typechar": "4", "fd.lport": 8000 + i}))


def _overhead(rs: RuleSet, events: list[Event], rounds: int, label: str) -> tuple[float, float]:
    """One measurement in this process: the overhead in per cent with events built as the agent builds them, then
    with events built ahead (each printed with its figures)."""
    with tempfile.TemporaryDirectory() as tmp:
        det = BaselineDetector(BaselineStore(tmp), quiet_s=1e9)
        plain = Evaluator(rs)
        with_baselines = Evaluator(rs, [det])
        for e in events:  # learn the mix
            with_baselines.evaluate(e)
        for p in det.profiles.values():
            p.mode = "monitor"
        for e in events[:20_000]:  # warm up both
            plain.evaluate(e)
            with_baselines.evaluate(e)
        gc.collect()
        gc.freeze()
        gc.disable()
        figures = []
        try:
            for agent in (True, False):
                base_ns, bl_ns = _timed(plain, with_baselines, events, rounds, agent)
                figures.append((bl_ns - base_ns) / base_ns * 100)
                print(f"{label:<16} {'as built' if agent else 'built ahead':<11} rules only {base_ns:6.0f} ns/event   "
                      f"rules + baselines {bl_ns:6.0f} ns/event   +{figures[-1]:.1f} %", flush=True)
        finally:
            gc.enable()
            gc.unfreeze()
        print(f"{'':<16} ({len(rs.enabled_rules)} rules, {len(det.profiles)} workloads, "
              f"{sum(p.size() for p in det.profiles.values())} entries, {det.alerts} deviation alerts)", flush=True)
        return figures[0], figures[1]


def _upstream_rules() -> RuleSet:
    from tests.fixtures import env

    from containerguard.runtime.agent import host_support

    base = env.SHARED / "falco-rules"
    fields, traced = host_support()
    return load_rules([default_rules_path(), base / "falco_rules.yaml", base / "falco-incubating_rules.yaml",
                       base / "falco-sandbox_rules.yaml"], available_fields=fields, traced_event_types=traced)


def _median_of_processes(a: argparse.Namespace, label: str, flag: str) -> bool:
    """Run the measurement ``--repeat`` times, each in a fresh interpreter; the median is the figure."""
    runs, ahead = [], []
    for _ in range(a.repeat):
        out = subprocess.run([sys.executable, __file__, "--one", flag, "--count", str(a.count), "--rounds",
                              str(a.rounds)], check=True, capture_output=True, text=True).stdout
        *shown, last = out.strip().splitlines()
        print("\n".join(shown), flush=True)
        built, built_ahead = (float(x) for x in last.split())
        runs.append(built)
        ahead.append(built_ahead)
    print(f"{'events built ahead (colder)':<32} {statistics.median(ahead):7.1f} %          (no target: the agent "
          f"evaluates each event as it builds it)   median of {a.repeat} processes: "
          + " / ".join(f"{r:.1f}" for r in ahead))
    return target_line(f"baseline overhead ({label})", statistics.median(runs), 10, "%", fmt="7.1f",
                       note=f"events as the agent builds them; median of {a.repeat} processes: "
                       + " / ".join(f"{r:.1f}" for r in runs))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--count", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--repeat", type=int, default=5, help="measurements, each in a fresh interpreter; the median "
                    "is the figure")
    ap.add_argument("--upstream", action="store_true", help="measure with the upstream Falco rules loaded too")
    ap.add_argument("--one", choices=["default", "upstream"], help=argparse.SUPPRESS)  # one measurement (a child)
    a = ap.parse_args()
    if a.one:
        rs = _upstream_rules() if a.one == "upstream" else load_rules([default_rules_path()])
        print(*_overhead(rs, generate(a.count), a.rounds, f"{a.one} rules"))
        return 0
    ok = _median_of_processes(a, "default rules", "default")
    if a.upstream:
        ok &= _median_of_processes(a, "upstream rules", "upstream")

    with tempfile.TemporaryDirectory() as tmp:
        store = BaselineStore(tmp)
        det = BaselineDetector(store, quiet_s=1e9)
        busy_workload(det)
        det.flush()
        (prof,) = store.load_all()
        row = store._db.execute("SELECT length(doc) FROM workloads").fetchone()
        size_kb = int(row[0]) / 1024
        ok &= target_line("busy workload baseline", size_kb, 1024, "KB", fmt="7.1f",
                          note=f"{prof.size()} entries: " + ", ".join(f"{k} {len(v)}" for k, v in prof.entries.items()))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
