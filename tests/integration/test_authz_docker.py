"""The Docker authorization plugin against a real dockerd started by this test with --authorization-plugin
(its own socket, data root, exec root, pidfile and containerd namespace; no bridge, no iptables: the system
dockerd is never touched). Violating `docker run`/`create`/`exec --privileged` fail with our message at the
CLI, compliant ones run, the failure mode is honoured, bad AuthZ bodies are refused and the plugin keeps serving."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures.webhook import CLI

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PLUGINS = Path("/run/docker/plugins")
IMAGE = "cgpol/busybox:1"


class Plugin:
    def __init__(self, socket: Path, log: Path, docker_host: str = "") -> None:
        self.socket, self.log = socket, log
        self.docker_host = docker_host  # the private dockerd it serves, for its lookups
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.stop()
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([CLI, "authz", "serve", "--socket", str(self.socket),
                                          "--docker-host", self.docker_host, *args],
                                         stdout=out, stderr=out, env={**os.environ, **(env or {})})
        deadline = time.monotonic() + 30
        while not self._answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"authz serve did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)

    def _answers(self) -> bool:
        try:
            return self.post("/Plugin.Activate", b"{}").json() == {"Implements": ["authz"]}
        except (httpx.HTTPError, OSError):
            return False

    def post(self, path: str, body: bytes) -> httpx.Response:
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(self.socket)), timeout=10) as c:
            return c.post(f"http://plugin{path}", content=body)

    def health(self) -> dict[str, Any]:
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(self.socket)), timeout=10) as c:
            r = c.get("http://plugin/healthz")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class Daemon:
    def __init__(self, root: Path, plugin: str) -> None:
        self.root, self.plugin = root, plugin
        self.host = f"unix://{root}/docker.sock"
        self.proc: subprocess.Popen[bytes] | None = None

    #: a bridge of its own: with ``--bridge none`` dockerd deletes the host's docker0, cutting the shared
    #: daemon's default network for every other test
    bridge = "cgpolbr0"

    def start(self) -> None:
        if subprocess.run(["ip", "link", "show", self.bridge], capture_output=True).returncode != 0:
            subprocess.run(["ip", "link", "add", self.bridge, "type", "bridge"], check=True, capture_output=True)
            subprocess.run(["ip", "addr", "add", "172.31.253.1/24", "dev", self.bridge], check=True,
                           capture_output=True)
            subprocess.run(["ip", "link", "set", self.bridge, "up"], check=True, capture_output=True)
        log = open(self.root / "dockerd.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([
            "dockerd", "--host", self.host, "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "x"),
            "--pidfile", str(self.root / "docker.pid"), "--bridge", self.bridge, "--iptables=false", "--ip6tables=false",
            "--ip-masq=false", "--containerd-namespace", "cgpolicy", "--containerd-plugins-namespace", "cgpolicy-p",
            "--authorization-plugin", self.plugin, "--storage-driver", "vfs"], stdout=log, stderr=log)
        deadline = time.monotonic() + 90
        while self.docker("version", check=False).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("test dockerd did not start: " + (self.root / "dockerd.log").read_text()[-3000:])
            time.sleep(0.3)

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(["docker", "-H", self.host, *args], capture_output=True, timeout=120, text=True)
        if check and r.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed: {r.stderr}")
        return r

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _busybox_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "tmp"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        tar.add("/bin/busybox", arcname="bin/busybox")
        for name in ("sh", "true", "echo", "sleep", "id"):
            info = tarfile.TarInfo(f"bin/{name}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
    return buf.getvalue()


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Daemon, Plugin]]:
    if shutil.which("dockerd") is None or os.geteuid() != 0:
        pytest.fail("needs dockerd (Debian docker.io) and root")
    root = Path(tempfile.mkdtemp(prefix="cgpol-", dir="/tmp"))  # short: unix socket paths are limited
    name = f"cgpol-{os.getpid()}"
    PLUGINS.mkdir(parents=True, exist_ok=True)
    plugin = Plugin(PLUGINS / f"{name}.sock", root / "plugin.log", f"unix://{root}/docker.sock")
    daemon = Daemon(root, name)
    try:
        plugin.start()
        daemon.start()
        (root / "busybox.tar").write_bytes(_busybox_tar())
        daemon.docker("import", str(root / "busybox.tar"), IMAGE)
        yield daemon, plugin
    finally:
        try:
            if daemon.proc is not None:
                plugin.start("--fail-open")  # the daemon asks the plugin even to remove containers
                ids = daemon.docker("ps", "-aq", check=False).stdout.split()
                if ids:
                    daemon.docker("rm", "-f", *ids, check=False)
        finally:
            daemon.stop()
            plugin.stop()
            subprocess.run(["umount", "-R", str(root / "x")], capture_output=True)
            shutil.rmtree(root, ignore_errors=True)


RUN = ("run", "--rm", "--network", "none")


def test_violating_docker_run_fails_with_our_message(env: tuple[Daemon, Plugin]) -> None:
    daemon, _ = env
    r = daemon.docker(*RUN, "--privileged", IMAGE, "/bin/true", check=False)
    assert r.returncode != 0
    assert f"authorization denied by plugin {daemon.plugin}: containerguard policy: [CG-DEP-001 privileged-container] " \
           "The container runs privileged." in r.stderr
    assert "Fix: Remove `privileged: true` (`--privileged`)" in r.stderr
    for args, pid in ((("-v", "/var/run/docker.sock:/var/run/docker.sock"), "CG-DEP-005"),
                      (("--pid", "host"), "CG-DEP-002"), (("--ipc", "host"), "CG-DEP-004"),
                      (("--cap-add", "SYS_ADMIN"), "CG-DEP-006"), (("--cap-add", "sys_ptrace"), "CG-DEP-006")):
        r = daemon.docker(*RUN, *args, IMAGE, "/bin/true", check=False)
        assert r.returncode != 0 and f"[{pid} " in r.stderr, (args, r.stderr)
    r = daemon.docker("create", "--name", "cgpol-created", "--privileged", IMAGE, "/bin/true", check=False)
    assert r.returncode != 0 and "[CG-DEP-001 privileged-container]" in r.stderr
    assert "cgpol-created" not in daemon.docker("ps", "-a", "--format", "{{.Names}}").stdout


def test_compliant_docker_run_runs(env: tuple[Daemon, Plugin]) -> None:
    daemon, _ = env
    r = daemon.docker(*RUN, "--user", "1000", "--memory", "64m", "--cap-add", "NET_BIND_SERVICE", IMAGE,
                      "/bin/echo", "hello from a compliant container")
    assert r.stdout.strip() == "hello from a compliant container"


def test_privileged_exec_is_denied_plain_exec_runs(env: tuple[Daemon, Plugin]) -> None:
    daemon, _ = env
    daemon.docker("run", "-d", "--network", "none", "--name", "cgpol-exec", IMAGE, "/bin/sleep", "300")
    try:
        r = daemon.docker("exec", "--privileged", "cgpol-exec", "/bin/true", check=False)
        assert r.returncode != 0
        assert "authorization denied by plugin" in r.stderr and "[CG-DEP-001 privileged-container]" in r.stderr
        assert daemon.docker("exec", "cgpol-exec", "/bin/echo", "inside").stdout.strip() == "inside"
    finally:
        daemon.docker("rm", "-f", "cgpol-exec", check=False)


def test_failure_mode_when_the_request_cannot_be_evaluated(env: tuple[Daemon, Plugin], tmp_path: Path) -> None:
    """The daemon sends the plugin no body above 1 MiB: the policies cannot see the container config."""
    daemon, plugin = env
    env_file = tmp_path / "big.env"
    env_file.write_text("".join(f"FILLER_{i}={'x' * 1000}\n" for i in range(1200)))
    r = daemon.docker(*RUN, "--env-file", str(env_file), IMAGE, "/bin/true", check=False)
    assert r.returncode != 0
    assert "cannot evaluate the request, denied (fail-closed)" in r.stderr and "no request body" in r.stderr
    plugin.start("--fail-open")
    try:
        r = daemon.docker(*RUN, "--env-file", str(env_file), IMAGE, "/bin/true", check=False)
        assert r.returncode == 0, r.stderr
        # fail-open changes nothing for requests that can be evaluated
        r = daemon.docker(*RUN, "--privileged", IMAGE, "/bin/true", check=False)
        assert r.returncode != 0 and "[CG-DEP-001 privileged-container]" in r.stderr
        assert "allowing (fail-open)" in plugin.log.read_text()
    finally:
        plugin.start()


def test_plugin_down_docker_refuses(env: tuple[Daemon, Plugin]) -> None:
    """With the plugin process gone the Engine itself refuses every API call (it has no fail-open)."""
    daemon, plugin = env
    plugin.stop()
    try:
        r = daemon.docker(*RUN, IMAGE, "/bin/true", check=False)
        assert r.returncode != 0 and "500 Internal Server Error" in r.stderr, r.stderr
    finally:
        plugin.start()
    assert daemon.docker(*RUN, "--user", "1000", IMAGE, "/bin/true", check=False).returncode == 0


@pytest.mark.parametrize("body", [b"{not json", b"", b"[1]", b"[" * 50000 + b"]" * 50000,
                                  json.dumps({"RequestMethod": "POST", "RequestURI": "/v1.41/containers/create",
                                              "RequestBody": "%%%not-base64"}).encode()])
def test_malformed_authz_bodies_are_refused_and_the_plugin_keeps_serving(env: tuple[Daemon, Plugin], body: bytes) -> None:
    daemon, plugin = env
    r = plugin.post("/AuthZPlugin.AuthZReq", body)
    assert r.status_code == 200
    out = r.json()
    assert out["Allow"] is False and out["Msg"].startswith("containerguard: cannot evaluate the request, denied (fail-closed)")
    ok = {"RequestMethod": "POST", "RequestURI": "/v1.41/containers/create?name=x",
          "RequestBody": base64.b64encode(json.dumps({"Image": "a:1", "User": "1000"}).encode()).decode()}
    assert plugin.post("/AuthZPlugin.AuthZReq", json.dumps(ok).encode()).json()["Allow"] is True
    assert daemon.docker(*RUN, "--user", "1000", IMAGE, "/bin/true", check=False).returncode == 0


def test_decisions_are_reported_to_the_central_server(env: tuple[Daemon, Plugin], tmp_path: Path) -> None:
    """`authz serve --server --token` (an enforcer token): a refused `docker run` is stored in a real server
    process as a deploy-stage violation naming the container and image; the allowed run is only counted."""
    from tests.fixtures import server as srv
    from tests.integration.server.test_cli import cg

    daemon, plugin = env
    s = srv.ServerProcess.server(tmp_path, "--vulndb", str(srv.vulndb()), env={"XDG_DATA_HOME": str(tmp_path / "xdg")})
    try:
        admin = s.first_line().rsplit(" ", 1)[1].strip()
        token = cg("token", "create", "docker-plugin", "--role", "enforcer", "--server", s.url, "--token", admin).stdout.strip()
        plugin.start("--server", s.url, "--token", token, "--spool-dir", str(tmp_path / "spool"))
        r = daemon.docker("run", "--rm", "--network", "none", "--name", "cgpol-reported", "--privileged", IMAGE,
                          "/bin/true", check=False)
        assert r.returncode != 0 and "[CG-DEP-001 privileged-container]" in r.stderr
        assert daemon.docker(*RUN, "--user", "1000", IMAGE, "/bin/true", check=False).returncode == 0
        h = {"Authorization": f"Bearer {admin}"}

        def stored() -> list[dict]:
            return [v for v in httpx.get(f"{s.url}/api/v1/policy/violations", params={"source": "authz"}, headers=h).json()
                    if v["object"]["container"] == "cgpol-reported"]

        rows = srv.wait_for(stored, 30)
        assert len({v["decision_uid"] for v in rows}) == 1  # one decision; its warn/inform violations too
        deny = [v for v in rows if v["action"] == "deny"]
        # privileged, hence also privilege escalation allowed (CG-DEP-007): both deny, as the CLI message said
        assert sorted((v["policy"], v["stage"], v["allowed"], v["mode"], v["image_name"], v["reporter"]) for v in deny) == \
            [(p, "deploy", False, "enforce", IMAGE, "docker-plugin") for p in ("CG-DEP-001", "CG-DEP-007")]
        assert "[CG-DEP-007 " in r.stderr
        assert deny[0]["subject"] == f"container cgpol-reported from image {IMAGE}"
        # a request the plugin cannot evaluate (no body above 1 MiB) is denied (fail-closed) and reported as such
        env_file = tmp_path / "big.env"
        env_file.write_text("".join(f"FILLER_{i}={'x' * 1000}\n" for i in range(1200)))
        r = daemon.docker("run", "--rm", "--network", "none", "--name", "cgpol-big", "--env-file", str(env_file), IMAGE,
                          "/bin/true", check=False)
        assert r.returncode != 0 and "fail-closed" in r.stderr
        big = srv.wait_for(lambda: httpx.get(f"{s.url}/api/v1/policy/violations", headers=h,
                                             params={"policy": "CG-UNDECIDABLE"}).json(), 30)
        assert [(v["object"]["container"], v["action"], v["allowed"]) for v in big] == [("cgpol-big", "deny", False)]
        assert "no request body" in big[0]["message"]
        enf = httpx.get(f"{s.url}/api/v1/policy/enforcers", headers=h).json()
        assert [(e["source"], e["reporter"]) for e in enf] == [("authz", "docker-plugin")] and enf[0]["denied"] >= 2
    finally:
        plugin.start()
        s.stop()


def _server_and_enforcer(tmp_path: Path, port: int) -> tuple[Any, str, str]:
    """A real server process (SQLite under ``tmp_path/data``) on ``port``, its admin token and an enforcer token."""
    from tests.fixtures import server as srv
    from tests.integration.server.test_cli import cg

    s = srv.ServerProcess.server(tmp_path, "--data-dir", str(tmp_path / "data"), env={"XDG_DATA_HOME": str(tmp_path / "xdg")},
                                 port=port)
    admin = s.first_line().rsplit(" ", 1)[1].strip()
    token = cg("token", "create", "docker-plugin", "--role", "enforcer", "--server", s.url, "--token", admin).stdout.strip()
    assert token.startswith("cg_"), token
    return s, admin, token


def test_decisions_made_while_the_server_is_down_arrive_once(env: tuple[Daemon, Plugin], tmp_path: Path) -> None:
    """The server stops: `docker run` is still decided at once (denied and warned alike), the decisions wait in
    --spool-dir, and once the server is back each arrives exactly once, the plugin's counts with them."""
    from tests.fixtures import registry as reg
    from tests.fixtures import server as srv

    daemon, plugin = env
    port = reg.free_port()
    s, admin, token = _server_and_enforcer(tmp_path, port)
    spool = tmp_path / "spool"
    h = {"Authorization": f"Bearer {admin}"}

    def stored() -> list[dict[str, Any]]:
        r = httpx.get(f"{s.url}/api/v1/policy/violations", params={"source": "authz", "limit": 1000}, headers=h)
        assert r.status_code == 200, r.text
        return [v for v in r.json() if v["object"]["container"].startswith("cgpol-out-")]

    try:
        plugin.start("--server", s.url, "--token", token, "--spool-dir", str(spool))
        s.stop()  # the outage
        slowest = 0.0
        for i in range(3):
            t0 = time.monotonic()
            denied = daemon.docker("run", "--rm", "--network", "none", "--name", f"cgpol-out-d{i}", "--privileged", IMAGE,
                                   "/bin/true", check=False)
            slowest = max(slowest, time.monotonic() - t0)
            assert denied.returncode != 0 and "[CG-DEP-001 privileged-container]" in denied.stderr, denied.stderr
        # allowed, with a warning (no memory limit, CG-DEP-010): reported as well
        warned = daemon.docker("run", "--rm", "--network", "none", "--name", "cgpol-out-w0", "--user", "1000", IMAGE,
                               "/bin/true", check=False)
        assert warned.returncode == 0, warned.stderr
        assert slowest < 10, f"a denied docker run took {slowest:.1f} s while the server was down"
        assert srv.wait_for(lambda: list(spool.glob("*.json")), 15), "nothing spooled during the outage"
        # the operator sees it on the plugin's socket
        health = plugin.health()["reporting"]
        assert health["spooled_batches"] >= 1 and health["dropped"] == 0 and health["url"].startswith(s.url), health
        time.sleep(2)  # the sender has failed a few times and backs off
        s = srv.ServerProcess.server(tmp_path, "--data-dir", str(tmp_path / "data"), env={"XDG_DATA_HOME": str(tmp_path / "xdg")},
                                     port=port)
        srv.wait_for(lambda: not list(spool.glob("*.json")) and len({v["object"]["container"] for v in stored()}) >= 4, 60)
        time.sleep(3)  # a duplicate would have arrived by now
        rows = stored()
        per = {}
        for v in rows:
            per.setdefault(v["object"]["container"], set()).add(v["decision_uid"])
        assert {c: len(u) for c, u in per.items()} == {"cgpol-out-d0": 1, "cgpol-out-d1": 1, "cgpol-out-d2": 1,
                                                      "cgpol-out-w0": 1}, rows
        deny = sorted(v["object"]["container"] for v in rows if v["policy"] == "CG-DEP-001")
        assert deny == ["cgpol-out-d0", "cgpol-out-d1", "cgpol-out-d2"]
        warn = [v for v in rows if v["object"]["container"] == "cgpol-out-w0" and v["policy"] == "CG-DEP-010"]
        assert [(v["action"], v["allowed"]) for v in warn] == [("warn", True)]
        assert not list((spool / "rejected").iterdir())
        health = plugin.health()["reporting"]
        assert health["spooled_batches"] == 0 and health["sent_batches"] >= 1, health
        enf = srv.wait_for(lambda: [e for e in httpx.get(f"{s.url}/api/v1/policy/enforcers", headers=h).json()
                                    if e["denied"] >= 3], 60)
        assert [(e["source"], e["reporter"], e["denied"]) for e in enf] == [("authz", "docker-plugin", 3)]
    finally:
        plugin.start()
        s.stop()


SERVER_POLICY = """\
id: ACME-NO-LATEST
name: no-latest-tag
description: Images are run by version, never by the latest tag.
severity: high
condition: image.tag == "latest"
remediation: Run the image by its version.
enforcement: {deploy: deny}
"""

LOCAL_POLICY = """\
id: ACME-LOCAL-NNP
name: no-new-privileges-local
description: This host's own rule, kept beside the server's set.
severity: low
condition: '!container.no_new_privileges'
enforcement: {deploy: inform}
"""


def test_policy_set_from_the_server(env: tuple[Daemon, Plugin], tmp_path: Path) -> None:
    """`authz serve --policy-from-server`: the set pushed to the server is enforced at `docker run`; a new push
    comes into force at the next refresh (a fetch with nothing new is a 304); a set that does not load on the
    plugin never replaces the good one; with the server down the last good set stays in force, also across a
    restart of the plugin (the copy on disk)."""
    from tests.fixtures import registry as reg
    from tests.fixtures import server as srv
    from tests.integration.server.test_cli import cg

    daemon, plugin = env
    daemon.docker("tag", IMAGE, "cgpol/busybox:latest")
    port = reg.free_port()
    s, admin, token = _server_and_enforcer(tmp_path, port)
    pol, local = tmp_path / "pol", tmp_path / "local"
    pol.mkdir()
    local.mkdir()
    (local / "local.yaml").write_text(LOCAL_POLICY)
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    args = ("--policy", str(local), "--server", s.url, "--token", token, "--policy-from-server", "--policy-refresh", "5",
            "--spool-dir", str(tmp_path / "spool"))

    def push(text: str, name: str = "acme.yaml") -> None:
        for f in pol.iterdir():
            f.unlink()
        (pol / name).write_text(text)
        r = cg("policy", "push", str(pol), "--server", s.url, "--token", admin)
        assert r.returncode == 0, r.stderr

    def run(tag: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return daemon.docker("run", "--rm", "--network", "none", "--user", "1000", *extra, f"cgpol/busybox:{tag}",
                             "/bin/true", check=False)

    def not_modified() -> float:
        text = httpx.get(f"{s.url}/metrics", headers={"Authorization": f"Bearer {admin}"}).text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("containerguard_http_requests_total{") and 'status="304"' in line)

    try:
        push(SERVER_POLICY)
        plugin.start(*args, env=cache)
        r = run("latest")
        assert r.returncode != 0 and "[ACME-NO-LATEST no-latest-tag]" in r.stderr, r.stderr
        assert run("1").returncode == 0
        # nothing new: the plugin's fetches are answered 304 (If-None-Match: the revision it holds)
        before = not_modified()
        assert srv.wait_for(lambda: not_modified() >= before + 1, 20), "no conditional fetch answered 304"
        # a new push comes into force at the next refresh, without a restart
        push(SERVER_POLICY.replace('image.tag == "latest"', 'image.tag == "latest" || image.tag == "1"'))
        r = srv.wait_for(lambda: r if (r := run("1")).returncode != 0 else None, 30)
        assert r is not None and "[ACME-NO-LATEST no-latest-tag]" in r.stderr
        # a set the server takes but this plugin cannot load (its id collides with the plugin's own --policy):
        # refused, logged, and the good set stays in force
        push(LOCAL_POLICY.replace("severity: low", "severity: high").replace("{deploy: inform}", "{deploy: deny}"),
             "nnp.yaml")
        assert srv.wait_for(lambda: "does not load, keeping the previous one" in plugin.log.read_text(), 30), \
            plugin.log.read_text()[-2000:]
        r = run("1")
        assert r.returncode != 0 and "[ACME-NO-LATEST no-latest-tag]" in r.stderr, r.stderr
        fetched = plugin.health()["server_policies"]
        assert fetched["refused"] and fetched["refused"] != fetched["revision"], fetched
        # the refused set is not fetched and loaded again at every refresh
        before = not_modified()
        assert srv.wait_for(lambda: not_modified() >= before + 1, 20), "the refused set is fetched again and again"
        assert plugin.log.read_text().count("does not load, keeping the previous one") == 1
        # the server goes away: the good set stays in force, also after a restart of the plugin
        s.stop()
        time.sleep(6)  # at least one failed refresh
        r = run("1")
        assert r.returncode != 0 and "[ACME-NO-LATEST no-latest-tag]" in r.stderr, r.stderr
        plugin.start(*args, env=cache)
        r = run("1")
        assert r.returncode != 0 and "[ACME-NO-LATEST no-latest-tag]" in r.stderr, r.stderr
        assert "starting with the cached copy of the server's policy set" in plugin.log.read_text()
    finally:
        plugin.start()
        s.stop()
        daemon.docker("rmi", "cgpol/busybox:latest", check=False)


# ------------------------------------------------------------------ what dockerd reads, the plugin must read
# The plugin sees the raw request; dockerd decodes it with Go's encoding/json (object keys matched to fields
# case-insensitively, the last duplicate winning) and routes on the percent-decoded path. Any difference is a
# way past the policies: each request below makes dockerd create (or start) a privileged container if the
# plugin lets it through.

def _api(daemon: Daemon, method: str, path: str, body: bytes | None = None) -> httpx.Response:
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(daemon.root / "docker.sock")), timeout=60) as c:
        return c.request(method, f"http://docker{path}", content=body,
                         headers={"Content-Type": "application/json"} if body is not None else {})


def _privileged_ids(daemon: Daemon) -> list[str]:
    ids = daemon.docker("ps", "-aq", "--no-trunc").stdout.split()
    return [i for i in ids if daemon.docker("inspect", "-f", "{{.HostConfig.Privileged}} {{.HostConfig.PidMode}} "
                                             "{{.HostConfig.Binds}} {{.HostConfig.CapAdd}}", i).stdout.strip()
            != "false  [] []"]


@pytest.mark.parametrize("body", [
    {"Image": IMAGE, "Cmd": ["/bin/true"], "hostconfig": {"privileged": True}},
    {"Image": IMAGE, "Cmd": ["/bin/true"], "HOSTCONFIG": {"PRIVILEGED": True}},
    {"Image": IMAGE, "Cmd": ["/bin/true"], "HostConfig": {"Privileged": False, "privileged": True}},
    {"Image": IMAGE, "Cmd": ["/bin/true"], "HostConfig": {"NetworkMode": "none"}, "hostConfig": {"pidmode": "host"}},
    {"Image": IMAGE, "Cmd": ["/bin/true"], "HostConfig": {"binds": ["/var/run/docker.sock:/var/run/docker.sock"]}},
    {"Image": IMAGE, "Cmd": ["/bin/true"], "HostConfig": {"capadd": ["SYS_ADMIN"]}},
    # U+017F LATIN SMALL LETTER LONG S folds to S in Go's matching
    {"Image": IMAGE, "Cmd": ["/bin/true"], "Ho\u017ftConfig": {"Privileged": True}},
    # the deprecated top-level HostConfig fields dockerd still reads when there is no "HostConfig"
    {"Image": IMAGE, "Cmd": ["/bin/true"], "Privileged": True},
    {"Image": IMAGE, "Cmd": ["/bin/true"], "HostConfig": None, "Binds": ["/var/run/docker.sock:/var/run/docker.sock"]},
    # CapAdd is a StrSlice: dockerd takes a lone string as a one-element list
    {"Image": IMAGE, "Cmd": ["/bin/true"], "HostConfig": {"CapAdd": "SYS_ADMIN"}},
], ids=["lower", "upper", "duplicate-case", "pid-host", "binds-lower", "capadd-lower", "unicode-fold", "top-level",
        "top-level-null-hostconfig", "capadd-string"])
def test_create_keys_are_read_as_dockerd_reads_them(env: tuple[Daemon, Plugin], body: dict[str, Any]) -> None:
    daemon, _ = env
    before = set(_privileged_ids(daemon))
    r = _api(daemon, "POST", "/v1.41/containers/create", json.dumps(body).encode())
    created = r.json().get("Id", "") if r.status_code == 201 else ""
    try:
        # what dockerd made of it, should it have been let through
        made = daemon.docker("inspect", "-f", "{{json .HostConfig}}", created).stdout[:300] if created else ""
        assert r.status_code == 403 and "containerguard policy: [CG-DEP-" in r.text, (r.text, made)
    finally:
        if created:
            daemon.docker("rm", "-f", created, check=False)
    assert set(_privileged_ids(daemon)) == before


def test_duplicate_keys_apply_in_order(env: tuple[Daemon, Plugin]) -> None:
    """Go applies duplicate keys in order (an object merges into what is decoded, null clears it): Python's dict
    keeps only the last one, which here would hide the privileged flag."""
    daemon, _ = env
    raw = (b'{"Image": "' + IMAGE.encode() + b'", "Cmd": ["/bin/true"], "HostConfig": {"Privileged": true},'
           b' "HostConfig": {"Memory": 67108864}}')
    r = _api(daemon, "POST", "/v1.41/containers/create", raw)
    if r.status_code == 201:
        daemon.docker("rm", "-f", r.json()["Id"], check=False)
    assert r.status_code == 403 and "[CG-DEP-001 privileged-container]" in r.text, (r.status_code, r.text)


@pytest.mark.parametrize("raw", [
    b'{"Image": "IMG", "Cmd": ["/bin/true"], "Labels": {"x": "\xff\xfe"}, "HostConfig": {"Privileged": true}}',
    b'{"Image": "IMG", "Cmd": ["/bin/true"], "HostConfig": {"Privileged": true}} trailing',
], ids=["invalid-utf8", "trailing-data"])
def test_bodies_dockerd_accepts_are_evaluated_not_failed_open(env: tuple[Daemon, Plugin], raw: bytes) -> None:
    """Go replaces invalid UTF-8 and dockerd 20.10 decodes the first JSON value only: a body it accepts is one
    the plugin can evaluate, so even a fail-open plugin denies it rather than letting it through unevaluated."""
    daemon, plugin = env
    plugin.start("--fail-open")
    try:
        r = _api(daemon, "POST", "/v1.41/containers/create", raw.replace(b"IMG", IMAGE.encode()))
        if r.status_code == 201:
            daemon.docker("rm", "-f", r.json()["Id"], check=False)
        assert r.status_code == 403 and "[CG-DEP-001 privileged-container]" in r.text, (r.status_code, r.text)
    finally:
        plugin.start()


@pytest.mark.parametrize("path", ["/v1.41/containers/%63reate", "/v1.41/%63ontainers/create", "/containers/creat%65"])
def test_percent_encoded_create_path_is_decided(env: tuple[Daemon, Plugin], path: str) -> None:
    daemon, _ = env
    body = json.dumps({"Image": IMAGE, "Cmd": ["/bin/true"], "HostConfig": {"Privileged": True}}).encode()
    r = _api(daemon, "POST", path, body)
    if r.status_code == 201:
        daemon.docker("rm", "-f", r.json()["Id"], check=False)
    assert r.status_code == 403 and "[CG-DEP-001 privileged-container]" in r.text, (r.status_code, r.text)


def test_percent_encoded_exec_path_is_decided(env: tuple[Daemon, Plugin]) -> None:
    daemon, _ = env
    daemon.docker("run", "-d", "--network", "none", "--user", "1000", "--name", "cgpol-exec-enc", IMAGE, "/bin/sleep", "300")
    try:
        r = _api(daemon, "POST", "/v1.41/containers/cgpol-exec-enc/%65xec",
                 json.dumps({"Cmd": ["/bin/true"], "privileged": True}).encode())
        assert r.status_code == 403 and "[CG-DEP-001 privileged-container]" in r.text, (r.status_code, r.text)
    finally:
        daemon.docker("rm", "-f", "cgpol-exec-enc", check=False)


def test_host_config_at_start_is_decided(env: tuple[Daemon, Plugin]) -> None:
    """API versions before 1.24 still take a HostConfig at ``POST /containers/ID/start`` (dockerd 20.10 applies
    it): a compliant container created, then started privileged, must be refused too."""
    daemon, _ = env
    r = _api(daemon, "POST", "/v1.41/containers/create?name=cgpol-start-hc",
             json.dumps({"Image": IMAGE, "Cmd": ["/bin/true"], "User": "1000", "HostConfig": {"NetworkMode": "none"}}).encode())
    assert r.status_code == 201, r.text
    try:
        r = _api(daemon, "POST", "/v1.23/containers/cgpol-start-hc/start",
                 json.dumps({"Privileged": True, "Binds": ["/var/run/docker.sock:/var/run/docker.sock"]}).encode())
        assert r.status_code == 403 and "[CG-DEP-001 privileged-container]" in r.text, (r.status_code, r.text)
        assert "[CG-DEP-005 " in r.text
        # padded above 1 MiB the daemon withholds the body from the plugin: that start cannot be evaluated
        padded = json.dumps({"Privileged": True, "Dns": ["1.1.1.1"] * 150_000}).encode()
        r = _api(daemon, "POST", "/v1.23/containers/cgpol-start-hc/start", padded)
        assert r.status_code == 403 and "cannot evaluate the request, denied (fail-closed)" in r.text, (r.status_code, r.text)
        # a start without a body is the normal case and is allowed, with an old API version too
        assert _api(daemon, "POST", "/v1.23/containers/cgpol-start-hc/start").status_code == 204
    finally:
        daemon.docker("rm", "-f", "cgpol-start-hc", check=False)


def test_swarm_service_create_and_update_are_decided(env: tuple[Daemon, Plugin]) -> None:
    """A swarm service's tasks are containers: `docker service create/update` with the capabilities, host bind
    mounts (also through a local volume) or host network a policy denies for `docker run` are denied the same way."""
    daemon, plugin = env
    r = daemon.docker("swarm", "init", "--advertise-addr", "127.0.0.1", check=False)
    assert r.returncode == 0 or "already part of a swarm" in r.stderr, r.stderr
    try:
        svc = ("service", "create", "--detach", "--user", "1000", "--limit-memory", "64m")
        for args, pid in ((("--cap-add", "SYS_ADMIN"), "CG-DEP-006"),
                          (("--mount", "type=bind,source=/var/run/docker.sock,target=/var/run/docker.sock"), "CG-DEP-005"),
                          (("--network", "host"), "CG-DEP-003")):
            r = daemon.docker(*svc, "--name", "cgpol-svc-bad", *args, IMAGE, "/bin/sleep", "300", check=False)
            assert r.returncode != 0 and f"authorization denied by plugin {daemon.plugin}" in r.stderr, (args, r.stderr)
            assert f"[{pid} " in r.stderr, (args, r.stderr)
        # a named volume bound to a host path (looked up on this node) and volume options given inline
        plugin.start("--warn-only")
        daemon.docker("volume", "create", "-o", "type=none", "-o", "o=bind", "-o", "device=/var/run", "cgpol-svc-vol")
        plugin.start()
        for mount in ("type=volume,source=cgpol-svc-vol,target=/h",
                      "type=volume,target=/h,volume-driver=local,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=/run"):
            r = daemon.docker(*svc, "--name", "cgpol-svc-bad", "--mount", mount, IMAGE, "/bin/sleep", "300", check=False)
            assert r.returncode != 0 and "[CG-DEP-005 " in r.stderr, (mount, r.stderr)
        assert "cgpol-svc-bad" not in daemon.docker("service", "ls", "--format", "{{.Name}}").stdout
        # an overlay network is not the host's: the plugin looks up the ID the CLI sends and lets it through
        daemon.docker("network", "create", "--driver", "overlay", "cgpol-ov")
        daemon.docker(*svc, "--name", "cgpol-svc-ok", "--network", "cgpol-ov", IMAGE, "/bin/sleep", "300")
        for args, pid in ((("--cap-add", "SYS_PTRACE"), "CG-DEP-006"),
                          (("--mount-add", "type=bind,source=/run/docker.sock,target=/host.sock"), "CG-DEP-005 ")):
            r = daemon.docker("service", "update", "--detach", *args, "cgpol-svc-ok", check=False)
            assert r.returncode != 0 and f"[{pid}" in r.stderr, (args, r.stderr)
        spec = daemon.docker("service", "inspect", "-f", "{{json .Spec.TaskTemplate.ContainerSpec}}", "cgpol-svc-ok").stdout
        assert "SYS_PTRACE" not in spec and "/host.sock" not in spec
        # a compliant update goes through
        daemon.docker("service", "update", "--detach", "--env-add", "A=1", "cgpol-svc-ok")
    finally:
        daemon.docker("service", "rm", "cgpol-svc-ok", check=False)
        daemon.docker("network", "rm", "cgpol-ov", check=False)
        daemon.docker("swarm", "leave", "--force", check=False)
        plugin.start("--fail-open")
        daemon.docker("volume", "rm", "cgpol-svc-vol", check=False)
        plugin.start()


_PRIVILEGES = [{"Name": "network", "Description": "permissions to access a network", "Value": ["host"]},
               {"Name": "mount", "Description": "host path to mount", "Value": ["/var/run/docker.sock"]},
               {"Name": "allow-all-devices", "Description": "allow 'rwm' access to all devices", "Value": ["true"]},
               {"Name": "capabilities", "Description": "list of additional capabilities required", "Value": ["CAP_SYS_ADMIN"]},
               {"Name": "device", "Description": "host device to access", "Value": ["/dev/loop0"]}]


@pytest.mark.parametrize("grant", [[p] for p in _PRIVILEGES] + [[{"name": "host pid namespace", "value": ["true"]}]],
                         ids=["network-host", "mount", "all-devices", "capabilities", "disk-device", "host-pid-lowercase-keys"])
def test_plugin_privileges_are_decided(env: tuple[Daemon, Plugin], grant: list[dict[str, Any]]) -> None:
    """`docker plugin install`/`upgrade` POST the privileges the user grants the plugin: granting host network,
    host mounts, every device, capabilities or host namespaces is denied as for a container. Sent to the real
    dockerd: the plugin answers before dockerd contacts the (here unreachable) registry."""
    daemon, _ = env
    remote = "127.0.0.1:9/cgpol/plug:1"
    for path in (f"/v1.41/plugins/pull?remote={remote}&name=cgpol-plug", "/v1.41/plugins/cgpol-plug:1/upgrade?remote=" + remote):
        r = _api(daemon, "POST", path, json.dumps(grant).encode())
        assert r.status_code == 403 and "containerguard policy: [CG-DEP-" in r.text, (path, r.status_code, r.text)
    # no privileges granted: allowed by the plugin, then dockerd fails on its own (no registry, no such plugin)
    r = _api(daemon, "POST", f"/v1.41/plugins/pull?remote={remote}", b"[]")
    assert r.status_code != 403 and "authorization denied" not in r.text, r.text


def test_plugin_created_from_a_local_tar_is_undecidable(env: tuple[Daemon, Plugin], tmp_path: Path) -> None:
    """`docker plugin create` sends a tar whose config.json lists the privileges; dockerd shows the plugin no body,
    so it cannot be evaluated: denied under fail-closed."""
    daemon, _ = env
    (tmp_path / "rootfs").mkdir()
    (tmp_path / "config.json").write_text(json.dumps({
        "description": "x", "documentation": "x", "entrypoint": ["/bin/sh"], "interface": {"socket": "p.sock", "types": ["docker.volumedriver/1.0"]},
        "network": {"type": "host"}, "linux": {"capabilities": ["CAP_SYS_ADMIN"], "allowAllDevices": True}}))
    r = daemon.docker("plugin", "create", "cgpol-created-plug", str(tmp_path), check=False)
    assert r.returncode != 0 and "cannot evaluate the request, denied (fail-closed)" in r.stderr, r.stderr
    assert "config.json" in r.stderr
    assert "cgpol-created-plug" not in daemon.docker("plugin", "ls").stdout


@pytest.mark.parametrize("mode", ["pid", "ipc", "network"])
def test_joining_another_containers_namespace_is_decided(env: tuple[Daemon, Plugin], mode: str) -> None:
    """`--pid/--ipc/--network container:X` shares X's namespaces: the host's when X runs in them (or joins a
    container that does). The plugin looks X up through the Engine API (--docker-host) and decides as for
    `--pid/--ipc/--network host`; without that API the request is undecidable when a policy denies host
    namespaces: denied under fail-closed, allowed under fail-open."""
    daemon, plugin = env
    plugin.start("--warn-only")  # containers in the host's namespaces, made before the policies were enforced
    try:
        daemon.docker("run", "-d", f"--{mode}", "host", "--user", "1000", "--name", "cgpol-hostns", IMAGE, "/bin/sleep", "300")
        daemon.docker("run", "-d", f"--{mode}", "container:cgpol-hostns", "--user", "1000", "--name", "cgpol-chain",
                      IMAGE, "/bin/sleep", "300")
        plugin.start()
        daemon.docker("run", "-d", "--network", "none", "--ipc", "shareable", "--user", "1000", "--name", "cgpol-plain",
                      IMAGE, "/bin/sleep", "300")
        pid = {"pid": "CG-DEP-002", "network": "CG-DEP-003", "ipc": "CG-DEP-004"}[mode]
        for target in ("cgpol-hostns", "cgpol-chain"):
            r = daemon.docker("run", "--rm", f"--{mode}", f"container:{target}", "--user", "1000", IMAGE, "/bin/true",
                              check=False)
            assert r.returncode != 0 and f"containerguard policy: [{pid} " in r.stderr, (target, r.stderr)
        plain = ("run", "--rm", f"--{mode}", "container:cgpol-plain", "--user", "1000", IMAGE, "/bin/true")
        assert daemon.docker(*plain, check=False).returncode == 0
        plugin.start("--docker-host", "")  # no Engine API to look the container up
        r = daemon.docker(*plain, check=False)
        assert r.returncode != 0 and "cannot evaluate the request, denied (fail-closed)" in r.stderr, r.stderr
        assert f"the {mode} namespace of container cgpol-plain" in r.stderr
        r = daemon.docker("run", "--rm", f"--{mode}", "container:cgpol-plain", "--privileged", IMAGE, "/bin/true", check=False)
        assert r.returncode != 0 and "[CG-DEP-001 privileged-container]" in r.stderr, r.stderr  # denied anyway
        plugin.start("--docker-host", "", "--fail-open")
        r = daemon.docker(*plain, check=False)
        assert r.returncode == 0, r.stderr
    finally:
        plugin.start("--fail-open")
        daemon.docker("rm", "-f", "cgpol-chain", "cgpol-hostns", "cgpol-plain", check=False)
        plugin.start()


def _decided(plugin: Plugin, since: int) -> list[dict[str, Any]]:
    """The plugin's decision log lines written since byte ``since`` (one JSON object per evaluated request)."""
    out = []
    for line in plugin.log.read_bytes()[since:].decode(errors="replace").splitlines():
        _, brace, rest = line.partition("{")
        if brace and '"subject"' in rest:
            out.append(json.loads(brace + rest))
    return out


def test_host_paths_through_volumes_are_decided(env: tuple[Daemon, Plugin]) -> None:
    """A `local` volume with `o=bind,device=PATH` is a bind mount of a host path under a name: creating one over
    the runtime socket's directory is denied; one made before the policies were enforced is looked up when a
    container mounts it (-v NAME, --mount type=volume) or takes it with --volumes-from; the volume options given
    inline at `docker run --mount` count; `-v //var/run/docker.sock` is the socket (dockerd cleans the path)."""
    daemon, plugin = env
    bind = ("-o", "type=none", "-o", "o=bind")
    r = daemon.docker("volume", "create", *bind, "-o", "device=/var/run", "cgpol-vol-new", check=False)
    assert r.returncode != 0 and "[CG-DEP-005 docker-socket-mounted]" in r.stderr, r.stderr
    r = daemon.docker("volume", "create", "-o", "type=ext4", "-o", "device=/dev/loop0", "cgpol-vol-disk", check=False)
    assert r.returncode != 0 and "[CG-DEP-020 host-disk-or-memory-device]" in r.stderr, r.stderr
    assert "cgpol-vol-new" not in daemon.docker("volume", "ls", "-q").stdout
    plugin.start("--warn-only")  # made before the policies were enforced
    try:
        daemon.docker("volume", "create", *bind, "-o", "device=/var/run", "cgpol-vol-run")
        daemon.docker("create", "--name", "cgpol-sockholder", "--user", "1000", "-v",
                      "/var/run/docker.sock:/var/run/docker.sock", IMAGE, "/bin/true")
        daemon.docker("create", "--name", "cgpol-volholder", "--user", "1000", "-v", "cgpol-vol-run:/h", IMAGE, "/bin/true")
        plugin.start()
        for args in (("-v", "cgpol-vol-run:/h"), ("--mount", "type=volume,src=cgpol-vol-run,dst=/h"),
                     ("--volumes-from", "cgpol-sockholder"), ("--volumes-from", "cgpol-volholder:ro"),
                     ("--mount", "type=volume,dst=/h,volume-driver=local,volume-opt=type=none,volume-opt=o=bind,"
                                 "volume-opt=device=/var/run"),
                     ("-v", "//var/run/docker.sock:/s"), ("-v", "/:/host:ro")):
            r = daemon.docker(*RUN, "--user", "1000", *args, IMAGE, "/bin/true", check=False)
            assert r.returncode != 0 and "[CG-DEP-005 docker-socket-mounted]" in r.stderr, (args, r.stderr)
        # plain named volumes (new or existing) run
        daemon.docker("volume", "create", "cgpol-vol-plain")
        for v in ("cgpol-vol-plain", "cgpol-vol-fresh"):
            assert daemon.docker(*RUN, "--user", "1000", "-v", f"{v}:/d", IMAGE, "/bin/true", check=False).returncode == 0
        # without the Engine API the volume cannot be looked up: undecidable, denied under fail-closed
        plugin.start("--docker-host", "")
        r = daemon.docker(*RUN, "--user", "1000", "-v", "cgpol-vol-plain:/d", IMAGE, "/bin/true", check=False)
        assert r.returncode != 0 and "cannot evaluate the request, denied (fail-closed)" in r.stderr, r.stderr
        assert "volume cgpol-vol-plain" in r.stderr
    finally:
        plugin.start("--fail-open")
        daemon.docker("rm", "-f", "cgpol-sockholder", "cgpol-volholder", check=False)
        daemon.docker("volume", "rm", "cgpol-vol-run", "cgpol-vol-plain", "cgpol-vol-fresh", check=False)
        plugin.start()


def test_host_devices_are_decided(env: tuple[Daemon, Plugin], tmp_path: Path) -> None:
    """A host disk as a device (also through a symbolic link, which dockerd resolves) or a device cgroup rule that
    allows block devices is denied; another device runs with a warning."""
    daemon, plugin = env
    link = tmp_path / "innocent"
    link.symlink_to("/dev/loop0")
    for args in (("--device", "/dev/loop0"), ("--device", f"{link}:/dev/x"), ("--device-cgroup-rule", "b *:* rwm"),
                 ("--device-cgroup-rule", "a *:* rwm"), ("--device", "/dev")):
        r = daemon.docker(*RUN, "--user", "1000", *args, IMAGE, "/bin/true", check=False)
        assert r.returncode != 0 and "[CG-DEP-020 host-disk-or-memory-device]" in r.stderr, (args, r.stderr)
    since = plugin.log.stat().st_size
    r = daemon.docker(*RUN, "--user", "1000", "--device", "/dev/null:/dev/mynull", IMAGE, "/bin/true", check=False)
    assert r.returncode == 0, r.stderr
    assert any("CG-DEP-021" in d["warn"] for d in _decided(plugin, since))


def test_namespaces_and_security_options_are_read(env: tuple[Daemon, Plugin], tmp_path: Path) -> None:
    """--uts/--cgroupns host, systempaths=unconfined, a kernel parameter outside the safe set and a seccomp
    profile file that lets every system call through are read as dockerd applies them (warned by default)."""
    daemon, plugin = env
    allow_all = tmp_path / "allow.json"
    allow_all.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}))
    cases = ((("--uts", "host"), "CG-DEP-022"), (("--cgroupns", "host"), "CG-DEP-022"),
             (("--security-opt", "systempaths=unconfined"), "CG-DEP-024"), (("--sysctl", "kernel.msgmax=65536"), "CG-DEP-023"),
             (("--security-opt", f"seccomp={allow_all}"), "CG-DEP-013"))
    for args, pid in cases:
        since = plugin.log.stat().st_size
        r = daemon.docker(*RUN, "--user", "1000", *args, IMAGE, "/bin/true", check=False)
        assert r.returncode == 0, (args, r.stderr)
        assert any(pid in d["warn"] for d in _decided(plugin, since)), (args, _decided(plugin, since))
    since = plugin.log.stat().st_size
    daemon.docker(*RUN, "--user", "1000", "--sysctl", "net.ipv4.tcp_syncookies=1", IMAGE, "/bin/true")
    assert not any(d["warn"] for d in _decided(plugin, since) if "CG-DEP-023" in d["warn"])


def test_build_on_the_host_network_is_decided(env: tuple[Daemon, Plugin], tmp_path: Path) -> None:
    """`docker build --network host` runs its RUN steps in the host's network namespace: denied as --network host."""
    daemon, _ = env
    (tmp_path / "Dockerfile").write_text(f"FROM {IMAGE}\nRUN /bin/true\n")
    r = subprocess.run(["docker", "-H", daemon.host, "build", "--network", "host", "-t", "cgpol/built:1", str(tmp_path)],
                       capture_output=True, text=True, timeout=120, env={**os.environ, "DOCKER_BUILDKIT": "0"})
    assert r.returncode != 0 and "[CG-DEP-003 host-network-namespace]" in r.stderr, r.stderr
    r = subprocess.run(["docker", "-H", daemon.host, "build", "--network", "none", "-t", "cgpol/built:1", str(tmp_path)],
                       capture_output=True, text=True, timeout=120, env={**os.environ, "DOCKER_BUILDKIT": "0"})
    assert r.returncode == 0, r.stderr
    daemon.docker("rmi", "cgpol/built:1", check=False)


def test_update_is_decided_on_the_container_it_makes(env: tuple[Daemon, Plugin], tmp_path: Path) -> None:
    """`docker update` is evaluated on the container as it will be (looked up, the new limits applied): under a
    user's memory ceiling and CPU-limit policies raised to deny, raising the memory above the ceiling or removing
    the CPU quota (--cpu-quota -1) is denied; a change within them runs; a container made before the policies is
    not refused an update that brings no new denial (a restart policy)."""
    daemon, plugin = env
    pol = tmp_path / "limits.yaml"
    pol.write_text(
        "apiVersion: containerguard.dev/v1\nkind: PolicySet\npolicies:\n"
        "  - id: TEAM-MEM\n    name: memory-ceiling\n    description: The memory limit is above 128 MiB or unset.\n"
        "    severity: medium\n    condition: '!has(container.resources.limits.memory) || "
        "int(container.resources.limits.memory) > 134217728'\n    enforcement: {deploy: deny}\n"
        "  - id: TEAM-CPU\n    name: cpu-limit\n    description: No CPU limit.\n    severity: medium\n"
        "    condition: '!has(container.resources.limits.cpu)'\n    enforcement: {deploy: deny}\n")
    plugin.start("--policy", str(pol))
    try:
        daemon.docker("create", "--name", "cgpol-upd", "--user", "1000", "--memory", "64m", "--memory-swap", "512m",
                      "--cpu-quota", "50000", IMAGE, "/bin/true")
        r = daemon.docker("update", "--memory", "256m", "cgpol-upd", check=False)
        assert r.returncode != 0 and "[TEAM-MEM memory-ceiling]" in r.stderr, r.stderr
        r = daemon.docker("update", "--cpu-quota", "-1", "cgpol-upd", check=False)
        assert r.returncode != 0 and "[TEAM-CPU cpu-limit]" in r.stderr, r.stderr
        hc = json.loads(daemon.docker("inspect", "-f", "{{json .HostConfig}}", "cgpol-upd").stdout)
        assert (hc["Memory"], hc["CpuQuota"]) == (64 * 2**20, 50000)
        daemon.docker("update", "--memory", "100m", "--cpu-quota", "60000", "cgpol-upd")
        plugin.start("--warn-only")
        daemon.docker("create", "--name", "cgpol-upd-old", "--user", "1000", IMAGE, "/bin/true")
        plugin.start("--policy", str(pol))
        daemon.docker("update", "--restart", "on-failure:3", "cgpol-upd-old")
    finally:
        plugin.start("--fail-open")
        daemon.docker("rm", "-f", "cgpol-upd", "cgpol-upd-old", check=False)
        plugin.start()


def test_no_user_is_the_images_user_root_here(env: tuple[Daemon, Plugin], tmp_path: Path) -> None:
    """A `docker run` or `docker exec` that names no user runs as the image's (the container's) user, root when
    that is empty: under a user's policy that denies root, both are denied (the plugin looks the image and the
    container up); --user 1000 runs; an image whose USER is 1000 runs without --user."""
    daemon, plugin = env
    pol = tmp_path / "root.yaml"
    pol.write_text("id: TEAM-ROOT\nname: no-root\ndescription: Runs as root.\nseverity: high\n"
                   "condition: container.run_as_user == 0\nenforcement: {deploy: deny}\n")
    (tmp_path / "Dockerfile").write_text(f"FROM {IMAGE}\nUSER 1000\n")
    plugin.start("--policy", str(pol))
    try:
        r = daemon.docker(*RUN, IMAGE, "/bin/true", check=False)
        assert r.returncode != 0 and "[TEAM-ROOT no-root]" in r.stderr, r.stderr
        daemon.docker("run", "-d", "--network", "none", "--user", "1000", "--name", "cgpol-user", IMAGE, "/bin/sleep", "300")
        assert daemon.docker("exec", "cgpol-user", "/bin/id", "-u").stdout.strip() == "1000"
        r = daemon.docker("exec", "-u", "root", "cgpol-user", "/bin/true", check=False)
        assert r.returncode != 0 and "[TEAM-ROOT no-root]" in r.stderr, r.stderr
        subprocess.run(["docker", "-H", daemon.host, "build", "-q", "-t", "cgpol/user1000:1", str(tmp_path)], check=True,
                       capture_output=True, timeout=120, env={**os.environ, "DOCKER_BUILDKIT": "0"})
        assert daemon.docker(*RUN, "cgpol/user1000:1", "/bin/id", "-u").stdout.strip() == "1000"
        plugin.start("--warn-only")
        daemon.docker("run", "-d", "--network", "none", "--name", "cgpol-rootc", IMAGE, "/bin/sleep", "300")
        plugin.start("--policy", str(pol))
        r = daemon.docker("exec", "cgpol-rootc", "/bin/true", check=False)
        assert r.returncode != 0 and "[TEAM-ROOT no-root]" in r.stderr, r.stderr
        assert daemon.docker("exec", "-u", "1000", "cgpol-rootc", "/bin/id", "-u").stdout.strip() == "1000"
    finally:
        plugin.start("--fail-open")
        daemon.docker("rm", "-f", "cgpol-user", "cgpol-rootc", check=False)
        daemon.docker("rmi", "cgpol/user1000:1", check=False)
        plugin.start()
