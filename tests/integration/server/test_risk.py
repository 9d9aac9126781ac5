"""The ranked risk view through the API (both backends): an image that runs privileged with a published port and
has a recent alert outranks an idle one, and every item shows the factors of its score."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

CID = "ab" * 32


def _now(delta: dt.timedelta = dt.timedelta(0)) -> str:
    return (dt.datetime.now(dt.UTC) + delta).isoformat().replace("+00:00", "Z")


def _alert(uid: str, prio: str, time: str, cid: str = CID[:12]) -> dict:
    return {"uid": uid, "time": time, "rule": "Shell in container", "priority": prio, "output": "sh spawned",
            "container_id": cid, "container_name": "web", "image": "web:1"}


@pytest.fixture
def ranked_setup(api, docs):
    for d in docs[:2]:
        assert api.post("/scans", content=d).status_code == 201
    images = api.get("/images").json()["items"]
    assert len(images) == 2
    low, high = images[-1], images[0]  # ordered by max_risk: run the one with the LOWER own risk
    assert low["max_risk"] > 0
    agent = api.token("agent", "node-1", host="node-1")
    container = {"id": CID, "name": "web", "image": "web:1", "image_id": low["digest"], "privileged": True,
                 "cap_add": [], "network_mode": "bridge",
                 "mounts": [{"source": "/srv/data", "destination": "/data", "rw": True}],
                 "ports": [{"container": "80/tcp", "host_ip": "0.0.0.0", "host_port": "8080"},
                           {"container": "9090/tcp", "host_ip": "127.0.0.1", "host_port": "9090"}]}
    r = api.post("/agent/report", agent, json={
        "host": "node-1", "batch_id": uuid.uuid4().hex, "containers": [container],
        "alerts": [_alert("risk-recent-1", "Critical", _now()),
                   _alert("risk-old-0001", "Critical", _now(-dt.timedelta(days=3))),  # outside the window
                   _alert("risk-other-01", "Critical", _now(), cid="cd" * 6)]})  # another container
    assert r.status_code == 200, r.text
    return api, low, high, agent


def test_running_exposed_image_outranks_the_idle_one(ranked_setup):
    api, low, high, _ = ranked_setup
    r = api.get("/risk?kind=images")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 2
    first, second = body["items"]
    assert first["rank"] == 1 and first["image"]["digest"] == low["digest"]
    why = first["why"]
    assert why["base_risk"] == pytest.approx(low["max_risk"], abs=0.01)
    assert why["running"] == {"multiplier": 1.5, "running_containers": 1}
    assert why["exposure"]["parts"] == {"privileged": 0.5, "published_ports": 0.3}  # the 127.0.0.1 port is not
    assert why["exposure"]["facts"]["ports"] == ["0.0.0.0:8080->80/tcp"]
    assert why["exposure"]["factor"] == pytest.approx(1.8)
    assert why["alerts"]["alerts"] == 1 and why["alerts"]["factor"] == pytest.approx(1.5)
    assert why["alerts"]["by_priority"] == {"CRITICAL": 1}
    assert first["score"] == pytest.approx(round(low["max_risk"] * 1.5 * 1.8 * 1.5, 2), abs=0.02)
    assert second["image"]["digest"] == high["digest"] and second["rank"] == 2
    assert second["why"]["running"]["multiplier"] == 1.0
    assert second["why"]["exposure"] == {"factor": 1.0, "parts": {}, "facts": {}}
    assert second["why"]["alerts"]["alerts"] == 0
    assert second["score"] == pytest.approx(high["max_risk"], abs=0.01)
    # paging
    page = api.get("/risk?kind=images&limit=1&offset=1").json()
    assert [i["image"]["digest"] for i in page["items"]] == [high["digest"]] and page["items"][0]["rank"] == 2
    # a wider alert window takes in the 3-day-old alert
    wide = api.get("/risk?kind=images&alert_hours=168").json()["items"][0]
    assert wide["why"]["alerts"]["alerts"] == 2 and wide["why"]["alerts"]["factor"] == pytest.approx(2.0)


def test_containers_and_findings_carry_their_parts(ranked_setup, docs):
    api, low, _, _ = ranked_setup
    cont = api.get("/risk?kind=containers").json()
    assert cont["total"] == 1
    c = cont["items"][0]
    assert c["container"]["container_id"] == CID and c["container"]["host"] == "node-1"
    assert c["image"]["digest"] == low["digest"] and c["why"]["scanned"] is True
    assert c["score"] == pytest.approx(round(low["max_risk"] * 4.05, 2), abs=0.02)

    found = api.get("/risk?kind=findings&limit=5").json()["items"]
    assert [f["rank"] for f in found] == [1, 2, 3, 4, 5]
    assert [f["score"] for f in found] == sorted((f["score"] for f in found), reverse=True)
    top = found[0]
    assert top["image"]["digest"] == low["digest"]
    low_doc = next(json.loads(d) for d in docs[:2] if json.loads(d)["image"]["id"] == low["digest"])
    assert top["finding"]["risk"] == pytest.approx(max(f["risk"] for f in low_doc["findings"]), abs=0.01)
    assert top["score"] == pytest.approx(round(top["finding"]["risk"] * 4.05, 2), abs=0.02)
    assert top["why"]["formula"].endswith(f"= {top['score']:.2f}")


def test_who_may_read_it_and_bad_input(ranked_setup):
    api, _, _, agent = ranked_setup
    assert api.get("/risk", agent).status_code == 403
    assert api.get("/risk", api.token("ci")).status_code == 403
    assert api.get("/risk", api.token("viewer")).status_code == 200
    assert api.client.get("/api/v1/risk").status_code == 401
    for q in ("kind=hosts", "limit=0", "offset=-1", "alert_hours=0"):
        assert api.get(f"/risk?{q}").status_code == 422, q


def test_excepted_findings_do_not_count(ranked_setup, docs):
    """Risk accepted on every finding of the running image's top risk: they leave the findings ranking and the
    image's base falls to its next open finding."""
    api, low, _, _ = ranked_setup
    low_doc = next(json.loads(d) for d in docs[:2] if json.loads(d)["image"]["id"] == low["digest"])
    before = next(i for i in api.get("/risk?kind=images").json()["items"] if i["image"]["digest"] == low["digest"])
    top_risk = before["why"]["base_risk"]
    vids = {f["id"] for f in low_doc["findings"] if abs(f["risk"] - top_risk) < 0.01}
    assert vids
    for vid in vids:
        r = api.post("/exceptions", json={"vuln_id": vid, "scope": "image", "image_digest": low["digest"],
                                          "kind": "risk_accepted", "reason": "mitigated"})
        assert r.status_code == 201, r.text
    expected_base = max((f["risk"] for f in low_doc["findings"] if f["id"] not in vids), default=0.0)
    assert expected_base < top_risk
    ranked = api.get("/risk?kind=findings&limit=100").json()["items"]
    assert ranked
    assert not [f for f in ranked if f["finding"]["vuln_id"] in vids and f["image"]["digest"] == low["digest"]]
    after = next(i for i in api.get("/risk?kind=images").json()["items"] if i["image"]["digest"] == low["digest"])
    assert after["why"]["base_risk"] == pytest.approx(expected_base, abs=0.01)
