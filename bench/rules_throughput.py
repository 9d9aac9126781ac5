"""Rules engine throughput with the default ruleset over a recorded event mix (target: >= 200,000 events/s, one core).

    python bench/rules_throughput.py                     # generate the mix (bench/rules_eventmix.py) in memory
    python bench/rules_throughput.py --events mix.jsonl  # replay a recorded JSON-lines file
    python bench/rules_throughput.py --upstream          # default ruleset + the three upstream Falco files
                                                         # (../shared/falco-rules, loaded unmodified)

Times are CPU time of this process (time.process_time), so other load on the machine does not count against
the engine. Prints overall events/s beside the target, the cost per event type, rule load time and the
JSON-lines decode rate (the replay path, informational).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rules_eventmix import generate

from containerguard.model import Event
from containerguard.runtime.events import read_events
from containerguard.runtime.rules import default_rules_path, load_rules

TARGET_EPS = 200_000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", help="recorded JSON-lines events (default: generate a mix)")
    ap.add_argument("--count", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rules", action="append", default=[], help="rules file to load after the default ruleset")
    ap.add_argument("--upstream", action="store_true",
                    help="also load falco_rules.yaml, falco-incubating_rules.yaml and falco-sandbox_rules.yaml from "
                    "the shared data (as the agent would, with this host's available fields)")
    a = ap.parse_args()

    paths: list[str | Path] = [default_rules_path(), *a.rules]
    fields = traced = None
    if a.upstream:
        from tests.fixtures import env

        from containerguard.runtime.agent import host_support

        base = env.SHARED / "falco-rules"
        paths += [base / "falco_rules.yaml", base / "falco-incubating_rules.yaml", base / "falco-sandbox_rules.yaml"]
        fields, traced = host_support()
    t = time.process_time()
    rs = load_rules(paths, available_fields=fields, traced_event_types=traced)
    load_s = time.process_time() - t

    if a.events:
        t = time.process_time()
        n = sum(1 for _ in read_events(a.events))
        decode_s = time.process_time() - t
        print(f"decode  {n / decode_s:12,.0f} events/s  (JSON lines -> Event, streamed; informational)")
        gc.disable()  # keeping every event in memory for the timing loop: do not let the cyclic GC rescan them
        events = list(read_events(a.events))
        gc.enable()
        gc.freeze()
    else:
        events = generate(a.count)
    evaluate = rs.evaluate
    for ev in events[:20_000]:  # warm up
        evaluate(ev)

    best = float("inf")
    alerts = 0
    for _ in range(a.rounds):
        t = time.process_time()
        alerts = 0
        for ev in events:
            alerts += len(evaluate(ev))
        best = min(best, time.process_time() - t)
    eps = len(events) / best
    ok = "OK" if eps >= TARGET_EPS else "BELOW TARGET"
    print(f"rules   {len(rs.enabled_rules)} enabled rules ({len(paths)} files) loaded in {load_s * 1000:.0f} ms CPU")
    print(f"engine  {eps:12,.0f} events/s  target >= {TARGET_EPS:,}  {ok}   "
          f"({len(events):,} events, {alerts} alerts, {best * 1e9 / len(events):.0f} ns/event)")

    by_type: dict[str, list[Event]] = defaultdict(list)
    for ev in events:
        by_type[ev.type].append(ev)
    counts = Counter({k: len(v) for k, v in by_type.items()})
    print(f"{'event type':<14}{'share':>8}{'ns/event':>10}{'events/s':>14}")
    for etype, n in counts.most_common():
        group = by_type[etype]
        reps = max(1, 50_000 // n)
        t = time.process_time()
        for _ in range(reps):
            for ev in group:
                evaluate(ev)
        dt = (time.process_time() - t) / (reps * n)
        print(f"{etype:<14}{n / len(events):>7.1%}{dt * 1e9:>10.0f}{1 / dt:>14,.0f}")
    return 0 if eps >= TARGET_EPS else 1


if __name__ == "__main__":
    sys.exit(main())
