"""Alert outputs: JSON lines (Falco-compatible documents) to stdout, a file, syslog or an HTTP webhook.

Specs (``--output``): ``stdout``, ``file:PATH``, ``syslog`` (``/dev/log``), ``syslog:HOST:PORT`` (UDP),
``webhook:URL``. The webhook posts each document from a bounded queue on its own thread, retries with
backoff and counts what it had to drop; a slow receiver never blocks detection.
"""

from __future__ import annotations

import contextlib
import json
import logging
import logging.handlers
import queue
import re
import socket
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any, Protocol

import httpx

from containerguard.errors import UsageError

log = logging.getLogger(__name__)


class Output(Protocol):
    """Where alert documents go; ``dropped`` counts documents it could not deliver."""
    name: str
    dropped: int

    def emit(self, doc: dict[str, Any]) -> None:
        """Deliver one document (never raises; a failure counts as dropped)."""
        ...

    def close(self) -> None:
        """Flush and release the destination."""
        ...


#: characters JSON may carry raw that still act on whatever shows the line: C1 controls (U+009B is CSI to a
#: terminal), bidi overrides and isolates (text shown in another order than it is), and the line and paragraph
#: separators (a line break to JavaScript and many log viewers). JSON's own escapes control C0 already.
_DISPLAY_CONTROLS = re.compile("[\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def _line(doc: dict[str, Any]) -> str:
    line = json.dumps(doc, separators=(",", ":"), default=str, ensure_ascii=False)
    if line.isascii() and "\x7f" not in line:
        return line
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:  # a name with bytes that are not UTF-8 (a file an attacker named, read from /proc):
        # \udcff escapes instead of a line no stream, socket or HTTP body can carry (the alert would be dropped)
        return json.dumps(doc, separators=(",", ":"), default=str)
    # only ever inside a JSON string: its \u escape decodes to the same text
    return _DISPLAY_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", line)


class StreamOutput:
    """JSON lines to a text stream (stdout) or a file (appended, flushed per alert)."""

    def __init__(self, name: str, fh: IO[str], owned: bool) -> None:
        self.name = name
        self.fh = fh
        self.owned = owned
        self.dropped = 0
        self._lock = threading.Lock()

    def emit(self, doc: dict[str, Any]) -> None:
        """Write one JSON line and flush."""
        with self._lock:
            try:
                self.fh.write(_line(doc) + "\n")
                self.fh.flush()
            except (OSError, ValueError):
                self.dropped += 1

    def close(self) -> None:
        """Close the file (stdout stays open)."""
        if self.owned:
            self.fh.close()


class SyslogOutput:
    """One syslog message per alert (the JSON document), priority mapped from the alert's."""

    _LEVELS = {"Emergency": logging.CRITICAL, "Alert": logging.CRITICAL, "Critical": logging.CRITICAL,
               "Error": logging.ERROR, "Warning": logging.WARNING, "Notice": logging.INFO,
               "Informational": logging.INFO, "Debug": logging.DEBUG}

    def __init__(self, address: str | tuple[str, int]) -> None:
        self.name = f"syslog:{address}"
        self.dropped = 0
        try:
            self.handler = logging.handlers.SysLogHandler(
                address=address, facility=logging.handlers.SysLogHandler.LOG_DAEMON,
                socktype=socket.SOCK_DGRAM)
        except OSError as exc:
            raise UsageError(f"--output syslog: cannot open {address}: {exc}") from exc
        self.handler.ident = "containerguard: "

    def emit(self, doc: dict[str, Any]) -> None:
        """Send one syslog message."""
        level = self._LEVELS.get(str(doc.get("priority")), logging.WARNING)
        rec = logging.LogRecord("containerguard", level, __file__, 0, _line(doc), None, None)
        try:
            self.handler.emit(rec)
        except Exception:
            self.dropped += 1

    def close(self) -> None:
        """Close the syslog socket."""
        self.handler.close()


class WebhookOutput:
    """POSTs each document as JSON; bounded queue, retries with backoff, drops counted."""

    def __init__(self, url: str, *, queue_size: int = 1000, retries: int = 3, timeout: float = 5.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"--output webhook:{url}: the URL must start with http:// or https://")
        self.name = f"webhook:{url}"
        self.url = url
        self.retries = retries
        self.dropped = 0
        self.sent = 0
        self.failed = 0
        self._q: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=queue_size)
        self._client = httpx.Client(timeout=timeout)
        self._thread = threading.Thread(target=self._run, name="cg-webhook", daemon=True)
        self._thread.start()

    def emit(self, doc: dict[str, Any]) -> None:
        """Queue one document for posting (dropped when the queue is full)."""
        try:
            self._q.put_nowait(doc)
        except queue.Full:
            self.dropped += 1

    def _post(self, doc: dict[str, Any]) -> bool:
        delay = 0.2
        for attempt in range(self.retries + 1):
            try:
                r = self._client.post(self.url, content=_line(doc), headers={"Content-Type": "application/json"})
                if r.status_code < 500 and r.status_code != 429:
                    return r.status_code < 300
            except httpx.HTTPError as exc:
                log.debug("webhook %s attempt %d: %s", self.url, attempt + 1, exc)
            if attempt < self.retries:
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        return False

    def _run(self) -> None:
        while True:
            doc = self._q.get()
            if doc is None:
                return
            if self._post(doc):
                self.sent += 1
            else:
                self.failed += 1
                self.dropped += 1

    def close(self, drain: float = 5.0) -> None:
        """Post what is queued (for up to ``drain`` seconds), then stop the sender thread."""
        deadline = time.monotonic() + drain
        while not self._q.empty() and time.monotonic() < deadline:
            time.sleep(0.05)
        with contextlib.suppress(queue.Full):
            self._q.put_nowait(None)
        self._thread.join(max(0.1, deadline - time.monotonic()))
        self._client.close()


def open_output(spec: str) -> Output:
    """An output from its ``--output`` spec."""
    kind, _, arg = spec.partition(":")
    if kind == "stdout":
        return StreamOutput("stdout", sys.stdout, owned=False)
    if kind == "file":
        if not arg:
            raise UsageError("--output file:PATH needs a path")
        try:
            fh = Path(arg).open("a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise UsageError(f"--output {spec}: {exc}") from exc
        return StreamOutput(f"file:{arg}", fh, owned=True)
    if kind == "syslog":
        if not arg:
            return SyslogOutput("/dev/log")
        if arg.startswith("/"):
            return SyslogOutput(arg)
        host, _, port = arg.rpartition(":")
        if not host or not port.isdigit():
            raise UsageError(f"--output {spec}: expected syslog, syslog:/dev/log or syslog:HOST:PORT")
        return SyslogOutput((host, int(port)))
    if kind == "webhook":
        return WebhookOutput(arg)
    raise UsageError(f"--output {spec!r}: expected stdout, file:PATH, syslog[:ADDR] or webhook:URL")


class Outputs:
    """Fan-out to every configured output."""

    def __init__(self, outputs: list[Output]) -> None:
        self.outputs = outputs
        self.emitted = 0

    def emit(self, doc: dict[str, Any]) -> None:
        """Send one document to every output."""
        self.emitted += 1
        for o in self.outputs:
            o.emit(doc)

    @property
    def dropped(self) -> int:
        """Documents the outputs could not deliver, in total."""
        return sum(o.dropped for o in self.outputs)

    def close(self) -> None:
        """Close every output."""
        for o in self.outputs:
            try:
                o.close()
            except Exception:
                log.debug("closing %s failed", o.name, exc_info=True)
