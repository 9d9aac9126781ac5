"""Kubernetes audit events through the real entry points -- the agent's webhook (``agent --no-sensor
--k8s-audit-listen``) and ``rules replay --k8s-audit`` -- with real-format and hostile bodies: one bad event in a
batch is counted and skipped while the rest still alert, an audit log file as the API server's log backend writes
it (JSON lines, gzip after rotation) is read, values of the wrong JSON type never reach rules as Python lists or
dicts, and a body that is not JSON by its content type is refused."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from containerguard.cli.main import main
from containerguard.runtime.k8saudit import audit_event

CLI = [sys.executable, "-m", "containerguard.cli.main"]

RULES = """\
- rule: cg-test privileged pod
  desc: a privileged pod
  condition: ka.verb = create and ka.target.resource = pods and ka.req.pod.containers.privileged intersects (true)
  output: privileged pod (user=%ka.user.name pod=%ka.target.name images=%ka.req.pod.containers.image)
  priority: WARNING
  source: k8s_audit
- rule: cg-test any user
  desc: the user name as text
  condition: ka.user.name startswith "mal" or ka.verb startswith "del"
  output: user (user=%ka.user.name verb=%ka.verb groups=%ka.user.groups images=%ka.req.pod.containers.image)
  priority: NOTICE
  source: k8s_audit
"""


def _event(i: int, **kw: Any) -> dict[str, Any]:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"evil-{i}", "namespace": "default"},
           "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "securityContext": {"privileged": True}}]}}
    ev = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse", "auditID": f"a-{i}",
          "stage": "ResponseComplete", "requestURI": "/api/v1/namespaces/default/pods", "verb": "create",
          "user": {"username": "mallory", "groups": ["system:authenticated"]}, "sourceIPs": ["10.0.0.7"],
          "objectRef": {"resource": "pods", "namespace": "default", "name": f"evil-{i}", "apiVersion": "v1"},
          "responseStatus": {"metadata": {}, "code": 201}, "requestObject": pod,
          "requestReceivedTimestamp": f"2026-11-27T10:00:{i:02d}.000000Z",
          "stageTimestamp": f"2026-11-27T10:00:{i:02d}.100000Z",
          "annotations": {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": ""}}
    ev.update(kw)
    return ev


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Agent:
    def __init__(self, tmp: Path) -> None:
        self.out = tmp / "alerts.jsonl"
        rules = tmp / "rules.yaml"
        rules.write_text(RULES)
        self.audit, self.health = _free_port(), _free_port()
        self.log = tmp / "agent.log"
        self.logs = tmp / "audit-logs"
        self.logs.mkdir()
        self.proc = subprocess.Popen(
            [*CLI, "agent", "--no-sensor", "--rules", str(rules), "--k8s-audit-listen", f"127.0.0.1:{self.audit}",
             "--source", f"k8s_audit:{self.logs}", "--source-interval", "0.3", "--source-workers", "1",
             "--health-port", f"127.0.0.1:{self.health}", "--output", f"file:{self.out}",
             "--stats-interval", "3600"],
            stdout=subprocess.DEVNULL, stderr=self.log.open("wb"), env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{self.health}/healthz", timeout=2)
                return
            except httpx.HTTPError:
                assert self.proc.poll() is None, self.log.read_text()
                time.sleep(0.2)
        raise AssertionError("agent did not start")

    def post(self, body: bytes, content_type: str | None = "application/json") -> httpx.Response:
        headers = {"Content-Type": content_type} if content_type else {}
        return httpx.post(f"http://127.0.0.1:{self.audit}/k8s-audit", content=body, headers=headers, timeout=10)

    def alerts(self, n: int) -> list[dict[str, Any]]:
        deadline = time.time() + 20
        while time.time() < deadline:
            docs = [json.loads(x) for x in self.out.read_text().splitlines()] if self.out.exists() else []
            if len(docs) >= n:
                return docs
            time.sleep(0.1)
        raise AssertionError(f"expected {n} alerts, got {docs}")

    def healthz(self) -> dict[str, Any]:
        return dict(httpx.get(f"http://127.0.0.1:{self.health}/healthz", timeout=5).json())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Any:
    a = _Agent(tmp_path_factory.mktemp("k8s-audit-agent"))
    yield a
    a.stop()


def test_webhook_batch_with_bad_events_keeps_the_good_ones(agent: _Agent) -> None:
    """The API server batches up to hundreds of events per EventList: a malformed one is counted and named, and
    every other event of the batch is still evaluated (a 400 would make the API server drop or resend them all)."""
    before = agent.healthz()
    items: list[Any] = [{"kind": "Event", "apiVersion": "audit.k8s.io/v1"}, _event(1), 42, "x", None,
                        _event(2, verb=None), [], _event(3)]
    r = agent.post(json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": items}).encode())
    assert r.status_code == 200, r.text
    assert r.json() == {"events": 2, "skipped": 6}
    names = {a["output_fields"]["ka.target.name"] for a in agent.alerts(2) if a["rule"] == "cg-test privileged pod"}
    assert names == {"evil-1", "evil-3"}
    h = agent.healthz()
    assert h["audit_events"] - before["audit_events"] == 2
    assert h["audit_skipped"] - before.get("audit_skipped", 0) == 6
    assert h["audit_rejected"] == before["audit_rejected"]  # the body was accepted
    log = agent.log.read_text()
    assert "item 1" in log and "item 8" not in log


@pytest.mark.parametrize("depth", [300, 900, 5000])
def test_webhook_deeply_nested_event(agent: _Agent, depth: int) -> None:
    """Nesting past what the JSON libraries take (orjson writes 255 levels, Python reads about 990): one skipped
    event, or a 400 for a body nested past what can be read at all -- never a dropped connection."""
    deep = _event(20 + depth % 7, requestObject=json.loads('{"a":' * min(depth, 900) + "1" + "}" * min(depth, 900)))
    body = json.dumps({"kind": "EventList", "items": [_event(30 + depth % 7), deep]})
    if depth > 900:
        body = '{"kind": "EventList", "items": [' + json.dumps(_event(30)) + ", " + '{"a":' * depth + "1" + \
            "}" * depth + "]}"
    r = agent.post(body.encode())
    if depth > 900:
        assert r.status_code == 400 and "JSON" in r.json()["error"]
    else:
        assert r.status_code == 200 and r.json() == {"events": 1, "skipped": 1}, r.text
    assert agent.healthz()["status"] == "ok"


def test_webhook_refuses_a_body_that_is_not_json_by_content_type(agent: _Agent) -> None:
    body = json.dumps({"kind": "EventList", "items": [_event(4)]}).encode()
    before = agent.healthz()["audit_rejected"]
    for ctype in ("application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x",
                  "application/yaml"):
        r = agent.post(body, ctype)
        assert r.status_code == 415, (ctype, r.status_code)
        assert "application/json" in r.json()["error"]
    assert agent.healthz()["audit_rejected"] - before == 4
    for ctype in ("application/json", "application/json; charset=utf-8", "Application/JSON", None):
        assert agent.post(body, ctype).status_code == 200, ctype


def test_webhook_wrong_types_reach_rules_as_text(agent: _Agent) -> None:
    """A string field whose JSON value is an array or object is compared as its JSON text, as Falco's plugin
    does -- never as a Python list (which matched `startswith` on an element or raised in the rule)."""
    odd = _event(5, user={"username": ["mallory"], "groups": [{"name": "g"}, None]},
                 verb={"v": "delete"})
    odd["requestObject"]["spec"]["containers"][0]["image"] = None
    r = agent.post(json.dumps(odd).encode())
    assert r.status_code == 200 and r.json()["events"] == 1
    time.sleep(1.0)
    docs = [json.loads(x) for x in agent.out.read_text().splitlines()]
    mine = [d for d in docs if d["output_fields"].get("ka.target.name") == "evil-5"]
    assert [d["rule"] for d in mine] == []  # '["mallory"]' does not start with "mal", '{"v":"delete"}' not "del"
    ev = audit_event(odd)
    assert ev.fields["ka.user.name"] == '["mallory"]'
    assert ev.fields["ka.verb"] == '{"v":"delete"}'
    assert ev.fields["ka.user.groups"] == ['{"name":"g"}', "null"]
    assert "None" not in ev.fields["ka.req.pod.containers.image"]


def test_agent_audit_log_directory_survives_bad_events(agent: _Agent) -> None:
    """`agent --source k8s_audit:DIR`: a malformed event line (valid JSON, not an audit Event) is counted and
    named; the source keeps reading that file and the files that arrive later (it used to stop the source)."""
    (agent.logs / "audit.log").write_text("\n".join([
        json.dumps(_event(10)), json.dumps({"kind": "Event", "apiVersion": "audit.k8s.io/v1"}), "[1, 2]",
        json.dumps(_event(11))]) + "\n")
    deadline = time.time() + 30
    while time.time() < deadline:
        docs = [json.loads(x) for x in agent.out.read_text().splitlines()] if agent.out.exists() else []
        if {"evil-10", "evil-11"} <= {d["output_fields"].get("ka.target.name") for d in docs}:
            break
        time.sleep(0.2)
    (agent.logs / "audit-2.log").write_text(json.dumps(_event(12)) + "\n")
    deadline = time.time() + 30
    while time.time() < deadline:
        docs = [json.loads(x) for x in agent.out.read_text().splitlines()]
        if "evil-12" in {d["output_fields"].get("ka.target.name") for d in docs}:
            break
        time.sleep(0.2)
    [src] = agent.healthz()["sources"]
    assert src["status"] == "ok", src
    assert src["events"] == 3 and src["parse_errors"] == 3, src
    assert any("audit.log: line 2" in w for w in src["recent_warnings"]), src["recent_warnings"]
    assert "evil-12" in {d["output_fields"].get("ka.target.name") for d in docs}


def _replay(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict[str, Any]], str]:
    rc = main(["rules", "replay", *args])
    out, err = capsys.readouterr()
    return rc or 0, [json.loads(x) for x in out.splitlines() if x.strip()], err


def test_replay_k8s_audit_reads_the_log_backend_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--k8s-audit FILE` reads what --audit-log-path writes (one Event per line, rotated files gzip) as well as an
    EventList or array; a bad line is a counted warning naming file and line, not the end of the file."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    log = tmp_path / "audit.log"
    log.write_text("\n".join([json.dumps(_event(1)), "{truncated", json.dumps({"kind": "Event"}),
                              json.dumps(_event(2))]) + "\n")
    rotated = tmp_path / "audit-2026-11-27T10-00-00.000.log.gz"
    rotated.write_bytes(gzip.compress((json.dumps(_event(3)) + "\n" + json.dumps(_event(4)) + "\n").encode()))
    elist = tmp_path / "eventlist.json"
    elist.write_text(json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1",
                                 "items": [_event(5), {"verb": 1, "kind": "Nope"}]}))
    rc, alerts, err = _replay(["--rules", str(rules), "--k8s-audit", str(log), "--k8s-audit", str(rotated),
                               "--k8s-audit", str(elist)], capsys)
    assert rc == 0, err
    pods = [a["output_fields"]["ka.target.name"] for a in alerts if a["rule"] == "cg-test privileged pod"]
    assert pods == ["evil-1", "evil-2", "evil-3", "evil-4", "evil-5"]
    assert f"{log}: line 2" in err and f"{log}: line 3" in err and f"{elist}: record 2" in err
    assert "3 malformed" in err
    rc, alerts, err = _replay(["--rules", str(rules), "--strict", "--k8s-audit", str(log)], capsys)
    assert rc == 2 and f"{log}: line 2" in err and len(err.strip().splitlines()) == 1


INDEX_RULES = """\
- rule: cg-test first container image
  desc: Falco's index argument on a ka.* list field
  condition: ka.target.resource = pods and ka.req.pod.containers.image[1] startswith "evil/"
  output: second image (img=%ka.req.pod.containers.image[1] priv0=%ka.req.pod.containers.privileged[0])
  priority: WARNING
  source: k8s_audit
- rule: cg-test privileged second
  desc: index on privileged
  condition: ka.req.pod.containers.privileged[1] = true
  output: second privileged (caps1=%ka.req.pod.containers.add_capabilities[1])
  priority: WARNING
  source: k8s_audit
- rule: cg-test role rule verbs
  desc: index on a role's rules
  condition: ka.target.resource = clusterroles and ka.req.role.rules.verbs[1] intersects ("*", escalate)
  output: role (verbs0=%ka.req.role.rules.verbs[0])
  priority: WARNING
  source: k8s_audit
- rule: cg-test hostpath prefix
  desc: Falco's deprecated ka.req.volume.hostpath[PATH] (a * at the end is a prefix)
  condition: ka.req.volume.hostpath[/var/run/docker.sock] = true or ka.req.volume.hostpath[/proc*] = true
  output: hostpath (paths=%ka.req.pod.volumes.hostpath)
  priority: WARNING
  source: k8s_audit
"""


def test_falco_index_and_key_arguments_on_ka_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Falco's k8saudit plugin lets a rule index its list fields (the ith container, rule, port or volume) and
    has ka.req.volume.hostpath[PATH]; a rules file using them loads and each reads what Falco reads."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(INDEX_RULES)

    def pod(i: int, containers: list[dict[str, Any]], volumes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        ev = _event(i)
        ev["requestObject"]["spec"]["containers"] = containers
        if volumes is not None:
            ev["requestObject"]["spec"]["volumes"] = volumes
        return ev

    cap = {"capabilities": {"add": ["SYS_ADMIN"]}, "privileged": True}
    events = [
        pod(1, [{"name": "a", "image": "ok/app"}, {"name": "b", "image": "evil/miner:1"}]),        # image[1]
        pod(2, [{"name": "a", "image": "evil/x", "securityContext": {"privileged": True}}]),     # no [1]: quiet
        pod(3, [{"name": "a", "image": "ok/a"}, {"name": "b", "image": "ok/b", "securityContext": cap}]),
        pod(4, [{"name": "a", "image": "ok/a", "securityContext": cap}, {"name": "b", "image": "ok/b"}]),  # quiet
        pod(5, [{"name": "a", "image": "ok/a"}], [{"name": "d", "hostPath": {"path": "/var/run/docker.sock"}}]),
        pod(6, [{"name": "a", "image": "ok/a"}], [{"name": "p", "hostPath": {"path": "/proc/1/root"}}]),
        pod(7, [{"name": "a", "image": "ok/a"}], [{"name": "p", "hostPath": {"path": "/var/run"}}]),  # quiet
        _event(8, objectRef={"resource": "clusterroles", "name": "r"}, requestObject={
            "kind": "ClusterRole", "rules": [{"verbs": ["get"], "resources": ["pods"]},
                                             {"verbs": ["escalate"], "resources": ["roles"]}]}),
        _event(9, objectRef={"resource": "clusterroles", "name": "r"}, requestObject={
            "kind": "ClusterRole", "rules": [{"verbs": ["*"], "resources": ["pods"]}]}),  # quiet: no rule [1]
    ]
    log = tmp_path / "audit.log"
    log.write_text("".join(json.dumps(e) + "\n" for e in events))
    rc, alerts, err = _replay(["--rules", str(rules), "--k8s-audit", str(log)], capsys)
    assert rc == 0 and "malformed" not in err, err
    got = sorted((int(a["time"][17:19]), a["rule"]) for a in alerts)
    assert got == [(1, "cg-test first container image"), (3, "cg-test privileged second"),
                   (5, "cg-test hostpath prefix"), (6, "cg-test hostpath prefix"), (8, "cg-test role rule verbs")]
    by = {int(a["time"][17:19]): a["output"] for a in alerts}
    assert "img=evil/miner:1 priv0=false" in by[1]
    assert "caps1=SYS_ADMIN" in by[3]
    assert "verbs0=get" in by[8]


def test_webhook_bearer_token_and_endpoints_per_port(tmp_path: Path) -> None:
    """`--k8s-audit-token` (or CONTAINERGUARD_K8S_AUDIT_TOKEN), as the API server's webhook kubeconfig sends it
    (`users[].user.token`): a request without it, or with another, is a 401 and evaluates nothing. The audit
    endpoint is served on the audit address only, never on the health port (often opened for scraping)."""
    token = "s3cr3t-audit-token"
    out, rules = tmp_path / "alerts.jsonl", tmp_path / "rules.yaml"
    rules.write_text(RULES)
    audit, health = _free_port(), _free_port()
    proc = subprocess.Popen(
        [*CLI, "agent", "--no-sensor", "--rules", str(rules), "--k8s-audit-listen", f"127.0.0.1:{audit}",
         "--health-port", f"127.0.0.1:{health}", "--output", f"file:{out}", "--stats-interval", "3600"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "CONTAINERGUARD_K8S_AUDIT_TOKEN": token})
    try:
        deadline = time.time() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{health}/healthz", timeout=2)
                break
            except httpx.HTTPError:
                assert proc.poll() is None and time.time() < deadline
                time.sleep(0.2)
        body = json.dumps({"kind": "EventList", "items": [_event(40)]}).encode()
        url = f"http://127.0.0.1:{audit}/k8s-audit"
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {token}"},
                        {"Authorization": f"Bearer {token}x"}):
            r = httpx.post(url, content=body, headers={"Content-Type": "application/json", **headers}, timeout=5)
            assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer"), headers
        r = httpx.post(f"http://127.0.0.1:{health}/k8s-audit", content=body,
                       headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert r.status_code == 404
        h = httpx.get(f"http://127.0.0.1:{health}/healthz", timeout=5).json()
        assert h["audit_events"] == 0 and h["audit_rejected"] == 4
        r = httpx.post(url, content=body, headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert r.status_code == 200 and r.json() == {"events": 1}
    finally:
        proc.terminate()
        proc.wait(20)


def test_webhook_takes_a_batch_as_large_as_the_api_server_sends(agent: _Agent) -> None:
    """The API server's webhook batches are cut at --audit-webhook-truncate-max-batch-size, 10 MiB by default: a
    batch of that size is accepted whole; one past the agent's 16 MiB ceiling is a 413 with nothing evaluated."""
    blob = "x" * (330 << 10)
    items = [_event(50 + i % 9, objectRef={"resource": "configmaps", "namespace": "default", "name": f"cm-{i}"},
                    requestObject={"kind": "ConfigMap", "data": {"k": blob}}) for i in range(30)]
    body = json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": items}).encode()
    assert 9 << 20 < len(body) <= 10 << 20
    r = agent.post(body)
    assert r.status_code == 200 and r.json() == {"events": 30}, r.text[:200]
    before = agent.healthz()["audit_events"]
    r = agent.post(b"[" + b" " * (17 << 20) + b"]")
    assert r.status_code == 413 and agent.healthz()["audit_events"] == before
