"""A baseline written or edited by hand may allow a wider network than the agent learns (a /24, an IPv6 /64, an
exact loopback address): ``out 10.0.0.0/8:5432``, ``in 0.0.0.0/0``. Imported with ``containerguard baseline
import``, such an entry covers every peer inside it, for its direction and port only, through the evaluator the
agent runs (the fused fast path, then the detector)."""

from __future__ import annotations

from pathlib import Path

import yaml

from containerguard.cli.main import main
from containerguard.model import Event
from containerguard.runtime.baseline import BaselineDetector, BaselineStore
from containerguard.runtime.evaluate import Evaluator
from containerguard.runtime.rules import default_rules_path, load_rules

CONTAINER = {"container.id": "feedfacecafe", "container.name": "api-1", "container.image": "shop/api:1",
             "container.image.id": "sha256:2222"}
SENSOR = {"evt.failed": False, "evt.rawres": 0, "proc.pid": 9, "proc.name": "api"}


def _peer(t: str, ip: str, port: int = 0) -> Event:
    inet = "6" if ":" in ip else "4"
    if t == "connect":
        f = {"fd.sip": ip, "fd.sport": port}
    else:
        f = {"fd.cip": ip, "fd.cport": 40000, "fd.sip": "172.17.0.2", "fd.sport": 8080}
    return Event(type=t, time_ns=1, fields={**CONTAINER, **SENSOR, "evt.type": t, "fd.typechar": inet, **f})


def _deviations(ev: Evaluator, event: Event) -> list[str]:
    return [a.output_fields["baseline.entry"] for a in ev.evaluate(event) if a.rule_id.startswith("CG-B")]


def test_hand_written_networks_cover_the_peers_inside_them(tmp_path: Path) -> None:
    store = tmp_path / "store"
    det = BaselineDetector(BaselineStore(store), quiet_s=1e9)
    for event in (_peer("connect", "10.1.2.3", 5432), _peer("accept4", "10.1.2.9"), _peer("connect", "127.0.0.1", 8080)):
        assert det.detect(event) == []  # learned: the syscalls, and one peer each
    det.flush()
    exported = tmp_path / "baseline.yaml"
    assert main(["baseline", "export", "--baseline-dir", str(store), "-o", str(exported)]) == 0
    doc = yaml.safe_load(exported.read_text())
    (workload,) = doc
    workload["mode"] = "monitor"
    workload["network"] = ["out 10.0.0.7/8:5432", "in 0.0.0.0/0", "out 127.0.0.0/8:8080"]
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(doc))
    assert main(["baseline", "import", str(edited), "--baseline-dir", str(store)]) == 0

    # the agent, restarted over the store, with the rules
    ev = Evaluator(load_rules([default_rules_path()]), [BaselineDetector(BaselineStore(store), quiet_s=1e9)])
    for _ in range(2):  # the second time through the fast path's caches
        assert _deviations(ev, _peer("connect", "10.200.3.4", 5432)) == []
        assert _deviations(ev, _peer("connect", "10.1.2.3", 5432)) == []
        assert _deviations(ev, _peer("accept4", "198.51.100.20")) == []
        assert _deviations(ev, _peer("connect", "127.9.9.9", 8080)) == []
    # the same networks on another port, another network, and an IPv6 client (0.0.0.0/0 is IPv4) still deviate,
    # each once
    assert _deviations(ev, _peer("connect", "10.200.3.4", 5433)) == ["out 10.200.3.0/24:5433"]
    assert _deviations(ev, _peer("connect", "11.0.0.1", 5432)) == ["out 11.0.0.0/24:5432"]
    assert _deviations(ev, _peer("accept4", "2001:db8::5")) == ["in 2001:db8::/64"]
    assert _deviations(ev, _peer("connect", "127.0.0.1", 8081)) == ["out 127.0.0.1:8081"]
    for again in (_peer("connect", "10.200.3.4", 5433), _peer("accept4", "2001:db8::5")):
        assert _deviations(ev, again) == []
