"""Run the generated program under Debian's bpftrace as a supervised child process.

The supervisor restarts bpftrace when it dies (backoff 0.5 s doubling to 5 s) and reports the gap
(how long nothing was traced: from the last line the dead child printed to the first line of the new one)
through ``on_restart``; events in the gap are lost and said so.
Output lines are handed to ``on_line`` on the reader thread, in order.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from containerguard.errors import RuntimeSensorError
from containerguard.runtime.sensor.script import STRLEN, TRACEFS

log = logging.getLogger(__name__)


def ensure_tracefs(tracefs: Path = TRACEFS) -> None:
    """Mount tracefs if it is not (bpftrace's tracepoints need it); errors surface at bpftrace start."""
    if (tracefs / "events").is_dir():
        return
    subprocess.run(["mount", "-t", "tracefs", "tracefs", str(tracefs)], capture_output=True, check=False)


_HIGH_BYTE = re.compile(r"\\\\|\\uffffff([0-9a-f]{2})")


def record_line(record: str) -> str | None:
    """One line of ``bpftrace -f json`` -> the text one printf printed (one sensor line, embedded newlines kept), a
    ``Lost N events`` line, or None for the records the sensor does not use. Not JSON: returned as is (garbage the
    parser counts). bpftrace writes a byte >= 0x80 as ``\\uffffffXX`` (a sign-extended char): turned back into
    that byte, and the bytes decoded as UTF-8 as the text mode did."""
    if "\\uffffff" in record:
        record = _HIGH_BYTE.sub(lambda m: m.group(0) if m.group(1) is None else "\\u00" + m.group(1), record)
        high = True
    else:
        high = False
    try:
        rec = json.loads(record)
    except ValueError:
        return record
    if not isinstance(rec, dict):
        return record
    kind, data = rec.get("type"), rec.get("data")
    if kind == "printf" and isinstance(data, str):
        if high:
            try:
                return data.encode("latin-1").decode("utf-8", "replace")
            except UnicodeEncodeError:
                return data
        return data
    if kind == "lost_events" and isinstance(data, dict):
        return f"Lost {data.get('events')} events\n"
    return None


class BpftraceSensor:
    """A supervised ``bpftrace`` child running one program."""

    def __init__(self, program: str, on_line: Callable[[str], None], *,
                 on_stderr: Callable[[str], None] | None = None,
                 on_restart: Callable[[float, int], None] | None = None,
                 bpftrace: str = "bpftrace", max_backoff: float = 5.0, perf_pages: int = 1024) -> None:
        exe = shutil.which(bpftrace)
        if exe is None:
            raise RuntimeSensorError(f"{bpftrace} not found: install Debian's bpftrace (scripts/setup)")
        self.exe = exe
        self.program = program
        self.on_line = on_line
        self.on_stderr = on_stderr
        self.on_restart = on_restart
        self.max_backoff = max_backoff
        self.perf_pages = perf_pages  # per-CPU perf buffer (4 MiB): absorbs bursts while Python catches up
        self.restarts = 0
        self.last_gap = 0.0
        self.proc: subprocess.Popen[str] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failed = threading.Event()  # the program never started (3 attempts): give up
        self._tmp = tempfile.TemporaryDirectory(prefix="cg-sensor-")
        self._lock = threading.Lock()
        self.last_errors: collections.deque[str] = collections.deque(maxlen=5)

    # ------------------------------------------------------------------ lifecycle

    def start(self, wait_ready: float = 90.0) -> None:
        """Start bpftrace and wait until its probes are attached (the program prints ``ready``)."""
        ensure_tracefs()
        self._thread = threading.Thread(target=self._supervise, name="cg-sensor", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + wait_ready
        while not self._ready.wait(0.1):
            if self._failed.is_set() or time.monotonic() > deadline:
                break
        if not self._ready.is_set():
            self.stop()
            why = "; ".join(self.last_errors) or "no error output"
            if self._failed.is_set():
                raise RuntimeSensorError(f"bpftrace failed to start its program: {why}")
            raise RuntimeSensorError(f"bpftrace did not attach its probes within {wait_ready:.0f} s: {why}")

    def stop(self) -> None:
        """Stop bpftrace and the reader threads."""
        self._stop.set()
        self._kill_child()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(10)
        self._tmp.cleanup()

    def replace_program(self, program: str) -> None:
        """Swap the program (rules now need other probes): the child restarts with it."""
        with self._lock:
            self.program = program
        self._kill_child(expected=True)

    @property
    def pid(self) -> int | None:
        """The running bpftrace's pid (None while it is down)."""
        p = self.proc
        return p.pid if p is not None and p.poll() is None else None

    # ------------------------------------------------------------------ internals

    _expected_exit = False

    def _kill_child(self, expected: bool = False) -> None:
        p = self.proc
        if p is not None and p.poll() is None:
            self._expected_exit = expected
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()

    def _spawn(self) -> subprocess.Popen[str]:
        with self._lock:
            path = Path(self._tmp.name) / "sensor.bt"
            path.write_text(self.program)
        env = dict(os.environ, BPFTRACE_STRLEN=str(STRLEN), BPFTRACE_PERF_RB_PAGES=str(self.perf_pages),
                   BPFTRACE_MAP_KEYS_MAX="65536")  # per-thread maps: room for many threads blocked in syscalls
        # JSON records (-f json): one per printf, so a newline inside a printed string (a file or process name
        # chosen by whoever runs in a container) cannot end a record early or forge the next one
        return subprocess.Popen([self.exe, "-B", "line", "-f", "json", str(path)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, errors="replace", bufsize=1, env=env,
                                start_new_session=True)

    def _pump_stderr(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith(("ERROR", "error", "stdin:", "/")) and "RLIMIT_MEMLOCK" not in line:
                self.last_errors.append(line.strip())
            if self.on_stderr is not None:
                self.on_stderr(line)

    def _supervise(self) -> None:
        backoff = 0.5
        early_failures = 0
        died_at: float | None = None
        while not self._stop.is_set():
            try:
                proc = self._spawn()
            except OSError as exc:  # pragma: no cover - exe vanished
                log.error("cannot start bpftrace: %s", exc)
                self._stop.wait(backoff)
                continue
            self.proc = proc
            threading.Thread(target=self._pump_stderr, args=(proc,), daemon=True, name="cg-sensor-err").start()
            assert proc.stdout is not None
            started = time.monotonic()
            last_line = started
            for record in proc.stdout:
                line = record_line(record)
                if line is None:
                    continue
                last_line = time.monotonic()
                if died_at is not None and line.startswith("ready"):
                    self.last_gap = time.monotonic() - died_at
                    self.restarts += 1
                    died_at = None
                    if self.on_restart is not None:
                        self.on_restart(self.last_gap, self.restarts)
                if line.startswith("ready"):
                    self._ready.set()
                    backoff = 0.5
                self.on_line(line)
            rc = proc.wait()
            if self._stop.is_set():
                break
            if not self._ready.is_set():
                early_failures += 1
                if early_failures >= 3:
                    self._failed.set()
                    break
            if died_at is None:
                # the blind window opens with the last line the dead child printed, not when its exit was noticed
                # (a killed bpftrace's pipe closes late; the gap would be understated)
                died_at = last_line
            if self._expected_exit:
                self._expected_exit = False
                continue
            log.warning("bpftrace exited with code %s after %.1f s; restarting in %.1f s",
                        rc, time.monotonic() - started, backoff)
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self.max_backoff)
