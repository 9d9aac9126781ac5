"""Pod-spec fields with the same meaning as the ones the default set reads, through a real webhook over HTTPS:
Windows HostProcess (pod or container level) is privileged; a container's seccomp/AppArmor annotation overrides
the pod's field as the kubelet applies them; procMount Unmasked, unsafe sysctls and the host user namespace are
read, in init and ephemeral containers too."""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures.webhook import Certs, admission_server, make_certs
from tests.integration.test_admission_webhook import post, review

C = {"name": "web", "image": "registry.example.com/web:1.4.2@sha256:" + "a" * 64,
     "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "allowPrivilegeEscalation": False},
     "resources": {"limits": {"memory": "64Mi", "cpu": "1"}}}


def pod(spec: dict[str, Any], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "annotations": annotations or {}},
            "spec": {"containers": [copy.deepcopy(C)], **spec}}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    certs: Certs = make_certs(tmp_path_factory.mktemp("tls"))
    with admission_server(certs) as url, httpx.Client(base_url=url, verify=certs.context(), timeout=10) as c:
        yield c


def _warned(resp: dict[str, Any], pid: str) -> bool:
    return any(w.startswith(pid + " ") for w in resp.get("warnings") or ())


@pytest.mark.parametrize("level", ["pod", "container", "init", "ephemeral"])
def test_windows_host_process_is_privileged(client: httpx.Client, level: str) -> None:
    win = {"windowsOptions": {"hostProcess": True, "runAsUserName": "NT AUTHORITY\\SYSTEM"}}
    obj = pod({"hostNetwork": False})
    spec = obj["spec"]
    if level == "pod":
        spec["securityContext"] = win
    else:
        c = copy.deepcopy(C)
        c["name"] = "other"
        c["securityContext"] = {**c["securityContext"], **win}
        if level == "container":
            spec["containers"][0]["securityContext"].update(win)
        else:
            spec["initContainers" if level == "init" else "ephemeralContainers"] = [c]
    resp = post(client, review("Pod", obj))
    assert resp["allowed"] is False and "[CG-DEP-001 privileged-container]" in resp["status"]["message"], resp
    # hostProcess false at the container overrides the pod's true (the API server refuses the mix; never allowed by it)
    ok = pod({"securityContext": {"windowsOptions": {"hostProcess": False}}})
    assert post(client, review("Pod", ok))["allowed"] is True


def test_container_annotation_overrides_the_pods_profile_field(client: httpx.Client) -> None:
    """The API server copies a container's seccomp annotation into that container's field, and the kubelet takes
    the container's profile before the pod's: a pod-level RuntimeDefault does not hide a container's unconfined."""
    base = {"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}, "appArmorProfile": {"type": "RuntimeDefault"}}}
    resp = post(client, review("Pod", pod(base, {"container.seccomp.security.alpha.kubernetes.io/web": "unconfined",
                                                 "container.apparmor.security.beta.kubernetes.io/web": "unconfined"})))
    assert _warned(resp, "CG-DEP-013") and _warned(resp, "CG-DEP-014"), resp
    # the container's own field wins over a pod annotation; docker/default is the runtime's default profile
    obj = pod({}, {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"})
    obj["spec"]["containers"][0]["securityContext"]["seccompProfile"] = {"type": "RuntimeDefault"}
    assert not _warned(post(client, review("Pod", obj)), "CG-DEP-013")
    assert _warned(post(client, review("Pod", pod({}, {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}))),
                   "CG-DEP-013")


def test_proc_mount_sysctls_and_user_namespace(client: httpx.Client) -> None:
    obj = pod({"securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "65536"},
                                               {"name": "net.ipv4.tcp_syncookies", "value": "1"}]}})
    obj["spec"]["containers"][0]["securityContext"]["procMount"] = "Unmasked"
    resp = post(client, review("Pod", obj))
    assert resp["allowed"] is True
    assert _warned(resp, "CG-DEP-024") and _warned(resp, "CG-DEP-023")
    safe = pod({"securityContext": {"sysctls": [{"name": "net.ipv4.tcp_syncookies", "value": "1"}]}})
    resp = post(client, review("Pod", safe))
    assert not _warned(resp, "CG-DEP-023") and not _warned(resp, "CG-DEP-024")


def test_user_namespace_is_in_the_document() -> None:
    from containerguard.policy.inputs import from_k8s_object

    docs = [d for _, d in from_k8s_object(pod({"hostUsers": False}))] + [d for _, d in from_k8s_object(pod({}))]
    assert [d["container"]["user_namespace"] for d in docs] == ["private", "host"]


def _deployment(template_annotations: dict[str, str], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "annotations": annotations or {}},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
                "metadata": {"labels": {"app": "web"}, "annotations": template_annotations},
                "spec": {"containers": [copy.deepcopy(C)]}}}}


def test_profile_annotations_are_the_pod_templates(client: httpx.Client) -> None:
    """The kubelet reads a pod's annotations: a workload's pod template carries them, its own metadata does not
    reach the pods."""
    unconfined = {"container.apparmor.security.beta.kubernetes.io/web": "unconfined"}
    assert _warned(post(client, review("Deployment", _deployment(unconfined))), "CG-DEP-014")
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "web"}, "spec": {
        "schedule": "* * * * *", "jobTemplate": {"spec": {"template": {
            "metadata": {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}},
            "spec": {"containers": [copy.deepcopy(C)], "restartPolicy": "Never"}}}}}}
    assert _warned(post(client, review("CronJob", cron)), "CG-DEP-013")
    assert not _warned(post(client, review("Deployment", _deployment({}, unconfined))), "CG-DEP-014")


def test_host_path_sub_path_is_the_mounted_path(client: httpx.Client) -> None:
    obj = pod({"volumes": [{"name": "run", "hostPath": {"path": "/var/run"}}, {"name": "root", "hostPath": {"path": "/"}}]})
    c = obj["spec"]["containers"][0]
    c["volumeMounts"] = [{"name": "run", "mountPath": "/s", "subPath": "docker.sock"}]
    resp = post(client, review("Pod", obj))
    assert resp["allowed"] is False and "/var/run/docker.sock -> /s" in resp["status"]["message"], resp
    c["volumeMounts"] = [{"name": "root", "mountPath": "/data", "subPath": "srv/app-data"}]
    assert post(client, review("Pod", obj))["allowed"] is True
