"""Alert outputs against real receivers on 127.0.0.1: a file, a UDP syslog socket, an HTTP webhook."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from containerguard.errors import UsageError
from containerguard.runtime.outputs import Outputs, WebhookOutput, open_output

DOC = {"time": "2026-11-27T10:00:00.000000001Z", "rule": "Sensitive file read in a container", "priority": "Warning",
       "source": "syscall", "output": "x", "output_fields": {"fd.name": "/etc/shadow"}, "tags": ["container"],
       "hostname": "h", "container_id": "3f2a9c0e1b7d", "image": "cg-test/debian:bookworm"}


def test_file_output_appends_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    out = Outputs([open_output(f"file:{path}")])
    out.emit(DOC)
    out.emit({**DOC, "rule": "second"})
    out.close()
    lines = path.read_text().splitlines()
    assert [json.loads(x)["rule"] for x in lines] == [DOC["rule"], "second"]
    assert out.emitted == 2 and out.dropped == 0


def test_syslog_udp_output() -> None:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(5)
    port = rx.getsockname()[1]
    out = open_output(f"syslog:127.0.0.1:{port}")
    out.emit(DOC)
    data = rx.recv(65536).decode()
    out.close()
    rx.close()
    # <facility*8+severity>: daemon(3), warning(4) -> 28
    assert data.startswith("<28>containerguard: ")
    assert json.loads(data[len("<28>containerguard: "):].rstrip("\x00"))["rule"] == DOC["rule"]


def test_syslog_unix_socket_output(tmp_path: Path) -> None:
    path = str(tmp_path / "log.sock")
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(path)
    rx.settimeout(5)
    out = open_output(f"syslog:{path}")
    out.emit({**DOC, "priority": "Critical"})
    data = rx.recv(65536).decode()
    out.close()
    rx.close()
    assert data.startswith("<26>containerguard: {")  # daemon(3)*8 + crit(2)


class _Receiver:
    def __init__(self, fail_first: int = 0, delay: float = 0.0) -> None:
        self.got: list[dict[str, Any]] = []
        self.calls = 0
        rec = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_POST(self) -> None:
                rec.calls += 1
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(delay)
                if rec.calls <= fail_first:
                    self.send_response(503)
                    self.end_headers()
                    return
                rec.got.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}/alerts"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.srv.shutdown()
        self.srv.server_close()


def test_webhook_retries_with_backoff() -> None:
    rx = _Receiver(fail_first=2)
    try:
        out = WebhookOutput(rx.url, retries=3)
        out.emit(DOC)
        out.close(drain=10)
        assert rx.calls == 3 and rx.got == [DOC]
        assert (out.sent, out.dropped) == (1, 0)
    finally:
        rx.close()


def test_webhook_bounded_queue_counts_drops() -> None:
    rx = _Receiver(delay=0.3)
    try:
        out = WebhookOutput(rx.url, queue_size=2, retries=0)
        for i in range(10):
            out.emit({**DOC, "n": i})
        assert out.dropped >= 6  # the receiver is slow: the queue holds 2, the sender has 1 in flight
        out.close(drain=5)
        assert len(rx.got) + out.dropped == 10
    finally:
        rx.close()


def test_webhook_unreachable_counts_drops() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once closed
    out = WebhookOutput(f"http://127.0.0.1:{port}/", retries=1, timeout=1)
    out.emit(DOC)
    out.close(drain=5)
    assert out.dropped == 1 and out.sent == 0


@pytest.mark.parametrize("spec", ["nope", "file:", "webhook:ftp://x", "syslog:host-without-port", "file:/proc/nope/x"])
def test_bad_output_specs(spec: str) -> None:
    with pytest.raises(UsageError):
        open_output(spec)
