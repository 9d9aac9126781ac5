"""Editing a registry and a notification target through the API (PATCH), on both backends, against real
components: a docker-registry with htpasswd auth whose first sync fails on a wrong password and succeeds
once the password is corrected; a webhook target whose rule and URL are changed and whose next deliveries
follow the new rule to the new receiver. Secrets are never returned or written to the audit log; a secret
left out is kept, "" removes it; bad edits are refused with a reason and change nothing."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from tests.fixtures import registry as reg
from tests.fixtures import server as srv
from tests.integration.server.test_notify import Receiver, deliver_until

from containerguard.server.store.models import NotificationTarget, Registry


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("CONTAINERGUARD_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("CONTAINERGUARD_NOTIFY_BACKOFF", "0.3")


def patch(api, path: str, body: dict, token: str | None = None):
    return api.client.patch(f"/api/v1{path}", headers=api.h(token), json=body)


def _stored_registry(api, name: str) -> Registry:
    with api.app.state.cg.sessions() as s:
        row = s.scalars(select(Registry).where(Registry.name == name)).one()
        s.expunge(row)
        return row


def test_correcting_a_registry_password_makes_its_sync_work(api, key, tmp_path):
    registry = reg.Registry.start(tmp_path / "registry", auth=True)
    try:
        pushed = registry.push(f"oci:{srv.image_layout(tmp_path / 'img', 3)}:1", "team/edit-me:1")
        add = api.post("/registries", json={"name": "edit-me", "url": f"http://{registry.host}", "username": reg.USER,
                                            "password": "wrong-password", "repositories": ["other/*"], "interval": 0,
                                            "webhook_secret": "hook-secret-1"})
        assert add.status_code == 201, add.text
        assert api.post("/registries/edit-me/poll").status_code == 202
        api.wait_jobs()
        first = next(r for r in api.get("/registries").json() if r["name"] == "edit-me")
        assert first["last_error"], "a wrong password should fail the sync"

        # the password and the repository filter corrected: a poll is queued and brings the image in
        r = patch(api, "/registries/edit-me", {"password": reg.PASSWORD, "repositories": ["team/*"]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert sorted(body["changed"]) == ["password", "repositories"]
        assert body["has_password"] is True and "password" not in body and reg.PASSWORD not in r.text
        api.wait_jobs()
        api.wait_jobs()  # the poll queued a scan of the pushed image
        names = [i["name"] for i in api.get("/images", params={"limit": 100}).json()["items"]]
        assert any(n.startswith(pushed) for n in names), names
        assert next(r for r in api.get("/registries").json() if r["name"] == "edit-me")["last_error"] == ""

        # a secret left out is kept; the webhook secret still authenticates the registry's notifications
        before = _stored_registry(api, "edit-me")
        r = patch(api, "/registries/edit-me", {"interval": 600, "username": reg.USER})
        assert r.status_code == 200 and r.json()["changed"] == ["interval"], r.text
        after = _stored_registry(api, "edit-me")
        assert after.password_enc == before.password_enc and after.webhook_secret_hash == before.webhook_secret_hash
        hook = api.client.post("/api/v1/registries/edit-me/notifications", content=b'{"events": []}',
                               headers={"Authorization": "Bearer hook-secret-1"})
        assert hook.status_code == 200, hook.text

        # "" removes a secret: the webhook no longer authenticates anyone
        r = patch(api, "/registries/edit-me", {"webhook_secret": "", "name": "edited"})
        assert r.status_code == 200 and sorted(r.json()["changed"]) == ["name", "webhook_secret"], r.text
        assert r.json()["webhook"] is False
        hook = api.client.post("/api/v1/registries/edited/notifications", content=b'{"events": []}',
                               headers={"Authorization": "Bearer hook-secret-1"})
        assert hook.status_code == 401

        # every edit is in the audit log with the fields it changed, never a secret's value
        audit = api.get("/audit", params={"action": "registry.update"}).json()
        assert [sorted(a["detail"]["changed"]) for a in audit] == [["name", "webhook_secret"], ["interval"],
                                                                   ["password", "repositories"]]
        assert all(s not in str(audit) for s in (reg.PASSWORD, "hook-secret-1"))
        assert audit[0]["detail"]["renamed_from"] == "edit-me"
    finally:
        registry.stop()


def test_bad_registry_edits_are_refused_and_change_nothing(api, key):
    assert api.post("/registries", json={"name": "a", "url": "https://a.example:5000", "interval": 3600}).status_code == 201
    assert api.post("/registries", json={"name": "b", "url": "https://b.example", "interval": 3600}).status_code == 201
    before = _stored_registry(api, "a")
    for body, word in (({"interval": 30}, "at least 60"), ({"url": "ftp://x.example"}, "expected https://"),
                       ({"url": "https://a.example/path"}, "expected https://"), ({"name": "b"}, "exists"),
                       ({"url": "https://bot:hunter2@a.example"}, "no credentials in the URL"),
                       ({"password": None}, "null"), ({"colour": "red"}, "colour"), ({"name": "bad name"}, "name"),
                       ({"repositories": "team/*"}, "repositories")):
        r = patch(api, "/registries/a", body)
        assert r.status_code == 422 and word in r.text, (body, r.status_code, r.text)
    assert patch(api, "/registries/nope", {"interval": 600}).status_code == 404
    after = _stored_registry(api, "a")
    assert (after.name, after.url, after.interval, after.password_enc) == (before.name, before.url, before.interval,
                                                                          before.password_enc)
    assert api.get("/audit", params={"action": "registry.update"}).json() == []
    r = api.post("/registries", json={"name": "c", "url": "https://bot:hunter2@c.example", "interval": 3600})
    assert r.status_code == 422 and "hunter2" not in r.text
    # nothing sent: nothing changes and nothing is audited
    r = patch(api, "/registries/a", {})
    assert r.status_code == 200 and r.json()["changed"] == []


def test_a_target_edit_moves_deliveries_to_the_new_rule_and_url(api, docs, key, receivers_pair):
    old, new = receivers_pair
    made = api.post("/notifications/targets", json={"name": "siem", "kind": "webhook", "url": old.url + "/in?token=OLDTOKEN",
                                                    "event_types": ["runtime_alert"]})
    assert made.status_code == 201, made.text
    tid = made.json()["id"]
    assert api.post("/scans", content=docs[0]).status_code == 201
    api.app.state.cg.jobs.defer("deliver")
    api.wait_jobs()
    assert old.hits == []  # the rule wants runtime alerts only

    r = patch(api, f"/notifications/targets/{tid}", {"event_types": ["image_scanned"], "min_severity": "low",
                                                     "url": new.url + "/hook?token=NEWTOKEN"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert sorted(body["changed"]) == ["event_types", "min_severity", "url"]
    assert body["url"] == new.url + "/…" and "NEWTOKEN" not in r.text
    assert body["event_types"] == ["image_scanned"] and body["min_severity"] == "low"
    with api.app.state.cg.sessions() as s:
        stored = s.get(NotificationTarget, tid)
        assert stored is not None and "NEWTOKEN" not in stored.url + stored.url_enc
    assert api.post("/scans", content=docs[1]).status_code == 201
    deliver_until(api, lambda: len(new.hits) >= 1)
    assert new.hits[0][1] == "/hook?token=NEWTOKEN" and new.hits[0][2]["event"]["type"] == "image_scanned"
    assert old.hits == []

    # the URL left out is kept (webhook -> slack keeps it too); disabling stops deliveries
    r = patch(api, f"/notifications/targets/{tid}", {"kind": "slack", "enabled": False})
    assert r.status_code == 200 and sorted(r.json()["changed"]) == ["enabled", "kind"], r.text
    n = len(new.hits)
    assert api.post("/scans", content=docs[2]).status_code == 201
    api.app.state.cg.jobs.defer("deliver")
    api.wait_jobs()
    assert len(new.hits) == n
    audit = api.get("/audit", params={"action": "notification_target.update"}).json()
    assert [sorted(a["detail"]["changed"]) for a in audit] == [["enabled", "kind"], ["event_types", "min_severity", "url"]]
    assert "NEWTOKEN" not in str(audit) and "OLDTOKEN" not in str(audit)


def test_bad_target_edits_are_refused_and_change_nothing(api, key):
    t = api.post("/notifications/targets", json={"name": "cef", "kind": "syslog", "url": "udp://127.0.0.1:5514"}).json()
    api.post("/notifications/targets", json={"name": "other", "kind": "syslog", "url": "udp://127.0.0.1:5515"})
    cases = (({"kind": "webhook"}, 422, "needs its new URL"), ({"url": "http://127.0.0.1:9/x"}, 422, "udp://HOST:PORT"),
             ({"name": "other"}, 409, "exists"), ({"min_severity": "dire"}, 422, "unknown severity"),
             ({"min_priority": "loud"}, 422, "unknown priority"), ({"event_types": ["coffee"]}, 422, "event_types"),
             ({"enabled": None}, 422, "null"), ({"name": "a\nb"}, 422, "name"))
    for body, status, word in cases:
        r = patch(api, f"/notifications/targets/{t['id']}", body)
        assert r.status_code == status and word in r.text, (body, r.status_code, r.text)
    assert patch(api, "/notifications/targets/99999", {"enabled": False}).status_code == 404
    listed = next(x for x in api.get("/notifications/targets").json() if x["id"] == t["id"])
    assert (listed["name"], listed["kind"], listed["url"], listed["enabled"]) == ("cef", "syslog", "udp://127.0.0.1:5514", True)
    # syslog -> webhook with its new URL: the URL is now a secret, stored encrypted and shown redacted
    r = patch(api, f"/notifications/targets/{t['id']}", {"kind": "webhook", "url": "https://127.0.0.1:9/in?token=SECRETX"})
    assert r.status_code == 200 and r.json()["url"] == "https://127.0.0.1:9/…" and "SECRETX" not in r.text
    assert api.get("/audit", params={"action": "notification_target.update"}).json()[0]["detail"]["url"] == "https://127.0.0.1:9/…"


@pytest.fixture
def receivers_pair():
    pair = (Receiver(), Receiver())
    yield pair
    for r in pair:
        r.close()


def test_cli_updates_against_a_real_server_process(tmp_path):
    """`registry update` and `notify update` through a real server: secrets from the environment only, a secret
    not given is kept, bad options are a one-line error (exit 2) that changes nothing."""
    import json
    import os
    import subprocess
    import sys

    env = {"CONTAINERGUARD_SECRET_KEY": Fernet.generate_key().decode(), "XDG_DATA_HOME": str(tmp_path / "xdg")}
    s = srv.ServerProcess.server(tmp_path, "--vulndb", str(srv.vulndb()), env=env)
    try:
        admin = s.first_line().rsplit(" ", 1)[1].strip()
        cli_env = {**os.environ, "CONTAINERGUARD_SERVER": s.url, "CONTAINERGUARD_TOKEN": admin, "COLUMNS": "250",
                   "CG_NEW_PW": "cli-new-password-9"}

        def cg(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "containerguard.cli.main", *args], capture_output=True,
                                  text=True, cwd=srv.ROOT, env=cli_env, timeout=120)

        assert cg("registry", "add", "cli-reg", "https://cli.example:5000", "--interval", "0").returncode == 0
        r = cg("registry", "update", "cli-reg", "--username", "bot", "--password-env", "CG_NEW_PW",
               "--repository", "team/*", "--repository", "ops/*", "--interval", "900")
        assert r.returncode == 0, r.stderr
        assert "interval" in r.stdout and "password" in r.stdout and "cli-new-password-9" not in r.stdout
        listed = json.loads(cg("registry", "list", "--json").stdout)[0]
        assert (listed["username"], listed["repositories"], listed["interval"], listed["has_password"]) == (
            "bot", ["team/*", "ops/*"], 900, True)
        for bad, word in ((["--interval", "5"], "at least 60"), (["--password-env", "CG_UNSET_VAR"], "CG_UNSET_VAR"),
                          (["--password-env", "CG_NEW_PW", "--clear-password"], "one or the other"), ([], "nothing to change")):
            r = cg("registry", "update", "cli-reg", *bad)
            assert r.returncode == 2 and word in r.stderr and len(r.stderr.strip().splitlines()) == 1, (bad, r.stderr)
        r = cg("registry", "update", "cli-reg", "--clear-password", "--all-repositories")
        assert r.returncode == 0, r.stderr
        listed = json.loads(cg("registry", "list", "--json").stdout)[0]
        assert (listed["repositories"], listed["has_password"], listed["interval"]) == ([], False, 900)

        assert cg("notify", "add", "cli-siem", "udp://127.0.0.1:5514", "--kind", "syslog").returncode == 0
        tid = json.loads(cg("notify", "list", "--json").stdout)[0]["id"]
        r = cg("notify", "update", str(tid), "--event", "runtime_alert", "--min-priority", "critical", "--running-only")
        assert r.returncode == 0 and "min_priority" in r.stdout, r.stderr
        r = cg("notify", "update", str(tid), "--kind", "webhook")
        assert r.returncode == 2 and "needs its new URL" in r.stderr
        t = json.loads(cg("notify", "list", "--json").stdout)[0]
        assert (t["kind"], t["event_types"], t["min_priority"], t["running_only"]) == ("syslog", ["runtime_alert"],
                                                                                       "critical", True)
    finally:
        s.stop()
