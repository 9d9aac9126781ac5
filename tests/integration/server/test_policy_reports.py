"""Enforcement points report their decisions to the central server: a real `admission serve --server` over HTTPS
pointed at a real `containerguard server` process (SQLite and PostgreSQL). A denied AdmissionReview shows up as
a policy violation through the API (with its filters) and on the console's Policies page, raises a
`policy_violation` event; decisions made while the server is down arrive once after it returns, and the
webhook's answers never wait for the server. The server's policy set is pushed with `policy push` and
enforced by a webhook started with `--policy-from-server`, which keeps it when the server goes away."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.browser.web import login
from tests.fixtures import registry as reg
from tests.fixtures import server as srv
from tests.fixtures.webhook import Certs, admission_server, make_certs
from tests.integration.server.test_cli import cg


def _review(name: str, *, privileged: bool = False, namespace: str = "shop", image: str = "registry.example.com/web:1.4.2",
            kind: str = "Pod") -> dict[str, Any]:
    sc = {"privileged": True} if privileged else {"runAsNonRoot": True, "allowPrivilegeEscalation": False}
    container = {"name": "web", "image": image, "securityContext": sc}
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
                           "spec": {"containers": [container]}}
    if kind == "Deployment":
        obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
               "spec": {"selector": {"matchLabels": {"app": name}}, "template": {
                   "metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}}}
    group, resource = ("apps", "deployments") if kind == "Deployment" else ("", "pods")
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": str(uuid.uuid4()), "kind": {"group": group, "version": "v1", "kind": kind},
        "resource": {"group": group, "version": "v1", "resource": resource}, "name": name, "namespace": namespace,
        "operation": "CREATE", "userInfo": {"username": "alice@example.com"}, "object": obj, "oldObject": None,
        "dryRun": False}}


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "server.sqlite")
        return
    if not srv.postgres_available():
        pytest.fail("PostgreSQL is not running: scripts/services starts it (pg_ctlcluster 15 main start)")
    url = srv.postgres_url()
    try:
        yield url
    finally:
        srv.drop_postgres(url)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("tls"))


def _violations(s: srv.ServerProcess, token: str, **params: Any) -> list[dict[str, Any]]:
    r = httpx.get(f"{s.url}/api/v1/policy/violations", params={"limit": 1000, **params},
                  headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200, r.text
    return list(r.json())


def test_admission_decisions_reach_the_server_and_survive_an_outage(db: str, certs: Certs, tmp_path: Path) -> None:
    port = reg.free_port()
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    s = srv.ServerProcess.server(tmp_path, "--db", db, "--vulndb", str(srv.vulndb()), env=env, port=port)
    try:
        admin = s.first_line().rsplit(" ", 1)[1].strip()
        enforcer = cg("token", "create", "webhook-prod", "--role", "enforcer", "--server", s.url, "--token", admin).stdout.strip()
        viewer = cg("token", "create", "dash", "--role", "viewer", "--server", s.url, "--token", admin).stdout.strip()
        # an enforcer token reports decisions and nothing more
        assert httpx.get(f"{s.url}/api/v1/images", headers={"Authorization": f"Bearer {enforcer}"}).status_code == 403
        assert httpx.get(f"{s.url}/api/v1/policy/violations", headers={"Authorization": f"Bearer {enforcer}"}).status_code == 403
        spool = tmp_path / "spool"
        with admission_server(certs, "--server", s.url, "--token", enforcer, "--spool-dir", str(spool),
                              log=tmp_path / "webhook.log") as url, \
                httpx.Client(base_url=url, verify=certs.context(), timeout=10) as hook:
            denied = hook.post("/validate", json=_review("evil", privileged=True)).json()["response"]
            assert denied["allowed"] is False and "CG-DEP-001" in denied["status"]["message"]
            assert hook.post("/validate", json=_review("fine")).json()["response"]["allowed"] is True
            dep = hook.post("/validate", json=_review("api", privileged=True, namespace="payments",
                                                      kind="Deployment")).json()["response"]
            assert dep["allowed"] is False
            broken = _review("broken")
            broken["request"]["object"]["spec"]["containers"][0]["command"] = 5  # the API server would refuse it
            assert hook.post("/validate", json=broken).json()["response"]["allowed"] is False  # fail-closed

            rows = srv.wait_for(lambda: [v for v in _violations(s, viewer, source="admission") if v["policy"] == "CG-DEP-001"]
                                if len([v for v in _violations(s, viewer, source="admission") if v["policy"] == "CG-DEP-001"]) >= 2
                                else [], 30)
            assert len(rows) == 2, rows
            pod = next(v for v in rows if v["object"]["name"] == "evil")
            assert (pod["stage"], pod["source"], pod["action"], pod["allowed"], pod["mode"]) == \
                ("deploy", "admission", "deny", False, "enforce")
            assert pod["object"] == {"namespace": "shop", "kind": "Pod", "name": "evil", "container": ""}
            assert pod["reporter"] == "webhook-prod" and pod["user"] == "alice@example.com"
            assert pod["image_name"] == "registry.example.com/web:1.4.2"
            assert pod["name"] == "privileged-container" and pod["message"] == "The container runs privileged."
            assert pod["decided_at"] and pod["decision_uid"]
            # a request that could not be evaluated is reported with the failure mode's decision
            undecided = srv.wait_for(lambda: _violations(s, viewer, policy="CG-UNDECIDABLE"), 30)
            assert [(v["object"]["name"], v["action"], v["allowed"]) for v in undecided] == [("broken", "deny", False)]
            # filters: namespace, decision, stage
            only = _violations(s, viewer, namespace="payments", policy="CG-DEP-001")
            assert [(v["object"]["kind"], v["object"]["name"]) for v in only] == [("Deployment", "api")]
            assert _violations(s, viewer, source="admission", stage="build") == []
            assert {v["allowed"] for v in _violations(s, viewer, source="admission", decision="denied")} == {False}
            # a deny raises an event notification rules can match
            events = httpx.get(f"{s.url}/api/v1/events", params={"type": "policy_violation"},
                               headers={"Authorization": f"Bearer {admin}"}).json()
            assert any("Pod shop/evil" in e["summary"] and "CG-DEP-001" in e["summary"] for e in events), events
            # the Policies page shows the decision
            client, resp = login(s.url, viewer)
            assert resp.status_code == 303
            page = client.get("/policies").text
            assert "Pod shop/evil container web" in page and "deny" in page and "blocked" in page
            assert "webhook-prod" in page  # the enforcement points' table

            # --- the server goes away: decisions still answer at once and wait in the spool
            s.stop()
            slow = 0.0
            for i in range(5):
                t0 = time.perf_counter()
                r = hook.post("/validate", json=_review(f"outage-{i}", privileged=True)).json()["response"]
                slow = max(slow, time.perf_counter() - t0)
                assert r["allowed"] is False
            assert slow < 1.0, f"an admission answer waited {slow:.2f} s while the server was down"
            srv.wait_for(lambda: list(spool.glob("*.json")), 10)
            assert list(spool.glob("*.json")), "nothing spooled during the outage"
            health = hook.get("/healthz").json()
            assert health["reporting"]["spooled_batches"] >= 1 and health["reporting"]["dropped"] == 0
            time.sleep(2)
            s = srv.ServerProcess.server(tmp_path, "--db", db, "--vulndb", str(srv.vulndb()), env=env, port=port)

            def arrived() -> list[dict[str, Any]]:
                got = [v for v in _violations(s, viewer, source="admission", policy="CG-DEP-001")
                       if v["object"]["name"].startswith("outage-")]
                return got if len(got) >= 5 and not list(spool.glob("*.json")) else []

            srv.wait_for(arrived, 60)
            time.sleep(2)  # a duplicate would have arrived by now
            got = [v for v in _violations(s, viewer, source="admission", policy="CG-DEP-001")
                   if v["object"]["name"].startswith("outage-")]
            assert sorted(v["object"]["name"] for v in got) == [f"outage-{i}" for i in range(5)]
        # the webhook's counts: the allowed decision is counted, not stored
        enf = httpx.get(f"{s.url}/api/v1/policy/enforcers", headers={"Authorization": f"Bearer {viewer}"}).json()
        mine = [e for e in enf if e["source"] == "admission" and e["reporter"] == "webhook-prod"]
        assert len(mine) == 1 and mine[0]["denied"] == 8 and mine[0]["allowed"] >= 1 and mine[0]["policy_set"], mine
    finally:
        s.stop()


def test_a_replayed_batch_is_stored_once_and_roles_are_checked(tmp_path: Path) -> None:
    from cryptography.fernet import Fernet
    from tests.integration.server.test_notify import Receiver

    s = srv.ServerProcess.server(tmp_path, "--vulndb", str(srv.vulndb()), env={
        "XDG_DATA_HOME": str(tmp_path / "xdg"), "CONTAINERGUARD_SECRET_KEY": Fernet.generate_key().decode()})
    receiver = Receiver()
    try:
        admin = s.first_line().rsplit(" ", 1)[1].strip()
        # a notification rule on denials
        t = httpx.post(f"{s.url}/api/v1/notifications/targets", headers={"Authorization": f"Bearer {admin}"},
                       json={"name": "secops", "kind": "webhook", "url": f"{receiver.url}/hook",
                             "event_types": ["policy_violation"], "min_severity": "high"})
        assert t.status_code == 201, t.text
        enforcer = cg("token", "create", "plugin-a", "--role", "enforcer", "--server", s.url, "--token", admin).stdout.strip()
        agent = cg("token", "create", "node-1", "--role", "agent", "--host", "node-1", "--server", s.url,
                   "--token", admin).stdout.strip()
        ci = cg("token", "create", "ci", "--role", "ci", "--server", s.url, "--token", admin).stdout.strip()
        decision = {"uid": "d" * 32, "time": "2026-12-01T10:00:00Z", "stage": "deploy", "allowed": False,
                    "object": {"kind": "container", "container": "web", "image": "nginx:1"},
                    "violations": [{"policy": "CG-DEP-001", "name": "privileged-container", "severity": "critical",
                                    "action": "deny", "subject": "container web from image nginx:1",
                                    "message": "The container runs privileged."}]}
        batch = {"batch_id": "00000000000000000001-abcdefabcdef", "source": "authz", "instance": "docker-host-1",
                 "counts": {"allowed": 3, "denied": 1}, "decisions": [decision]}

        def post(token: str, body: dict[str, Any]) -> httpx.Response:
            return httpx.post(f"{s.url}/api/v1/policy/reports", json=body, headers={"Authorization": f"Bearer {token}"})

        first, again = post(enforcer, batch), post(enforcer, batch)
        assert first.status_code == again.status_code == 200, first.text
        assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
        rows = _violations(s, admin, source="authz")
        assert len(rows) == 1 and rows[0]["object"]["container"] == "web"
        # the denial fired the notification rule, once (the replay raised nothing)
        hits = srv.wait_for(lambda: receiver.hits, 30)
        time.sleep(1)
        assert len(receiver.hits) == 1, receiver.hits
        sent = receiver.hits[0][2]
        assert "policy_violation" in str(sent) and "CG-DEP-001" in str(sent) and "container web" in str(sent), hits
        # a decision allowed in warn mode raises no event
        warn = {**batch, "batch_id": "00000000000000000009-abcdefabcdef", "counts": {},
                "decisions": [{**decision, "uid": "w" * 32, "allowed": True, "mode": "warn"}]}
        assert post(enforcer, warn).json()["duplicate"] is False
        time.sleep(2)
        assert len(receiver.hits) == 1
        enf = httpx.get(f"{s.url}/api/v1/policy/enforcers", headers={"Authorization": f"Bearer {admin}"}).json()
        assert [(e["instance"], e["allowed"], e["denied"]) for e in enf] == [("docker-host-1", 3, 1)]
        # an agent token reports its own host's runtime decisions only; CI tokens report none
        runtime = {**batch, "batch_id": "00000000000000000002-abcdefabcdef", "source": "agent",
                   "decisions": [{**decision, "stage": "runtime"}]}
        assert post(agent, {**runtime, "instance": "node-2"}).status_code == 403
        assert post(agent, batch).status_code == 403
        assert post(agent, {**runtime, "instance": "node-1"}).status_code == 200
        assert post(enforcer, runtime).status_code == 403
        assert post(ci, batch).status_code == 403
        # malformed batches are refused with the reason, and nothing is stored
        bad = post(enforcer, {**batch, "batch_id": "x/../y"})
        assert bad.status_code == 422
        assert post(enforcer, {**batch, "batch_id": "00000000000000000003-abcdefabcdef",
                               "decisions": [{**decision, "stage": "later"}]}).status_code == 422
        assert len(_violations(s, admin, source="authz")) == 2  # the denial and the warn-mode one
    finally:
        receiver.close()
        s.stop()


POLICY = """\
id: ACME-NO-LATEST
name: no-latest-tag
description: Images are deployed by version, never by the latest tag.
severity: high
condition: image.tag == "latest"
remediation: Pin the image to a version.
enforcement: {deploy: deny}
"""


BUILD_POLICY = """\
id: ACME-VULNS
name: no-known-vulnerabilities
description: Release images carry no known vulnerability.
severity: high
condition: findings.exists(f, f.kind == "vulnerability")
enforcement: {build: fail-build}
"""


def test_policy_push_then_enforced_from_the_server_and_kept_when_it_is_down(certs: Certs, tmp_path: Path) -> None:
    port = reg.free_port()
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    s = srv.ServerProcess.server(tmp_path, "--data-dir", str(tmp_path / "data"), env=env, port=port)
    try:
        admin = s.first_line().rsplit(" ", 1)[1].strip()
        enforcer = cg("token", "create", "hook", "--role", "enforcer", "--server", s.url, "--token", admin).stdout.strip()
        analyst = cg("token", "create", "ana", "--role", "analyst", "--server", s.url, "--token", admin).stdout.strip()
        pol = tmp_path / "pol"
        pol.mkdir()
        (pol / "latest.yaml").write_text(POLICY)
        # a bad policy is refused with FILE:LINE before anything is sent; only an admin changes the set
        (tmp_path / "bad").mkdir()
        (tmp_path / "bad" / "x.yaml").write_text(POLICY.replace('image.tag == "latest"', "image.tag ==="))
        r = cg("policy", "push", str(tmp_path / "bad"), "--server", s.url, "--token", admin)
        assert r.returncode == 2 and "x.yaml:" in r.stderr
        r = cg("policy", "push", str(pol), "--server", s.url, "--token", analyst)
        assert r.returncode == 2 and "403" in r.stderr
        r = cg("policy", "push", str(pol), "--server", s.url, "--token", admin)
        assert r.returncode == 0 and "pushed 1 file(s)" in r.stdout, r.stderr
        # hostile or broken pushes through the API are refused with the reason and change nothing
        before = httpx.get(f"{s.url}/api/v1/policies/bundle", headers={"Authorization": f"Bearer {admin}"}).json()
        for files, why in (([{"name": "../../etc/cron.d/x.yaml", "text": POLICY}], "relative path"),
                           ([{"name": "/abs.yaml", "text": POLICY}], "relative path"),
                           ([{"name": "a.yaml", "text": POLICY}, {"name": "b.yaml", "text": POLICY}], "duplicate policy id"),
                           ([{"name": "c.yaml", "text": "id: [unclosed"}], "c.yaml:")):
            r = httpx.put(f"{s.url}/api/v1/policies", json={"files": files}, headers={"Authorization": f"Bearer {admin}"})
            assert r.status_code == 422 and why in r.text, (files, r.text)
            assert "/tmp/" not in r.text  # no server path in the answer
        assert httpx.get(f"{s.url}/api/v1/policies/bundle", headers={"Authorization": f"Bearer {admin}"}).json() == before
        listed = cg("policy", "list", "--server", s.url, "--token", analyst, "--format", "json")
        ids = {p["id"]: p for p in __import__("json").loads(listed.stdout)}
        assert ids["ACME-NO-LATEST"]["source"] == "latest.yaml" and "CG-DEP-001" in ids
        # CI applies the server's build policies: `scan --policy-from-server` with a CI token
        (pol / "build").mkdir()
        (pol / "build" / "vulns.yaml").write_text(BUILD_POLICY)
        assert cg("policy", "push", str(pol), "--server", s.url, "--token", admin).returncode == 0
        ci = cg("token", "create", "ci", "--role", "ci", "--server", s.url, "--token", admin).stdout.strip()
        layout = srv.image_layout(tmp_path / "layout", 2)
        r = cg("scan", f"oci:{layout}:1", "--db", str(srv.vulndb()), "--format", "json", "-o", str(tmp_path / "r.json"),
               "--policy-from-server", "--server", s.url, "--token", ci)
        assert r.returncode == 1 and "FAIL-BUILD ACME-VULNS" in r.stderr, r.stderr[-2000:]
        cache = tmp_path / "cache"
        latest = _review("web", image="registry.example.com/web:latest")
        with admission_server(certs, "--server", s.url, "--token", enforcer, "--policy-from-server",
                              "--spool-dir", str(tmp_path / "spool"), env={"XDG_CACHE_HOME": str(cache)},
                              log=tmp_path / "hook.log") as url, \
                httpx.Client(base_url=url, verify=certs.context(), timeout=10) as hook:
            r = hook.post("/validate", json=latest).json()["response"]
            assert r["allowed"] is False and "ACME-NO-LATEST" in r["status"]["message"]
            # the server knows this webhook runs its set as it stands now
            h = {"Authorization": f"Bearer {admin}"}
            enf = srv.wait_for(lambda: httpx.get(f"{s.url}/api/v1/policy/enforcers", headers=h).json(), 30)
            assert [(e["source"], e["policy_set_current"]) for e in enf] == [("admission", True)]
        (pol / "latest.yaml").write_text(POLICY.replace("severity: high", "severity: critical")
                                         .replace("{deploy: deny}", "{deploy: warn}"))
        assert cg("policy", "push", str(pol), "--server", s.url, "--token", admin).returncode == 0
        enf = httpx.get(f"{s.url}/api/v1/policy/enforcers", headers=h).json()
        assert [e["policy_set_current"] for e in enf] == [False]  # it has not fetched the new set
        latest_deny = POLICY
        (pol / "latest.yaml").write_text(latest_deny)
        assert cg("policy", "push", str(pol), "--server", s.url, "--token", admin).returncode == 0
        s.stop()
        # restarted while the server is down: the cached set is still enforced
        with admission_server(certs, "--server", s.url, "--token", enforcer, "--policy-from-server",
                              "--spool-dir", str(tmp_path / "spool"), env={"XDG_CACHE_HOME": str(cache)},
                              log=tmp_path / "hook2.log") as url, \
                httpx.Client(base_url=url, verify=certs.context(), timeout=10) as hook:
            r = hook.post("/validate", json={**latest, "request": {**latest["request"], "uid": "u2"}}).json()["response"]
            assert r["allowed"] is False and "ACME-NO-LATEST" in r["status"]["message"]
        assert "cached copy" in (tmp_path / "hook2.log").read_text()
    finally:
        s.stop()


RUNTIME_POLICY = """\
id: ACME-PRIV-POD
name: privileged-pod-alert
description: Someone created a privileged pod.
severity: high
condition: alert.rule == "Privileged pod created"
enforcement: {runtime: alert}
"""


@pytest.mark.parametrize("where", ["local", "server"])
def test_agent_cli_reports_runtime_policy_decisions(tmp_path: Path, where: str) -> None:
    """`agent --policy DIR --server --token` (an agent token), or the policy pushed to the server and
    `agent --policy-from-server`: runtime-policy violations over real rule matches (the agent's Kubernetes
    audit webhook, no eBPF needed) are stored as runtime violations of this host."""
    import os
    import socket
    import subprocess

    from tests.integration.server.test_agent_uplink import _event

    env = {"XDG_DATA_HOME": str(tmp_path / "xdg"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    s = srv.ServerProcess.server(tmp_path, "--data-dir", str(tmp_path / "data"), env=env)
    host = socket.gethostname()
    (tmp_path / "pol").mkdir()
    (tmp_path / "pol" / "priv.yaml").write_text(RUNTIME_POLICY)
    audit = reg.free_port()
    agent = None
    try:
        admin = s.first_line().rsplit(" ", 1)[1].strip()
        tok = cg("token", "create", "node-a", "--role", "agent", "--host", host, "--server", s.url, "--token", admin).stdout.strip()
        if where == "server":
            assert cg("policy", "push", str(tmp_path / "pol"), "--server", s.url, "--token", admin).returncode == 0
        policies = ["--policy", str(tmp_path / "pol")] if where == "local" else ["--policy-from-server"]
        agent = subprocess.Popen([sys.executable, "-m", "containerguard.cli.main", "agent", "--no-sensor",
                                  "--k8s-audit-listen", f"127.0.0.1:{audit}", "--output", f"file:{tmp_path / 'a.jsonl'}",
                                  *policies, "--server", s.url, "--token", tok,
                                  "--spool-dir", str(tmp_path / "spool")], cwd=srv.ROOT, env={**os.environ, **env},
                                 stdout=subprocess.DEVNULL, stderr=open(tmp_path / "agent.log", "wb"))  # noqa: SIM115

        def sent() -> bool:
            try:
                return httpx.post(f"http://127.0.0.1:{audit}/k8s-audit", json=[_event(i) for i in range(3)],
                                  timeout=2).json() == {"events": 3}
            except httpx.HTTPError:
                return False

        assert srv.wait_for(sent, 30), (tmp_path / "agent.log").read_text()[-2000:]
        rows = srv.wait_for(lambda: v if len(v := _violations(s, admin, source="agent", policy="ACME-PRIV-POD")) >= 3
                            else [], 30)
        assert len(rows) == 3, (tmp_path / "agent.log").read_text()[-2000:]
        assert {(v["stage"], v["action"], v["allowed"], v["instance"], v["reporter"]) for v in rows} == \
            {("runtime", "alert", True, host, "node-a")}
        assert {v["object"]["namespace"] for v in rows} <= {"default", ""}
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(30)
        s.stop()


def test_agent_policy_decisions_and_alerts_survive_an_outage_once_each(tmp_path: Path) -> None:
    """`agent --policy DIR --server --token` with the default spool (no --spool-dir): runtime-policy decisions
    and the alerts they came from, made while the server is down, wait on disk and arrive once each after it
    returns -- the decisions through the policy reports endpoint, the alerts through the agent's."""
    import os
    import socket
    import subprocess

    from tests.integration.server.test_agent_uplink import _event

    env = {"XDG_DATA_HOME": str(tmp_path / "xdg"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    port = reg.free_port()
    s = srv.ServerProcess.server(tmp_path, "--data-dir", str(tmp_path / "data"), env=env, port=port)
    host = socket.gethostname()
    (tmp_path / "pol").mkdir()
    (tmp_path / "pol" / "priv.yaml").write_text(RUNTIME_POLICY)
    audit = reg.free_port()
    agent = None
    try:
        admin = s.first_line().rsplit(" ", 1)[1].strip()
        tok = cg("token", "create", "node-a", "--role", "agent", "--host", host, "--server", s.url, "--token", admin).stdout.strip()
        agent = subprocess.Popen([sys.executable, "-m", "containerguard.cli.main", "agent", "--no-sensor",
                                  "--k8s-audit-listen", f"127.0.0.1:{audit}", "--output", f"file:{tmp_path / 'a.jsonl'}",
                                  "--policy", str(tmp_path / "pol"), "--server", s.url, "--token", tok],
                                 cwd=srv.ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                                 stderr=open(tmp_path / "agent.log", "wb"))  # noqa: SIM115

        def send(first: int, n: int) -> bool:
            try:
                return httpx.post(f"http://127.0.0.1:{audit}/k8s-audit", json=[_event(i) for i in range(first, first + n)],
                                  timeout=5).json() == {"events": n}
            except httpx.HTTPError:
                return False

        def both(want: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            return (_violations(s, admin, source="agent", policy="ACME-PRIV-POD"),
                    httpx.get(f"{s.url}/api/v1/alerts", params={"limit": 1000, "host": host},
                              headers={"Authorization": f"Bearer {admin}"}).json())

        assert srv.wait_for(lambda: send(0, 2), 30), (tmp_path / "agent.log").read_text()[-2000:]
        assert srv.wait_for(lambda: all(len(x) >= 2 for x in both(2)), 30), (tmp_path / "agent.log").read_text()[-2000:]
        s.stop()  # the outage: decisions and alerts keep coming
        assert send(2, 3) and send(5, 3)
        spool = tmp_path / "xdg" / "containerguard"
        assert srv.wait_for(lambda: len(list(spool.rglob("*.json"))) >= 2, 15), sorted(spool.rglob("*"))
        time.sleep(3)
        s = srv.ServerProcess.server(tmp_path, "--data-dir", str(tmp_path / "data"), env=env, port=port)
        srv.wait_for(lambda: all(len(x) >= 8 for x in both(8)) and not list(spool.rglob("[0-9]*.json")), 60)
        time.sleep(3)  # a duplicate would have arrived by now
        violations, alerts = both(8)
        assert len(violations) == 8, (len(violations), (tmp_path / "agent.log").read_text()[-3000:])
        assert len({v["decision_uid"] for v in violations}) == 8
        priv = [a for a in alerts if a["rule"] == "Privileged pod created"]
        assert sorted(a["fields"]["ka.target.name"] for a in priv) == [f"evil-{i}" for i in range(8)], priv[:1]
        assert not list(spool.rglob("[0-9]*.json")) and not [p for p in spool.rglob("rejected/*")], \
            sorted(spool.rglob("*"))
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(30)
        s.stop()
