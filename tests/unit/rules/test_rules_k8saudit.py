"""audit.k8s.io/v1 Events -> ka.* fields."""

from __future__ import annotations

import json

import pytest

from containerguard.runtime.k8saudit import AuditFormatError, audit_events, parse_audit_body, parse_time_ns


def test_eventlist_pod_create_fields(events_dir):
    evs = parse_audit_body((events_dir / "k8s" / "pod_create.json").read_bytes())
    assert len(evs) == 2
    f = evs[0].fields
    assert evs[0].source == "k8s_audit" and evs[0].type == "k8s_audit"
    assert evs[0].time_ns == parse_time_ns("2026-11-27T10:15:30.141203Z") == 1795774530141203000
    assert f["ka.verb"] == "create"
    assert f["ka.user.name"] == "dev@example.com"
    assert f["ka.user.groups"] == ["developers", "system:authenticated"]
    assert f["ka.target.resource"] == "pods" and f["ka.target.namespace"] == "payments"
    assert f["ka.target.name"] == "debug-node"
    assert f["ka.req.pod.containers.privileged"] == ["true", "false"]
    assert f["ka.req.pod.containers.image"][0] == "registry.local/tools/debian:bookworm"
    assert f["ka.req.pod.containers.image.repository"] == ["registry.local/tools/debian", "registry.local/tools/logger"]
    assert f["ka.req.pod.containers.host_port"] == ["9100"]
    assert f["ka.req.pod.host_pid"] == "true" and f["ka.req.pod.host_network"] == "false"
    assert f["ka.req.pod.volumes.hostpath"] == ["/var/run/docker.sock"]
    assert f["ka.response.code"] == 201
    assert f["ka.auth.decision"] == "allow"
    assert f["ka.uri"].startswith("/api/v1/namespaces/payments/pods?")
    assert f["jevt"]["auditID"] == "5c1f6f1e-9d3c-4b8e-a7a5-0f5f2b7c1d01"
    g = evs[1].fields
    assert g["ka.req.pod.containers.privileged"] == ["false"]
    assert "ka.target.name" not in g and g["ka.resp.name"] == "api-7d9f8c6b5-q2x8z"


def test_single_event_and_array(events_dir):
    [ev] = parse_audit_body((events_dir / "k8s" / "pod_exec.json").read_text())
    assert ev.fields["ka.target.subresource"] == "exec"
    assert "ka.req.pod.containers.image" not in ev.fields
    arr = parse_audit_body((events_dir / "k8s" / "secrets.json").read_bytes())
    assert [e.fields.get("ka.response.code") for e in arr] == [200, 200, 403, 200, 200]
    assert arr[2].fields["ka.response.reason"] == "Forbidden"


def test_workload_templates_are_pod_specs():
    dep = {"kind": "Event", "verb": "create", "objectRef": {"resource": "deployments", "name": "d"},
           "requestObject": {"spec": {"template": {"spec": {"containers": [
               {"image": "x:1", "securityContext": {"privileged": True}}]}}}}}
    [ev] = audit_events(dep)
    assert ev.fields["ka.req.pod.containers.privileged"] == ["true"]


@pytest.mark.parametrize(("body", "message"), [
    (b"{not json", "audit body is not JSON"),
    (b'"a string"', "expected an audit Event, EventList or JSON array"),
    (b'{"kind": "EventList", "items": [{"kind": "Pod"}]}', "item 1: not an audit.k8s.io Event"),
    (b'{"kind": "EventList", "items": {"a": 1}}', "EventList 'items' must be a list"),
    (json.dumps([{"kind": "Event"}]).encode(), "needs kind Event and a verb"),
])
def test_bad_bodies(body, message):
    with pytest.raises(AuditFormatError, match=message):
        parse_audit_body(body)


def test_time_parsing():
    assert parse_time_ns("1970-01-01T00:00:01.5Z") == 1_500_000_000
    assert parse_time_ns("1970-01-01T00:00:01.123456789Z") == 1_123_456_789
    assert parse_time_ns("garbage") == 0 and parse_time_ns(None) == 0
