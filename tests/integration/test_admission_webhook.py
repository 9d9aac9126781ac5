"""The admission webhook over real HTTPS: AdmissionReview v1 requests for every workload kind, each mode,
namespace exclusions, policy evaluation errors, and malformed or oversized bodies (the server keeps serving)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures.webhook import CLI, Certs, admission_server, make_certs

CONTAINER = {"name": "web", "image": "registry.example.com/web:1.4.2", "ports": [{"containerPort": 8080}]}
POD_SPEC = {"containers": [CONTAINER]}
TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": POD_SPEC}
SELECTOR = {"matchLabels": {"app": "web"}}

#: kind -> (group, version, resource, object) shaped as the Kubernetes API reference gives them
OBJECTS: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "Pod": ("", "v1", "pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
                               "spec": POD_SPEC}),
    "Deployment": ("apps", "v1", "deployments", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                                                 "spec": {"replicas": 2, "selector": SELECTOR, "template": TEMPLATE}}),
    "ReplicaSet": ("apps", "v1", "replicasets", {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web"},
                                                 "spec": {"replicas": 2, "selector": SELECTOR, "template": TEMPLATE}}),
    "StatefulSet": ("apps", "v1", "statefulsets", {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
                                                   "spec": {"serviceName": "web", "selector": SELECTOR, "template": TEMPLATE}}),
    "DaemonSet": ("apps", "v1", "daemonsets", {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "web"},
                                               "spec": {"selector": SELECTOR, "template": TEMPLATE}}),
    "Job": ("batch", "v1", "jobs", {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "web"},
                                    "spec": {"template": {**TEMPLATE, "spec": {**POD_SPEC, "restartPolicy": "Never"}}}}),
    "CronJob": ("batch", "v1", "cronjobs", {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "web"},
                                           "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {
                                               **TEMPLATE, "spec": {**POD_SPEC, "restartPolicy": "OnFailure"}}}}}}),
    "ReplicationController": ("", "v1", "replicationcontrollers", {
        "apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"app": "web"}, "template": TEMPLATE}}),
    "PodTemplate": ("", "v1", "podtemplates", {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "web"},
                                               "template": TEMPLATE}),
}


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    from containerguard.policy.inputs import pod_spec

    spec = pod_spec(obj)
    assert spec is not None
    return spec["containers"]  # type: ignore[no-any-return]


def review(kind: str, obj: dict[str, Any], *, namespace: str = "shop", operation: str = "CREATE") -> dict[str, Any]:
    group, version, resource, _ = OBJECTS.get(kind, ("", "v1", kind.lower() + "s", {}))
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": str(uuid.uuid4()), "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": resource},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "requestResource": {"group": group, "version": version, "resource": resource},
        "name": obj.get("metadata", {}).get("name", ""), "namespace": namespace, "operation": operation,
        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "object": obj if operation != "DELETE" else None, "oldObject": None, "dryRun": False,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}}}


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def enforce(certs: Certs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, httpx.Client]]:
    pols = tmp_path_factory.mktemp("pol")
    # a user policy whose condition errors on a key most pods lack: it fails closed
    (pols / "team.yaml").write_text(
        "id: TEAM-001\nname: team-label\ndescription: every workload names its owning team\nseverity: low\n"
        "condition: 'workload.labels[\"team\"] == \"\"'\nenforcement: {deploy: deny}\n"
        "scope: {namespaces: [payments]}\n")
    with admission_server(certs, "--policy", str(pols), "--exclude-namespace", "kube-*") as url, \
            httpx.Client(base_url=url, verify=certs.context(), timeout=10) as client:
        yield url, client


def post(client: httpx.Client, body: Any) -> dict[str, Any]:
    r = client.post("/validate", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["apiVersion"] == "admission.k8s.io/v1" and out["kind"] == "AdmissionReview"
    if isinstance(body, dict) and "request" in body:
        assert out["response"]["uid"] == body["request"]["uid"]
    return out["response"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("kind", sorted(OBJECTS))
def test_every_workload_kind_privileged_is_denied_compliant_is_allowed(enforce: tuple[str, httpx.Client], kind: str) -> None:
    _, client = enforce
    obj = copy.deepcopy(OBJECTS[kind][3])
    ok = post(client, review(kind, obj))
    assert ok["allowed"] is True and "status" not in ok
    assert any(w.startswith("CG-DEP-010 no-memory-limit: ") for w in ok["warnings"])
    bad = copy.deepcopy(obj)
    _containers(bad)[0]["securityContext"] = {"privileged": True}
    resp = post(client, review(kind, bad))
    assert resp["allowed"] is False
    msg = resp["status"]["message"]
    assert resp["status"]["code"] == 403
    assert msg.startswith("denied by containerguard policy: [CG-DEP-001 privileged-container] "
                          f"{kind} shop/web container web: The container runs privileged.")
    assert "Fix: Remove `privileged: true`" in msg


def test_host_namespaces_socket_and_capabilities_each_denied(enforce: tuple[str, httpx.Client]) -> None:
    _, client = enforce
    base = OBJECTS["Deployment"][3]
    cases = {
        "CG-DEP-002": lambda s, c: s.update(hostPID=True),
        "CG-DEP-003": lambda s, c: s.update(hostNetwork=True),
        "CG-DEP-004": lambda s, c: s.update(hostIPC=True),
        "CG-DEP-005": lambda s, c: (s.update(volumes=[{"name": "d", "hostPath": {"path": "/var/run/docker.sock"}}]),
                                    c.update(volumeMounts=[{"name": "d", "mountPath": "/var/run/docker.sock"}])),
        "CG-DEP-006": lambda s, c: c.update(securityContext={"capabilities": {"add": ["SYS_ADMIN"]}}),
        "CG-DEP-007": lambda s, c: c.update(securityContext={"allowPrivilegeEscalation": True}),
    }
    for pid, mutate in cases.items():
        obj = copy.deepcopy(base)
        spec = obj["spec"]["template"]["spec"]
        mutate(spec, spec["containers"][0])
        resp = post(client, review("Deployment", obj))
        assert resp["allowed"] is False, pid
        assert f"[{pid} " in resp["status"]["message"], (pid, resp["status"]["message"])


def test_init_and_second_containers_are_evaluated(enforce: tuple[str, httpx.Client]) -> None:
    _, client = enforce
    obj = copy.deepcopy(OBJECTS["Pod"][3])
    obj["spec"]["initContainers"] = [{"name": "setup", "image": "busybox:1.36", "securityContext": {"privileged": True}}]
    resp = post(client, review("Pod", obj))
    assert resp["allowed"] is False and "Pod shop/web container setup" in resp["status"]["message"]


def test_not_evaluated_kinds_operations_and_excluded_namespaces(enforce: tuple[str, httpx.Client]) -> None:
    _, client = enforce
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
    resp = post(client, review("Service", svc))
    assert resp["allowed"] is True and "warnings" not in resp
    priv = copy.deepcopy(OBJECTS["Pod"][3])
    priv["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    assert post(client, review("Pod", priv, operation="DELETE"))["allowed"] is True
    assert post(client, review("Pod", priv, namespace="kube-system"))["allowed"] is True
    assert post(client, review("Pod", priv, namespace="kube-public"))["allowed"] is True
    assert post(client, review("Pod", priv, namespace="kubernetes-dashboard"))["allowed"] is False
    assert post(client, review("Pod", priv, namespace="default"))["allowed"] is False


def test_evaluation_error_fails_closed_with_the_reason(enforce: tuple[str, httpx.Client]) -> None:
    _, client = enforce
    obj = copy.deepcopy(OBJECTS["Deployment"][3])
    resp = post(client, review("Deployment", obj, namespace="payments"))
    assert resp["allowed"] is False
    assert "[TEAM-001 team-label]" in resp["status"]["message"]
    assert "could not be evaluated and the policy fails closed: no such key 'team'" in resp["status"]["message"]
    obj["spec"]["template"]["metadata"]["labels"]["team"] = "checkout"
    assert post(client, review("Deployment", obj, namespace="payments"))["allowed"] is True


@pytest.mark.parametrize(("body", "status", "fragment"), [
    (b"{not json", 400, "not valid JSON"),
    (b"", 400, "empty request body"),
    (b"[1, 2]", 400, "not a JSON object"),
    (json.dumps({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {"uid": "x"}}).encode(),
     400, "expected kind AdmissionReview, apiVersion admission.k8s.io/v1"),
    (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}}).encode(), 400,
     "request.uid is missing"),
    (b"[" * 100000 + b"]" * 100000, 400, "nests JSON too deeply"),
    (b'{"a": "' + b"x" * (4 * 1024 * 1024) + b'"}', 413, "larger than the 3145728-byte limit"),
])
def test_malformed_and_oversized_bodies_are_refused_and_the_server_keeps_serving(
        enforce: tuple[str, httpx.Client], body: bytes, status: int, fragment: str) -> None:
    _, client = enforce
    r = client.post("/validate", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status and fragment in r.json()["error"], r.text
    assert post(client, review("Pod", copy.deepcopy(OBJECTS["Pod"][3])))["allowed"] is True


def test_oversized_chunked_body_without_content_length(enforce: tuple[str, httpx.Client]) -> None:
    _, client = enforce

    def chunks() -> Iterator[bytes]:
        for _ in range(64):
            yield b"x" * 65536

    r = client.post("/validate", content=chunks())
    assert r.status_code == 413
    assert post(client, review("Pod", copy.deepcopy(OBJECTS["Pod"][3])))["allowed"] is True


def test_warn_and_dry_run_modes(certs: Certs) -> None:
    priv = copy.deepcopy(OBJECTS["StatefulSet"][3])
    _containers(priv)[0]["securityContext"] = {"privileged": True}
    with admission_server(certs, "--mode", "warn") as url, httpx.Client(base_url=url, verify=certs.context()) as client:
        resp = post(client, review("StatefulSet", priv))
        assert resp["allowed"] is True
        assert any(w.startswith("would deny: CG-DEP-001 privileged-container: StatefulSet shop/web container web")
                   for w in resp["warnings"])
    with admission_server(certs, "--mode", "dry-run") as url, httpx.Client(base_url=url, verify=certs.context()) as client:
        resp = post(client, review("StatefulSet", priv))
        assert resp == {"uid": resp["uid"], "allowed": True}


def test_raised_to_deny_by_a_user_policy(certs: Certs, tmp_path: Path) -> None:
    (tmp_path / "strict.yaml").write_text(
        "id: CG-DEP-010\nname: no-memory-limit\ndescription: The container has no memory limit.\nseverity: medium\n"
        "condition: '!has(container.resources.limits.memory)'\nenforcement: {deploy: deny}\n"
        "remediation: Set resources.limits.memory.\n")
    with admission_server(certs, "--policy", str(tmp_path)) as url, httpx.Client(base_url=url, verify=certs.context()) as client:
        resp = post(client, review("Job", copy.deepcopy(OBJECTS["Job"][3])))
        assert resp["allowed"] is False and "[CG-DEP-010 no-memory-limit]" in resp["status"]["message"]


def test_serve_refuses_a_malformed_policy_with_file_and_line(certs: Certs, tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("id: X-1\nname: x\ndescription: d\nseverity: low\n"
                                       "condition: container.privileged &&\nenforcement: {deploy: deny}\n")
    r = subprocess.run([CLI, "admission", "serve", "--listen", "127.0.0.1:1", "--tls-cert", str(certs.cert),
                        "--tls-key", str(certs.key), "--policy", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.startswith(f"error: {tmp_path / 'bad.yaml'}:5: policy X-1: condition:")


def test_manifest_carries_the_ca_bundle(certs: Certs) -> None:
    import base64

    import yaml

    r = subprocess.run([CLI, "admission", "manifest", "--ca-bundle", str(certs.ca), "--namespace", "security"],
                       capture_output=True, text=True, timeout=60, check=True)
    docs = list(yaml.safe_load_all(r.stdout))
    kinds = [d["kind"] for d in docs]
    assert kinds == ["Deployment", "Service", "ValidatingWebhookConfiguration"]
    hook = docs[2]["webhooks"][0]
    assert base64.b64decode(hook["clientConfig"]["caBundle"]) == certs.ca.read_bytes()
    assert hook["clientConfig"]["service"] == {"name": "containerguard-admission", "namespace": "security",
                                               "path": "/validate", "port": 443}
    assert hook["admissionReviewVersions"] == ["v1"] and hook["sideEffects"] == "None"
    resources = {r for rule in hook["rules"] for r in rule["resources"]}
    assert {"pods", "deployments", "replicasets", "statefulsets", "daemonsets", "jobs", "cronjobs",
            "replicationcontrollers"} <= resources
    assert hook["namespaceSelector"]["matchExpressions"][0]["values"] == ["kube-system", "security"]
    dep = docs[0]["spec"]["template"]["spec"]["containers"][0]
    assert dep["args"][:2] == ["admission", "serve"] and "--tls-cert" in dep["args"]


def test_sighup_reloads_policies_and_keeps_the_last_good_set(certs: Certs, tmp_path: Path) -> None:
    import signal
    import time

    procs: list[subprocess.Popen[bytes]] = []
    job = copy.deepcopy(OBJECTS["Job"][3])
    strict = (tmp_path / "strict.yaml")

    def wait_reloads(client: httpx.Client, n: int, error: bool) -> dict[str, Any]:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            h = client.get("/healthz").json()
            if h["reloads"] == n and bool(h["last_reload_error"]) == error:
                return h  # type: ignore[no-any-return]
            time.sleep(0.1)
        raise AssertionError(f"no reload: {h}")

    with admission_server(certs, "--policy", str(tmp_path), procs=procs) as url, \
            httpx.Client(base_url=url, verify=certs.context()) as client:
        assert post(client, review("Job", job))["allowed"] is True
        strict.write_text("id: CG-DEP-010\nname: no-memory-limit\ndescription: No memory limit.\nseverity: medium\n"
                          "condition: '!has(container.resources.limits.memory)'\nenforcement: {deploy: deny}\n")
        procs[0].send_signal(signal.SIGHUP)
        wait_reloads(client, 1, error=False)
        assert post(client, review("Job", job))["allowed"] is False
        strict.write_text("id: CG-DEP-010\nname: x\ndescription: d\nseverity: medium\ncondition: 'container.'\n"
                          "enforcement: {deploy: deny}\n")
        procs[0].send_signal(signal.SIGHUP)
        h = wait_reloads(client, 1, error=True)
        assert h["last_reload_error"].startswith(f"{strict}:5: policy CG-DEP-010: condition:")
        assert post(client, review("Job", job))["allowed"] is False  # the last good set still enforces


def test_manifest_wires_reporting_to_the_server(certs: Certs, tmp_path: Path) -> None:
    """`admission manifest --server URL`: the webhook reports there with its token from a Secret, spooling on an
    emptyDir (its root filesystem is read-only), and its own Deployment passes the default deploy policies."""
    import yaml

    r = subprocess.run([CLI, "admission", "manifest", "--ca-bundle", str(certs.ca), "--server",
                        "https://containerguard.security.svc:8443", "--token-secret", "webhook-token",
                        "--policy-from-server"], capture_output=True, text=True, timeout=60, check=True)
    docs = list(yaml.safe_load_all(r.stdout))
    pod = docs[0]["spec"]["template"]["spec"]
    c = pod["containers"][0]
    args = c["args"]
    assert args[args.index("--server") + 1] == "https://containerguard.security.svc:8443" and "--policy-from-server" in args
    spool = args[args.index("--spool-dir") + 1]
    env = {e["name"]: e for e in c["env"]}
    assert env["CONTAINERGUARD_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "webhook-token", "key": "token"}}
    state = next(m for m in c["volumeMounts"] if spool.startswith(m["mountPath"]))
    assert next(v for v in pod["volumes"] if v["name"] == state["name"])["emptyDir"]
    assert env["XDG_CACHE_HOME"]["value"].startswith(state["mountPath"])
    (tmp_path / "dep.yaml").write_text(yaml.safe_dump(docs[0]))
    r = subprocess.run([CLI, "policy", "eval", str(tmp_path / "dep.yaml"), "--format", "json"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and json.loads(r.stdout)["allowed"] is True, r.stdout[-2000:]
    r = subprocess.run([CLI, "admission", "manifest", "--ca-bundle", str(certs.ca), "--policy-from-server"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--policy-from-server needs --server" in r.stderr


# ------------------------------------------------------------------ requests the API server could send


@pytest.mark.parametrize(("kind", "operation", "obj"), [("Pod", "CREATE", None), ("Deployment", "UPDATE", None),
                                                        ("CronJob", "CREATE", "not an object")])
def test_workload_request_without_its_object_is_not_allowed_silently(
        enforce: tuple[str, httpx.Client], kind: str, operation: str, obj: Any) -> None:
    """A CREATE/UPDATE of a workload always carries the object; one without it cannot be evaluated and goes
    to the failure mode (closed here), answered as an AdmissionReview with the request's uid."""
    _, client = enforce
    body = review(kind, copy.deepcopy(OBJECTS[kind][3]), operation=operation)
    body["request"]["object"] = obj
    resp = post(client, body)
    assert resp["allowed"] is False and resp["status"]["code"] == 403
    assert f"could not evaluate this request (ValueError: {operation} of a {kind} without request.object); " \
           "failing closed" in resp["status"]["message"]
    # DELETE carries no object (its oldObject is what goes): nothing to decide
    gone = review(kind, copy.deepcopy(OBJECTS[kind][3]), operation="DELETE")
    gone["request"]["oldObject"] = OBJECTS[kind][3]
    assert post(client, gone)["allowed"] is True


def test_ephemeral_containers_subresource_both_shapes(enforce: tuple[str, httpx.Client]) -> None:
    """`kubectl debug` adds an ephemeral container through pods/ephemeralcontainers: an UPDATE whose object is the
    Pod (Kubernetes >= 1.23) or an EphemeralContainers object (before). A privileged one is denied in both."""
    _, client = enforce
    dbg = {"name": "debugger", "image": "busybox:1.36", "securityContext": {"privileged": True}}
    pod = copy.deepcopy(OBJECTS["Pod"][3])
    pod["spec"]["ephemeralContainers"] = [dbg]
    body = review("Pod", pod, operation="UPDATE")
    body["request"].update(subResource="ephemeralcontainers", oldObject=OBJECTS["Pod"][3])
    resp = post(client, body)
    assert resp["allowed"] is False and "Pod shop/web container debugger" in resp["status"]["message"]
    old = {"apiVersion": "v1", "kind": "EphemeralContainers", "metadata": {"name": "web", "namespace": "shop"},
           "ephemeralContainers": [dbg]}
    body = review("EphemeralContainers", old, operation="UPDATE")
    body["request"]["subResource"] = "ephemeralcontainers"
    resp = post(client, body)
    assert resp["allowed"] is False and "[CG-DEP-001 privileged-container] EphemeralContainers shop/web container " \
        "debugger" in resp["status"]["message"]


def test_custom_workload_kind_with_a_pod_template_is_evaluated(enforce: tuple[str, httpx.Client]) -> None:
    """A kind the webhook is registered for by the user (an Argo Rollout, an OpenShift DeploymentConfig) carries
    spec.template like a Deployment: it is evaluated, not waved through as 'not a workload'."""
    _, client = enforce
    obj = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "web"},
           "spec": {"selector": SELECTOR, "template": copy.deepcopy(TEMPLATE)}}
    assert post(client, review("Rollout", copy.deepcopy(obj)))["allowed"] is True
    obj["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    resp = post(client, review("Rollout", obj))
    assert resp["allowed"] is False and "[CG-DEP-001 privileged-container] Rollout shop/web" in resp["status"]["message"]
