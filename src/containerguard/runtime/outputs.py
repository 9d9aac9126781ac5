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
import os
import queue
import re
import socket
import stat
import sys
import threading
import time
from typing import Any, Protocol

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


class QueuedOutput:
    """An output that delivers from its own thread out of a bounded queue: detection never waits on the destination.

    A reader that stops reading (a full pipe, a syslog daemon that hangs), a closed pipe, a full disk or a hanging
    network mount only fills the queue; what does not fit, or fails to be delivered, is dropped and counted
    (``dropped``, reported by the agent). Subclasses deliver one document in :meth:`deliver` (raising on failure).
    """

    name: str

    def __init__(self, *, queue_size: int = 10000) -> None:
        self.dropped = 0
        self.written = 0
        #: the last delivery failed (a full disk, a receiver down or hanging): close() does not wait on it
        self.failing = False
        self._q: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=queue_size)
        self._thread = threading.Thread(target=self._run, name=f"cg-output-{self.name.partition(':')[0]}",
                                        daemon=True)
        self._thread.start()

    def emit(self, doc: dict[str, Any]) -> None:
        """Queue one document (dropped and counted when the queue is full)."""
        try:
            self._q.put_nowait(doc)
        except queue.Full:
            self.dropped += 1

    def deliver(self, doc: dict[str, Any]) -> None:
        """Write or send one document; raise OSError (or ValueError) when it could not be."""
        raise NotImplementedError

    def _run(self) -> None:
        while True:
            doc = self._q.get()
            if doc is None:
                return
            try:
                self.deliver(doc)
                self.written += 1
                self.failing = False
            except Exception as exc:  # a destination that failed, or a bug: counted, never the end of the thread
                self.dropped += 1
                self.failing = True
                log.debug("output %s: %s", self.name, exc)

    def release(self) -> None:
        """Release the destination (called once the delivering thread ended)."""

    def close(self, drain: float = 5.0) -> None:
        """Deliver what is queued (for up to ``drain`` seconds; a destination that does not take it keeps the rest,
        counted as dropped), then release the destination."""
        deadline = time.monotonic() + drain
        while not self._q.empty() and not self.failing and time.monotonic() < deadline and self._thread.is_alive():
            time.sleep(0.02)
        left = self._q.qsize()
        if left:
            self.dropped += left
            log.warning("output %s: %d alerts not delivered at shutdown", self.name, left)
        with contextlib.suppress(queue.Full):
            self._q.put_nowait(None)
        # a destination that took everything finishes its last delivery; one that fails or hangs is not waited for
        self._thread.join(0.5 if left or self.failing else max(0.1, deadline - time.monotonic()))
        if not self._thread.is_alive():  # a delivery still hanging keeps its destination; the process is ending
            self.release()


class StreamOutput(QueuedOutput):
    """JSON lines to stdout or a file (appended). A line is written whole or not at all: a write cut short by a full
    disk is truncated away, so the file never holds half a JSON line that the next line would run into."""

    def __init__(self, name: str, fd: int, owned: bool, *, queue_size: int = 10000) -> None:
        self.name = name
        self.fd = fd
        self.owned = owned
        self._regular = stat.S_ISREG(os.fstat(fd).st_mode)
        super().__init__(queue_size=queue_size)

    def deliver(self, doc: dict[str, Any]) -> None:
        """Write one JSON line."""
        data = (_line(doc) + "\n").encode("utf-8", "surrogateescape")
        start = os.lseek(self.fd, 0, os.SEEK_END) if self._regular else 0
        view = memoryview(data)
        try:
            while view:
                n = os.write(self.fd, view)
                view = view[n:]
        except OSError:
            if self._regular and len(view) < len(data):  # half a line on disk: take it back
                with contextlib.suppress(OSError):
                    os.ftruncate(self.fd, start)
            raise

    def release(self) -> None:
        """Close the file (stdout stays open)."""
        if self.owned:
            os.close(self.fd)


class _SysLogHandler(logging.handlers.SysLogHandler):
    """The stdlib's handler, raising on a failed send (its own prints a traceback to stderr and returns), so the
    output can count the message as dropped."""

    def handleError(self, record: logging.LogRecord) -> None:
        raise


class SyslogOutput(QueuedOutput):
    """One syslog message per alert (the JSON document), priority mapped from the alert's."""

    _LEVELS = {"Emergency": logging.CRITICAL, "Alert": logging.CRITICAL, "Critical": logging.CRITICAL,
               "Error": logging.ERROR, "Warning": logging.WARNING, "Notice": logging.INFO,
               "Informational": logging.INFO, "Debug": logging.DEBUG}

    def __init__(self, address: str | tuple[str, int]) -> None:
        self.name = f"syslog:{address}"
        try:
            self.handler = _SysLogHandler(address=address, facility=logging.handlers.SysLogHandler.LOG_DAEMON,
                                          socktype=socket.SOCK_DGRAM)
        except OSError as exc:
            raise UsageError(f"--output syslog: cannot open {address}: {exc}") from exc
        self.handler.ident = "containerguard: "
        super().__init__()

    def deliver(self, doc: dict[str, Any]) -> None:
        """Send one syslog message."""
        level = self._LEVELS.get(str(doc.get("priority")), logging.WARNING)
        self.handler.emit(logging.LogRecord("containerguard", level, __file__, 0, _line(doc), None, None))

    def release(self) -> None:
        """Close the syslog socket."""
        self.handler.close()


class WebhookOutput(QueuedOutput):
    """POSTs each document as JSON; bounded queue, retries with backoff, drops counted."""

    def __init__(self, url: str, *, queue_size: int = 1000, retries: int = 3, timeout: float = 5.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"--output webhook:{url}: the URL must start with http:// or https://")
        self.name = f"webhook:{url}"
        self.url = url
        self.retries = retries
        self.failed = 0
        self._client = httpx.Client(timeout=timeout)
        super().__init__(queue_size=queue_size)

    @property
    def sent(self) -> int:
        """Documents the receiver took."""
        return self.written

    def deliver(self, doc: dict[str, Any]) -> None:
        """POST one document, retrying a server error, a 429 or a failed connection with backoff."""
        delay = 0.2
        for attempt in range(self.retries + 1):
            try:
                r = self._client.post(self.url, content=_line(doc), headers={"Content-Type": "application/json"})
                if r.status_code < 500 and r.status_code != 429:
                    if r.status_code < 300:
                        return
                    break
            except httpx.HTTPError as exc:
                log.debug("webhook %s attempt %d: %s", self.url, attempt + 1, exc)
            if attempt < self.retries:
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        self.failed += 1
        raise OSError(f"webhook {self.url}: not delivered")

    def release(self) -> None:
        """Close the HTTP client."""
        self._client.close()


def open_output(spec: str) -> Output:
    """An output from its ``--output`` spec."""
    kind, _, arg = spec.partition(":")
    if kind == "stdout":
        with contextlib.suppress(AttributeError, ValueError, OSError):
            sys.stdout.flush()  # anything printed before goes first; the output writes to the descriptor itself
        return StreamOutput("stdout", sys.stdout.fileno(), owned=False)
    if kind == "file":
        if not arg:
            raise UsageError("--output file:PATH needs a path")
        try:
            fd = os.open(arg, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            raise UsageError(f"--output {spec}: {exc.strerror or exc}") from exc
        return StreamOutput(f"file:{arg}", fd, owned=True)
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

    def dropped_by_output(self) -> dict[str, int]:
        """Documents each output could not deliver (by its name)."""
        out: dict[str, int] = {}
        for o in self.outputs:
            out[o.name] = out.get(o.name, 0) + o.dropped
        return out

    def close(self) -> None:
        """Close every output."""
        for o in self.outputs:
            try:
                o.close()
            except Exception:
                log.debug("closing %s failed", o.name, exc_info=True)
