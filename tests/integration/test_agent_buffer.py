"""evt.buffer through the real agent: upstream sandbox's "Java Process Class File Download" (switched on by an
override, as a user would) fires when a process named java receives a class file (CA FE BA BE) over TCP, and not
when it receives anything else or when another program receives the class file.

Everything stays in one container without a network: a perl server on its loopback sends the bytes; the clients
are perl too, one run under the name java (argv[0], which is what proc.exe is), receiving with recvfrom() and no
peer address as Java's socket reads do.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.fixtures import env

pytestmark = [pytest.mark.docker, pytest.mark.ebpf, pytest.mark.slow]

RULE = "Java Process Class File Download"
ENABLE = f"""
- rule: {RULE}
  enabled: true
  override:
    enabled: replace
"""

#: serve PAYLOAD to each of N clients on 127.0.0.1:PORT
SERVER = r"""
use IO::Socket::INET;
my ($port, $n, $hex) = @ARGV;
my $srv = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $port, Listen => 5, ReuseAddr => 1) or die "$!";
print "ready\n"; $| = 1;
for (1 .. $n) { my $c = $srv->accept or die; print $c pack("H*", $hex); close $c; }
"""
#: receive with recvfrom(fd, buf, 64, 0, NULL, NULL): syscall 45 on x86_64
CLIENT = r"""
use IO::Socket::INET;
my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $ARGV[0]) or die "$!";
my $buf = "\0" x 64;
my $got = syscall(45, fileno($s), $buf, 64, 0, 0, 0);
die "recvfrom: $!" if $got < 0;
"""
CLASS = "cafebabe00000034001d0a000600"  # a class file's header
OTHER = "485454502f312e3120323030204f4b"  # HTTP/1.1 200 OK


def test_java_class_download_rule_sees_the_received_bytes(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the eBPF sensor needs root")
    image = env.debian_image()
    enable = tmp_path / "enable.yaml"
    enable.write_text(ENABLE)
    (tmp_path / "server.pl").write_text(SERVER)
    (tmp_path / "client.pl").write_text(CLIENT)
    alerts, log = tmp_path / "alerts.jsonl", tmp_path / "agent.log"
    cmd = [sys.executable, "-m", "containerguard.cli.main", "agent", "--containers-only", "--resolve-names", "hosts",
           "--output", f"file:{alerts}", "--rules", str(env.SHARED / "falco-rules" / "falco-sandbox_rules.yaml"),
           "--rules", str(enable)]
    agent = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log.open("wb"), start_new_session=True)
    cid = ""
    try:
        deadline = time.monotonic() + 180
        while "agent running" not in log.read_text(errors="replace"):
            assert agent.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        cid = subprocess.run(["docker", "run", "-d", "--network", "none", "-v", f"{tmp_path}:/t:ro", image,
                              "sleep", "120"], check=True, capture_output=True, text=True).stdout.strip()
        script = f"""
set -e
perl /t/server.pl 9001 2 {CLASS} > /tmp/s1 & perl /t/server.pl 9002 1 {OTHER} > /tmp/s2 &
while ! grep -q ready /tmp/s1 2>/dev/null || ! grep -q ready /tmp/s2 2>/dev/null; do sleep 0.05; done
perl -e 'exec {{"perl"}} "/usr/lib/jvm/bin/java", "/t/client.pl", 9001'
perl -e 'exec {{"perl"}} "/usr/lib/jvm/bin/java", "/t/client.pl", 9002'
perl /t/client.pl 9001
wait
"""
        subprocess.run(["docker", "exec", cid, "sh", "-c", script], check=True, capture_output=True, timeout=60)
        deadline = time.monotonic() + 15
        docs: list[dict[str, object]] = []
        while not docs:
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
            docs = [d for line in (alerts.read_text().splitlines() if alerts.exists() else []) if line.strip()
                    for d in [json.loads(line)] if d.get("container_id") == cid[:12] and d["rule"] == RULE]
        time.sleep(1.0)  # the two receives that must not alert had their chance
        docs = [d for line in alerts.read_text().splitlines() if line.strip()
                for d in [json.loads(line)] if d.get("container_id") == cid[:12] and d["rule"] == RULE]
    finally:
        if cid:
            subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
        os.killpg(agent.pid, signal.SIGTERM)
        agent.wait(30)
    assert len(docs) == 1, docs  # the java client that received the class file, only
    out = docs[0]["output_fields"]
    assert out["proc.name"] == "perl" and out["fd.sport"] == 9001 and out["fd.sip"] == "127.0.0.1"  # type: ignore[index]
