"""Baselines without a kernel: generalisation, modes and promotion, one alert per behaviour, drift, persistence
and edits across 'agent' restarts (a new detector over the same store), YAML import errors with file:line."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from containerguard.cli.main import main
from containerguard.errors import BaselineError
from containerguard.model import Event
from containerguard.runtime.baseline import (
    BaselineDetector,
    BaselineStore,
    export_yaml,
    import_yaml,
    k8s_owner,
    name_pattern,
)
from containerguard.runtime.baseline.profile import argv_shape, dir_prefix, peer_net
from containerguard.runtime.evaluate import Evaluator
from containerguard.runtime.rules import default_rules_path, load_rules

S = 1_000_000_000
CONTAINER = {"container.id": "abcdef012345", "container.name": "shop-web-1", "container.image": "shop/web:1",
             "container.image.id": "sha256:1111"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000 * S

    def __call__(self) -> int:
        return self.now


#: what the sensor and the process table set on every event (the fast path reads these by subscript; events
#: without them, as some recorded ones, take the slow path: test_fused_evaluation_equals_rules_then_detector)
SENSOR = {"evt.failed": False, "evt.rawres": 0, "proc.exe_written": False, "proc.exe_drift": None,
          "proc.is_exe_upper_layer": False}


def _exec(exe: str, args: str = "", parent: str = "/usr/bin/python3.11", **extra: Any) -> Event:
    f = {**CONTAINER, **SENSOR, "evt.type": "execve", "proc.exepath": exe, "proc.args": args,
         "proc.pexepath": parent, "user.name": "root", "proc.pid": 4242,
         "proc.exe_resolved": exe, "proc.pexe_resolved": parent, **extra}
    return Event(type="execve", time_ns=1, fields=f)


def _write(path: str) -> Event:
    return Event(type="openat", time_ns=1, fields={**CONTAINER, **SENSOR, "evt.type": "openat", "fd.name": path,
                                                  "evt.is_open_write": True, "evt.is_open_create": True,
                                                  "proc.pid": 7})


def _read(path: str) -> Event:
    return Event(type="openat", time_ns=1, fields={**CONTAINER, **SENSOR, "evt.type": "openat", "fd.name": path,
                                                  "evt.is_open_write": False, "evt.is_open_create": False,
                                                  "proc.pid": 7})


def _connect(ip: str, port: int) -> Event:
    return Event(type="connect", time_ns=1, fields={**CONTAINER, **SENSOR, "evt.type": "connect", "fd.sip": ip,
                                                   "fd.sport": port, "fd.typechar": "4", "proc.pid": 7})


def _learned(tmp_path: Path, clock: Clock, quiet: float = 60) -> BaselineDetector:
    det = BaselineDetector(BaselineStore(tmp_path), quiet_s=quiet, clock=clock)
    for i in range(20):  # the normal behaviour, with changing arguments and file names
        assert det.detect(_exec("/usr/bin/date", f"+%s {i}")) == []
        assert det.detect(_write(f"/var/log/app/{i}.log")) == []
        assert det.detect(_connect("10.1.2.3", 5432)) == []
        clock.now += S
    return det


def test_generalisation() -> None:
    assert argv_shape("--port=8080 -n 12 job-3f2a9c0e1b7d4e5f /tmp/x") == "--port=<N> -n <N> job-<HEX> /tmp/x"
    assert argv_shape("part17 python3.11 10.0.0.1:80") == "part<N> python<N>.<N> <N>.<N>.<N>.<N>:<N>"
    assert argv_shape("a 550e8400-e29b-41d4-a716-446655440000 0xdeadbeef") == "a <ID> <HEX>"
    assert dir_prefix("/var/cache/app/123/x.bin") == "/var/cache/app/<N>"
    assert dir_prefix("/data/tenant17/part-2/f") == "/data/tenant<N>/part-<N>"
    assert peer_net("10.1.2.3") == "10.1.2.0/24" and peer_net("127.0.0.1") == "127.0.0.1"
    assert peer_net("2001:db8::1") == "2001:db8::/64"
    assert name_pattern("shop-web-1") == "shop-web-*" and name_pattern("db") == "db"


def test_learn_then_monitor_one_alert_per_new_behaviour(tmp_path: Path) -> None:
    clock = Clock()
    det = _learned(tmp_path, clock)
    clock.now += 61 * S  # quiet period over: the next event finds the workload monitoring
    assert det.detect(_exec("/usr/bin/date", "+%s 99")) == []
    (prof,) = det.profiles.values()
    assert prof.mode == "monitor" and det.promotions == 1
    a = det.detect(_exec("/usr/bin/curl", "http://x"))
    assert len(a) == 1 and a[0].rule_id == "CG-B001" and "new process /usr/bin/curl" in a[0].output
    assert "nearest baseline entries: /usr/bin/date" in a[0].output and a[0].container_name == "shop-web-1"
    assert det.detect(_exec("/usr/bin/curl", "http://x")) == []  # alerted once, not again
    a = det.detect(_write("/etc/cron.d/evil"))
    assert [x.rule_id for x in a] == ["CG-B002"] and a[0].output_fields["baseline.entry"] == "/etc/cron.d"
    assert det.detect(_write("/var/log/app/new.log")) == []  # a known directory
    a = det.detect(_connect("203.0.113.9", 4444))
    assert [x.rule_id for x in a] == ["CG-B003"] and a[0].responses == ()
    assert det.detect(_connect("10.1.2.77", 5432)) == []  # the same /24 and port
    pending = _connect("198.51.100.7", 443)
    pending.fields.update({"evt.failed": True, "evt.rawres": -115})  # non-blocking connect: EINPROGRESS
    assert [x.rule_id for x in det.detect(pending)] == ["CG-B003"]
    refused = _connect("198.51.100.8", 443)
    refused.fields.update({"evt.failed": True, "evt.rawres": -111})
    assert det.detect(refused) == []


def test_protect_asks_for_the_kill_and_drift_needs_no_learning(tmp_path: Path) -> None:
    clock = Clock()
    det = _learned(tmp_path, clock)
    next(iter(det.profiles.values())).mode = "protect"
    a = det.detect(_exec("/usr/bin/nc", "-l 4444"))
    assert a[0].responses == ("kill_process",) and a[0].priority.name == "CRITICAL"
    fresh = BaselineDetector(BaselineStore(tmp_path / "other"), clock=clock)
    a = fresh.detect(_exec("/tmp/payload", "", **{"proc.exe_written": True}))  # learning, yet flagged
    assert [x.rule_id for x in a] == ["CG-B005"] and "written after the container started" in a[0].output
    assert fresh.detect(_exec("/tmp/payload", "", **{"proc.exe_written": True})) == []


def test_survives_restart_and_edits_win(tmp_path: Path) -> None:
    clock = Clock()
    det = _learned(tmp_path, clock)
    clock.now += 61 * S
    det.tick()
    (prof,) = det.profiles.values()
    assert prof.mode == "monitor"
    det.store.close()
    again = BaselineDetector(BaselineStore(tmp_path), quiet_s=60, clock=clock)  # the agent restarted
    (prof2,) = again.profiles.values()
    assert prof2.mode == "monitor" and "/var/log/app" in prof2.entries["file"]
    # an edit through the CLI (another connection) wins over what the agent had not saved yet
    assert main(["baseline", "mode", "shop-web-*", "protect", "--baseline-dir", str(tmp_path)]) == 0
    again.tick()
    assert next(iter(again.profiles.values())).mode == "protect"


def test_new_container_of_known_image_starts_in_its_mode(tmp_path: Path) -> None:
    clock = Clock()
    det = _learned(tmp_path, clock)
    next(iter(det.profiles.values())).mode = "monitor"
    other = {**CONTAINER, "container.name": "shop-api", "container.id": "999999999999"}
    a = det.detect(Event(type="execve", time_ns=1, fields={**other, "evt.type": "execve", "proc.exepath": "/bin/sh"}))
    assert len(det.profiles) == 2 and all(p.mode == "monitor" for p in det.profiles.values()) and len(a) == 1


def test_yaml_round_trip_and_file_line_errors(tmp_path: Path) -> None:
    clock = Clock()
    det = _learned(tmp_path, clock)
    text = export_yaml(list(det.profiles.values()))
    (back,) = import_yaml(text, "b.yaml")
    assert back.entries == next(iter(det.profiles.values())).entries
    bad = text.replace("out 10.1.2.0/24:5432", "out nowhere:5432")
    line = next(i for i, t in enumerate(bad.splitlines(), 1) if "nowhere" in t)
    with pytest.raises(BaselineError, match=rf"^b\.yaml:{line}: network: .*'out nowhere:5432'"):
        import_yaml(bad, "b.yaml")
    with pytest.raises(BaselineError, match=r"^b\.yaml:\d+: mode: "):
        import_yaml(text.replace("mode: learn", "mode: sleepy"), "b.yaml")
    with pytest.raises(BaselineError, match=r"^b\.yaml:2: invalid YAML"):
        import_yaml("- [unclosed\n", "b.yaml")


def test_cli_import_refuses_bad_file_and_keeps_the_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clock = Clock()
    det = _learned(tmp_path, clock)
    det.flush()
    out = tmp_path / "export.yaml"
    assert main(["baseline", "export", "--baseline-dir", str(tmp_path), "-o", str(out)]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(out.read_text().replace("/var/log/app", "var/log/app"))
    assert main(["baseline", "import", str(bad), "--baseline-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"error: {bad}:") and "absolute directory" in err
    (stored,) = BaselineStore(tmp_path).load_all()
    assert "/var/log/app" in stored.entries["file"]
    assert main(["baseline", "list", "--baseline-dir", str(tmp_path), "--format", "json"]) == 0
    assert '"mode": "learn"' in capsys.readouterr().out


def test_evaluator_runs_baselines_after_rules(tmp_path: Path) -> None:
    det = BaselineDetector(BaselineStore(tmp_path), quiet_s=0)
    ev = Evaluator(load_rules([default_rules_path()]), [det])
    assert ev.wants("connect") and "openat" in ev.event_types()
    ev.evaluate(_exec("/usr/bin/date"))  # learned, then the quiet period (0) promotes on the next event
    alerts = ev.evaluate(_exec("/usr/bin/wget"))
    assert [a.rule_id for a in alerts][-1] == "CG-B001"


def test_cli_edit_saves_only_a_valid_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    det = _learned(tmp_path, clock)
    det.flush()
    monkeypatch.setenv("EDITOR", "sed -i s/mode:.learn/mode:\\ sleepy/")  # a broken edit
    assert main(["baseline", "edit", "shop-web-*", "--baseline-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ") and "baseline.yaml:" in err and "mode" in err
    assert BaselineStore(tmp_path).find("shop-web-*").mode == "learn"  # unchanged
    monkeypatch.setenv("EDITOR", "sed -i s|/var/log/app|/var/log/app2|")  # a valid one
    assert main(["baseline", "edit", "shop-web-*", "--baseline-dir", str(tmp_path)]) == 0
    edited = BaselineStore(tmp_path).find("shop-web-*")
    assert "/var/log/app2" in edited.entries["file"] and "/var/log/app" not in edited.entries["file"]
    det.tick()  # the running detector takes the edit whole
    assert "/var/log/app2" in next(iter(det.profiles.values())).entries["file"]


def test_known_behaviour_takes_the_fast_path_and_edits_reset_it(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    det = _learned(tmp_path, clock)
    det.flush()
    slow: list[str] = []
    check = det._check
    monkeypatch.setattr(det, "_check", lambda w, e: (slow.append(e.type), check(w, e))[1])
    ev = Evaluator(load_rules([default_rules_path()]), [det])
    for _ in range(3):  # known behaviour, the same raw values: generalised once, then one set membership
        ev.evaluate(_write("/var/log/app/0.log"))
        ev.evaluate(_connect("10.1.2.3", 5432))
        ev.evaluate(_exec("/usr/bin/date", "+%s 3"))
        ev.evaluate(_read("/etc/hosts"))
    assert slow == []
    ev.evaluate(_write("/var/log/app/sub/9.log"))  # new raw value, covered by the known directory: checked once
    ev.evaluate(_write("/var/log/app/sub/9.log"))
    assert slow == ["openat"]
    # an edit that drops the directory: the running detector takes it whole, its caches with it
    assert main(["baseline", "mode", "shop-web-*", "monitor", "--baseline-dir", str(tmp_path)]) == 0
    prof = BaselineStore(tmp_path).find("shop-web-*")
    prof.entries["file"].discard("/var/log/app")
    BaselineStore(tmp_path).save(prof)
    det.tick()
    alerts = det.detect(_write("/var/log/app/0.log"))
    assert [a.rule_id for a in alerts] == ["CG-B002"]
    assert det.detect(_write("/var/log/app/0.log")) == []  # monitor: alerted once


def test_protect_stops_every_run_and_host_events_are_ignored(tmp_path: Path) -> None:
    clock = Clock()
    det = _learned(tmp_path, clock)
    next(iter(det.profiles.values())).mode = "protect"
    for _ in range(2):  # a second run of the same deviating process is stopped as well
        (a,) = det.detect(_exec("/usr/bin/nc", "-l 4444"))
        assert a.responses == ("kill_process",)
    host = {"container.id": "host", "proc.exepath": "/usr/bin/anything", "proc.args": "x"}
    assert det.detect(Event(type="execve", time_ns=1, fields=host)) == []
    assert len(det.profiles) == 1


def test_evaluator_chains_several_detectors(tmp_path: Path) -> None:
    one = BaselineDetector(BaselineStore(tmp_path / "a"), quiet_s=0)
    two = BaselineDetector(BaselineStore(tmp_path / "b"), quiet_s=0)
    ev = Evaluator(load_rules([default_rules_path()]), [one, two])
    ev.evaluate(_exec("/usr/bin/date"))
    alerts = ev.evaluate(_exec("/usr/bin/wget"))
    assert [a.rule_id for a in alerts][-2:] == ["CG-B001", "CG-B001"]


@pytest.mark.parametrize(("pod", "labels", "owner"), [
    ("web-7d4b9c8f5d-x2x9k", {}, ("Deployment", "web")),  # the ReplicaSet hash pattern alone
    ("shop-api-v2-58c9bd6f4-qz7wt", {}, ("Deployment", "shop-api-v2")),
    ("shop-api-58c9bd6f4-qz7wt", {"pod-template-hash": "58c9bd6f4"}, ("Deployment", "shop-api")),
    ("db-0", {"controller-revision-hash": "db-6f7c", "statefulset.kubernetes.io/pod-name": "db-0"},
     ("StatefulSet", "db")),
    ("fluentd-x7k2p", {"controller-revision-hash": "5d8f", "pod-template-generation": "1"}, ("DaemonSet", "fluentd")),
    ("backup-29012345-abcde", {"job-name": "backup-29012345"}, ("CronJob", "backup")),
    ("migrate-abcde", {"batch.kubernetes.io/job-name": "migrate"}, ("Job", "migrate")),
    ("debug-shell", {}, ("Pod", "debug-shell")),
    ("fluentd-agent-x7k2p", {}, ("Pod", "fluentd-agent-x7k2p")),  # vowels: not a controller's hash
])
def test_kubernetes_owner(pod: str, labels: dict[str, str], owner: tuple[str, str]) -> None:
    assert k8s_owner(pod, labels) == owner


def test_pods_of_a_deployment_share_one_baseline(tmp_path: Path) -> None:
    det = BaselineDetector(BaselineStore(tmp_path), quiet_s=60, clock=Clock())

    def pod(cid: str, name: str, image_id: str) -> dict[str, Any]:
        return {"container.id": cid, "container.name": f"k8s_app_{name}_shop_uid_0", "container.image.id": image_id,
                "container.labels": {"io.kubernetes.pod.namespace": "shop", "io.kubernetes.pod.name": name,
                                     "io.kubernetes.container.name": "app"}}

    for cid, name, image_id in (("c1", "web-7d4b9c8f5d-x2x9k", "sha256:1"), ("c2", "web-7d4b9c8f5d-b6w8q", "sha256:1"),
                                ("c3", "web-5f6d7c8b9-qwrtz", "sha256:2")):  # c3: after a rollout
        det.detect(Event(type="execve", time_ns=1, fields={**pod(cid, name, image_id), "proc.exepath": "/bin/app"}))
    assert list(det.profiles) == ["k8s:shop/Deployment/web/app"]


def test_mode_is_the_images_for_running_workloads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clock = Clock()
    det = _learned(tmp_path, clock)  # shop-web-* of sha256:1111, learning
    other = {**CONTAINER, "container.name": "shop-api", "container.id": "999999999999"}
    det.detect(Event(type="execve", time_ns=1, fields={**other, "proc.exepath": "/usr/bin/date"}))
    unrelated = {**CONTAINER, "container.name": "db", "container.id": "888888888888", "container.image.id": "sha256:2"}
    det.detect(Event(type="execve", time_ns=1, fields={**unrelated, "proc.exepath": "/usr/bin/date"}))
    det.flush()
    # by hand: one command, every workload of the image, applied by the running detector at its next tick
    assert main(["baseline", "mode", "shop-web-*", "protect", "--baseline-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.count("mode protect") == 2
    det.tick()
    assert {p.name_pattern: p.mode for p in det.profiles.values()} == {"shop-web-*": "protect", "shop-api": "protect",
                                                                      "db": "learn"}
    (a,) = det.detect(Event(type="execve", time_ns=1, fields={**other, "proc.exepath": "/usr/bin/nc"}))
    assert a.responses == ("kill_process",)
    # automatically: the quiet period of one workload promotes the image's other learning workloads
    assert main(["baseline", "mode", "shop-api", "learn", "--baseline-dir", str(tmp_path)]) == 0
    det.tick()
    clock.now = time.time_ns() + 3600 * S  # 'baseline mode learn' started a fresh quiet period (wall clock)
    det.tick()
    assert {p.name_pattern: p.mode for p in det.profiles.values()} == {"shop-web-*": "monitor", "shop-api": "monitor",
                                                                      "db": "monitor"}


def test_a_failed_call_or_a_read_never_stands_for_a_later_success(tmp_path: Path) -> None:
    clock = Clock()
    det = _learned(tmp_path, clock)
    next(iter(det.profiles.values())).mode = "monitor"
    refused = _connect("198.51.100.8", 443)
    refused.fields.update({"evt.failed": True, "evt.rawres": -111})
    assert det.detect(refused) == [] and det.detect(refused) == []
    assert [a.rule_id for a in det.detect(_connect("198.51.100.8", 443))] == ["CG-B003"]  # now it connected
    read = Event(type="openat", time_ns=1, fields={**CONTAINER, "fd.name": "/etc/passwd", "evt.is_open_read": True})
    assert det.detect(read) == [] and det.detect(read) == []
    assert [a.rule_id for a in det.detect(_write("/etc/passwd"))] == ["CG-B002"]  # a write to a file only read
    failed = _write("/srv/new/x")
    failed.fields["evt.failed"] = True
    assert det.detect(failed) == []
    assert [a.rule_id for a in det.detect(_write("/srv/new/x"))] == ["CG-B002"]
    unix = Event(type="connect", time_ns=1, fields={**CONTAINER, "fd.typechar": "u", "fd.name": "/run/x.sock"})
    assert det.detect(unix) == []
    # no behaviour teaches nothing, not even its syscall: reads with a syscall the workload never wrote with
    prof = next(iter(det.profiles.values()))
    prof.mode = "learn"
    det.detect(Event(type="openat2", time_ns=1, fields={**_read("/etc/hosts").fields, "evt.type": "openat2"}))
    det.detect(Event(type="bind", time_ns=1, fields={**unix.fields, "evt.type": "bind"}))
    assert "openat2" not in prof.entries["syscall"] and "bind" not in prof.entries["syscall"]
    assert {"openat", "execve", "connect"} <= prof.entries["syscall"]


def _outcome(fn: Any, ev: Event) -> Any:
    try:
        return [(a.rule_id, a.output) for a in fn(ev)]
    except Exception as exc:  # compared, not hidden
        return type(exc).__name__


def test_fused_evaluation_equals_rules_then_detector(tmp_path: Path) -> None:
    """The evaluator fuses the baseline's fast path into the rules' code per event type; what it returns must be
    exactly the rules' alerts, then the detector's, as running the two apart on the same events (learning, then
    monitoring: known and new behaviour, the host, types no rule watches, drift, malformed fields)."""
    rs = load_rules([default_rules_path()])
    clock_a, clock_b = Clock(), Clock()
    fused = Evaluator(rs, [BaselineDetector(BaselineStore(tmp_path / "a"), quiet_s=60, clock=clock_a)])
    apart = BaselineDetector(BaselineStore(tmp_path / "b"), quiet_s=60, clock=clock_b)

    def both(ev: Event) -> tuple[Any, Any]:
        return _outcome(fused.evaluate, ev), _outcome(lambda e: [*rs.evaluate(e), *apart.detect(e)], ev)

    other = {"container.id": "0123456789ab", "container.name": "db-1", "container.image.id": "sha256:2222"}
    host = {"container.id": "host", "proc.exepath": "/usr/bin/sshd", "proc.name": "sshd"}
    sock = {**CONTAINER, "fd.typechar": "4", "proc.pid": 9}
    learn = [_exec("/usr/bin/date", "+%s 1"), _write("/var/log/app/1.log"), _connect("10.1.2.3", 5432),
             Event(type="accept4", time_ns=1, fields={**sock, "fd.cip": "10.9.9.9"}),
             Event(type="bind", time_ns=1, fields={**sock, "fd.lport": 8080}),
             Event(type="openat", time_ns=1, fields={**CONTAINER, "fd.name": "/etc/hosts"}),
             Event(type="execve", time_ns=1, fields={**other, "proc.exepath": "/usr/bin/postgres"})]
    later = [*learn, _exec("/usr/bin/date", "+%s 2"), _write("/var/log/app/2.log"), _connect("10.1.2.9", 5432),
             _exec("/usr/bin/nc", "-l 4444"), _exec("/usr/bin/nc", "-l 4444"), _write("/etc/cron.d/x"),
             _connect("203.0.113.9", 4444), Event(type="accept4", time_ns=1, fields={**sock, "fd.cip": "198.51.100.1"}),
             Event(type="bind", time_ns=1, fields={**sock, "fd.lport": 31337}),
             Event(type="execve", time_ns=1, fields={**host, "proc.args": "-D"}),
             Event(type="open", time_ns=1, fields={**CONTAINER, "fd.name": "/var/log/app/3.log",
                                                   "evt.is_open_write": True}),  # a known dir, a new syscall
             _exec("/usr/bin/date", "+%s 3", **{"proc.exe_drift": "replaced in place"}),
             _exec("/usr/bin/date", "+%s 4", **{"proc.is_exe_upper_layer": True, "proc.exe_drift": False}),
             Event(type="openat2", time_ns=1, fields={**_read("/etc/hosts").fields, "evt.type": "openat2"}),
             Event(type="creat", time_ns=1, fields={**_write("/srv/x").fields, "evt.failed": True, "evt.rawres": -13}),
             Event(type="openat", time_ns=1, fields={**_write("/srv/y").fields, "evt.failed": True, "evt.rawres": -2}),
             Event(type="connect", time_ns=1, fields={**_connect("10.1.2.3", 5432).fields, "fd.typechar": "u"}),
             Event(type="execve", time_ns=1, fields={**_exec("/usr/bin/date", "+%s 5").fields, "user.name": "www"}),
             _write(["/a", "/b"]),  # type: ignore[arg-type]  # a malformed recorded field (unhashable)
             Event(type="connect", time_ns=1, fields={**sock, "fd.sip": {"x": 1}, "fd.sport": 1}),
             Event(type="connect", time_ns=1, fields={**sock, **SENSOR}),  # AF_UNSPEC: no peer
             Event(type="connect", time_ns=1, fields={**_connect("10.1.2.3", 5433).fields, "evt.failed": True,
                                                      "evt.rawres": -111}),  # refused: no connection
             Event(type="connect", time_ns=1, fields={**_connect("10.1.2.3", 5433).fields, "evt.failed": True,
                                                      "evt.rawres": -115})]  # in progress: a new port of a peer
    seen = [both(e) for e in learn]
    clock_a.now += 120 * S
    clock_b.now += 120 * S
    seen += [both(e) for e in later] + [both(e) for e in later]
    assert all(a == b for a, b in seen), [(a, b) for a, b in seen if a != b]
    assert any(a for a, _ in seen if isinstance(a, list) and any(r.startswith("CG-B") for r, _ in a))
    assert fused.detectors[0].alerts == apart.alerts > 3


def test_fast_path_keys_a_process_on_the_file_it_runs(tmp_path: Path) -> None:
    """A program learned through one path and run again through the same path after the link was pointed at
    another file is a new process, also once its raw values sit in the fast path's cache."""
    clock = Clock()
    det = _learned(tmp_path, clock)
    ev = Evaluator(load_rules([default_rules_path()]), [det])
    learned = _exec("/bin/date", "+%s 9", **{"proc.exe_resolved": "/usr/bin/date"})
    next(iter(det.profiles.values())).mode = "monitor"
    assert ev.evaluate(learned) == [] and ev.evaluate(learned) == []  # known, then from the cache
    swapped = _exec("/bin/date", "+%s 9", **{"proc.exe_resolved": "/opt/evil/date"})
    assert [a.rule_id for a in ev.evaluate(swapped)] == ["CG-B001"]
    # the same file started by another path is the same process
    assert ev.evaluate(_exec("/usr/bin/date", "+%s 9", **{"proc.exe_resolved": "/usr/bin/date"})) == []


def test_a_repeated_drift_exec_is_reported_once_and_stopped_every_time(tmp_path: Path) -> None:
    """Drift never takes the fast path; while monitoring, a repeat of a reported drift exec is answered from the
    workload's drift cache. Anything that differs (the path it was run by, its arguments, the mode) is decided
    in full again."""
    clock = Clock()
    det = _learned(tmp_path, clock)
    prof = next(iter(det.profiles.values()))
    prof.mode = "monitor"
    run = _exec("/tmp/job", "--once", **{"proc.exe_written": True})
    assert sorted(a.rule_id for a in det.detect(run)) == ["CG-B001", "CG-B005"]
    for _ in range(3):
        assert det.detect(run) == []
    other_path = _exec("/tmp/./job", "--once", **{"proc.exe_written": True, "proc.exe_resolved": "/tmp/job"})
    assert [a.rule_id for a in det.detect(other_path)] == ["CG-B005"]  # the same process, run by another path
    assert [a.rule_id for a in det.detect(_exec("/tmp/job", "--twice", **{"proc.exe_written": True}))] == ["CG-B001"]
    prof.mode = "protect"  # stopped at every run, the cached ones included
    for _ in range(2):
        alerts = det.detect(run)
        assert "CG-B005" in [a.rule_id for a in alerts] and {a.responses for a in alerts} == {("kill_process",)}


def test_unhashable_recorded_fields_never_break_the_detector(tmp_path: Path) -> None:
    """A recorded event may carry a list or a map where the sensor writes text: no set can hold it, so it is
    decided in full every time, and never raises."""
    clock = Clock()
    det = _learned(tmp_path, clock)
    next(iter(det.profiles.values())).mode = "monitor"
    odd: list[Event] = [_exec("/usr/bin/date", ["+%s"]), _write(["/a"]),  # type: ignore[arg-type]
                        _exec("/tmp/x", {"a": 1}, **{"proc.exe_written": True}),  # type: ignore[arg-type]
                        _connect(["10.1.2.3"], 5432), _connect("10.1.2.3", [5432])]  # type: ignore[arg-type]
    first = [[a.rule_id for a in det.detect(e)] for e in odd]
    assert first[0] == ["CG-B001"] and "CG-B005" in first[2]
    assert [[a.rule_id for a in det.detect(e)] for e in odd] == [[]] * len(odd)  # reported once


def test_deviations_saved_are_bounded_and_each_is_still_reported_once(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    """A monitored workload that keeps doing new things (a new port per connection) is alerted on for each, once,
    but its saved baseline stops growing at MAX_LEARNED deviations (it stays small and quick to save)."""
    from containerguard.runtime.baseline.detector import MAX_LEARNED

    clock = Clock()
    det = _learned(tmp_path, clock)
    prof = next(iter(det.profiles.values()))
    prof.mode = "monitor"
    n = MAX_LEARNED + 50
    conns = [_connect("10.1.2.3", 10_000 + i) for i in range(n)]
    with caplog.at_level("WARNING"):
        assert sum(len(det.detect(e)) for e in conns) == n
    assert sum(len(det.detect(e)) for e in conns[-100:]) == 0  # each reported once, saved or not
    assert len(prof.deviations) == MAX_LEARNED
    assert sum("further ones are reported but not saved" in r.message for r in caplog.records) == 1
    det.flush()
    (saved,) = BaselineStore(tmp_path).load_all()
    assert len(saved.deviations) == MAX_LEARNED
    prof.mode = "protect"  # protect stops every deviating run, beyond the bound too
    assert [a.responses for a in det.detect(conns[-1])] == [("kill_process",)]
