"""Agent reports through the API: batches acknowledged, replays and repeated alerts stored once, the agent
token bound to its host, container snapshots, bad batches refused whole (both backends)."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from containerguard.server.store.models import Alert, Container


def _alert(i: int, prio: str = "Warning") -> dict:
    return {"uid": f"u{i:08d}", "time": "2026-12-01T10:00:00.5Z", "rule": "Shell in container", "priority": prio,
            "output": f"shell spawned ('; DROP TABLE alerts; --) #{i}", "container_id": "abc123",
            "container_name": "web", "image": "nginx:1", "output_fields": {"proc.name": "sh"}, "tags": ["shell"]}


def _container(cid: str, **kw) -> dict:
    return {"id": cid, "name": f"c-{cid[:4]}", "image": "nginx:1", "image_id": "sha256:" + "e" * 64,
            "privileged": False, "cap_add": [], "mounts": [], "ports": [], "network_mode": "bridge", **kw}


def _count(api, model) -> int:
    with api.app.state.cg.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)))


def test_batches_are_acknowledged_and_replays_store_nothing(api):
    tok = api.token("agent", "node-1")
    batch = {"host": "node-1", "batch_id": uuid.uuid4().hex, "alerts": [_alert(i) for i in range(300)],
             "containers": [_container("a" * 64, privileged=True), _container("b" * 64)]}
    r = api.post("/agent/report", tok, json=batch)
    assert r.status_code == 200, r.text
    assert r.json() == {"ack": batch["batch_id"], "duplicate": False, "alerts_stored": 300, "containers": 2}
    again = api.post("/agent/report", tok, json=batch)
    assert again.json()["duplicate"] is True and again.json()["alerts_stored"] == 0
    # the same alerts in a new batch (a retry after a lost ack, re-spooled): skipped by uid
    r = api.post("/agent/report", tok, json={**batch, "batch_id": uuid.uuid4().hex, "containers": None,
                                             "alerts": [*batch["alerts"][:50], _alert(1000)]})
    assert r.json()["alerts_stored"] == 1
    assert _count(api, Alert) == 301
    alerts = api.get("/alerts?host=node-1&limit=1000").json()
    assert len(alerts) == 301 and len({a["uid"] for a in alerts}) == 301
    assert alerts[-1]["output"].startswith("shell spawned ('; DROP TABLE alerts; --)")
    # a later snapshot without b: b is no longer running
    r = api.post("/agent/report", tok, json={"host": "node-1", "batch_id": uuid.uuid4().hex,
                                             "containers": [_container("a" * 64, privileged=True)]})
    running = api.get("/containers?host=node-1").json()
    assert [c["container_id"] for c in running] == ["a" * 64] and running[0]["privileged"] is True
    assert len(api.get("/containers?running=false").json()) == 1
    hosts = api.get("/hosts").json()
    assert hosts[0]["name"] == "node-1" and hosts[0]["running_containers"] == 1


def test_container_snapshots_follow_the_host(api):
    """Each snapshot is the host's running set: what changed is rewritten, what is unchanged keeps its first
    sighting and gets a later last one, a stopped container that comes back runs again, a container listed
    twice in one snapshot is one container (the last entry), and none of it needs the alerts to be refused."""
    import time

    tok = api.token("agent", "node-s", host="node-s")

    def report(*containers: dict) -> dict:
        r = api.post("/agent/report", tok, json={"host": "node-s", "batch_id": uuid.uuid4().hex,
                                                 "containers": list(containers), "alerts": [_alert(len(containers))]})
        assert r.status_code == 200, r.text
        return {c["container_id"]: c for c in api.get("/containers?host=node-s&running=true").json()}

    a, b = "a" * 64, "b" * 64
    first = report(_container(a), _container(b))
    assert sorted(first) == [a, b]
    time.sleep(0.05)
    mounts = [{"source": "/var/run/docker.sock", "destination": "/var/run/docker.sock", "rw": True}]
    second = report(_container(a), _container(b, privileged=True, mounts=mounts, ports=[{"PrivatePort": 80}],
                                             pid_mode="host", read_only=True))
    assert second[a]["first_seen"] == first[a]["first_seen"] and second[a]["last_seen"] > first[a]["last_seen"]
    assert {k: second[a][k] for k in ("privileged", "mounts", "ports", "pid_mode", "read_only")} == \
        {k: first[a][k] for k in ("privileged", "mounts", "ports", "pid_mode", "read_only")}
    changed = second[b]
    assert (changed["privileged"], changed["mounts"], changed["ports"], changed["pid_mode"], changed["read_only"]) == \
        (True, mounts, [{"PrivatePort": 80}], "host", True)
    assert changed["first_seen"] == first[b]["first_seen"]
    # b stops; then it is back, unprivileged again, and listed twice (the last entry stands)
    assert sorted(report(_container(a))) == [a]
    back = report(_container(a), _container(b, privileged=True), _container(b, name="b-again"))
    assert sorted(back) == [a, b] and back[b]["name"] == "b-again" and back[b]["privileged"] is False
    c = "c" * 64
    assert sorted(report(_container(a), _container(c), _container(c, name="c-again"))) == [a, c]  # new, twice
    assert _count(api, Container) == 3
    assert len(api.get("/alerts?host=node-s").json()) == 3  # one per report with a distinct uid


def test_agent_token_speaks_only_for_its_host(api):
    tok = api.token("agent", "node-1")
    r = api.post("/agent/report", tok, json={"host": "node-2", "batch_id": uuid.uuid4().hex, "alerts": [_alert(1)]})
    assert r.status_code == 403
    assert api.get("/alerts", tok).status_code == 403  # agents read nothing
    assert _count(api, Alert) == 0


def test_an_agent_reads_its_own_host_and_no_other(api):
    a, b = api.token("agent", "node-a"), api.token("agent", "node-b")
    assert api.get("/hosts/self", a).status_code == 404  # not reported yet
    r = api.post("/agent/report", a, json={"host": "node-a", "batch_id": uuid.uuid4().hex,
                                           "alerts": [_alert(1), _alert(2)],
                                           "containers": [_container("a" * 64, privileged=True), _container("b" * 64)]})
    assert r.status_code == 200, r.text
    r = api.post("/agent/report", b, json={"host": "node-b", "batch_id": uuid.uuid4().hex, "alerts": [_alert(3)],
                                           "containers": [_container("c" * 64)]})
    assert r.status_code == 200, r.text
    mine = api.get("/hosts/self", a)
    assert mine.status_code == 200, mine.text
    view = mine.json()
    assert view["name"] == "node-a" and view["running_containers"] == 2 and view["alerts"] == 2
    assert sorted(c["container_id"] for c in view["containers"]) == ["a" * 64, "b" * 64]
    assert all(c["host"] == "node-a" for c in view["containers"])
    assert view["last_batch_at"] is not None
    other = api.get("/hosts/self", b).json()
    assert other["name"] == "node-b" and [c["container_id"] for c in other["containers"]] == ["c" * 64]
    assert other["alerts"] == 1
    # the fleet-wide lists stay closed to agents; people use /hosts (the self view is for agent tokens)
    for path in ("/hosts", "/containers", "/alerts", "/hosts/self?host=node-b"):
        r = api.get(path, a)
        assert r.status_code == 403 or r.json()["name"] == "node-a", (path, r.status_code)
    assert api.get("/hosts/self").status_code == 403


def test_alert_fields_tags_and_times_round_trip(api):
    """Every column of an alert reads back as sent (on PostgreSQL a batch goes in as one array statement)."""
    tok = api.token("agent", "node-1")
    odd = {**_alert(7, "Error"), "time": "2026-12-01T10:00:00.123456+02:00", "rule_id": "CG-R-1",
           "output": 'a "quoted" {brace} \\ back\\slash, comma ü 東京 %s %(x)s', "source": "k8s_audit",
           "output_fields": {"proc.cmdline": "sh -c \"echo '{}'\"", "n": 5, "nested": {"a": [1, "ü", None]}},
           "tags": ["a,b", "{x}", 'q"uote', "NULL"]}
    r = api.post("/agent/report", tok, json={"host": "node-1", "batch_id": uuid.uuid4().hex, "alerts": [odd, _alert(8)]})
    assert r.status_code == 200 and r.json()["alerts_stored"] == 2, r.text
    got = {a["uid"]: a for a in api.get("/alerts?host=node-1").json()}
    a = got[odd["uid"]]
    assert a["output"] == odd["output"] and a["fields"] == odd["output_fields"] and a["tags"] == odd["tags"]
    assert (a["rule_id"], a["source"], a["priority"]) == ("CG-R-1", "k8s_audit", "ERROR")
    assert a["time"].replace("Z", "+00:00").startswith("2026-12-01T08:00:00.123456")
    assert got[_alert(8)["uid"]]["fields"] == {"proc.name": "sh"} and got[_alert(8)["uid"]]["tags"] == ["shell"]


def test_a_bad_batch_is_refused_whole(api):
    tok = api.token("agent", "node-1")
    alerts = [_alert(i) for i in range(10)] + [{**_alert(11), "priority": "Catastrophic"}]
    r = api.post("/agent/report", tok, json={"host": "node-1", "batch_id": uuid.uuid4().hex, "alerts": alerts})
    assert r.status_code == 422
    r = api.post("/agent/report", tok, json={"host": "node-1", "batch_id": "x", "alerts": []})
    assert r.status_code == 422
    r = api.post("/agent/report", tok, json={"host": "node-1", "batch_id": uuid.uuid4().hex,
                                             "containers": [_container("not-hex")]})
    assert r.status_code == 422
    assert _count(api, Alert) == 0 and _count(api, Container) == 0


def test_critical_alerts_raise_events(api):
    tok = api.token("agent", "node-1")
    api.post("/agent/report", tok, json={"host": "node-1", "batch_id": uuid.uuid4().hex,
                                         "alerts": [_alert(1, "Critical"), _alert(2, "Notice")]})
    ev = api.get("/events?type=runtime_alert").json()
    assert len(ev) == 1 and ev[0]["host"] == "node-1" and "CRITICAL Shell in container" in ev[0]["summary"]
    # the same critical alert again (re-spooled into a new batch, or twice in one batch): stored once, one event
    r = api.post("/agent/report", tok, json={"host": "node-1", "batch_id": uuid.uuid4().hex,
                                             "alerts": [_alert(1, "Critical"), _alert(3, "Critical"),
                                                        _alert(3, "Critical")]})
    assert r.json()["alerts_stored"] == 1
    ev = api.get("/events?type=runtime_alert").json()
    assert len(ev) == 2 and sorted(e["detail"]["alert_uid"] for e in ev) == ["u00000001", "u00000003"]
