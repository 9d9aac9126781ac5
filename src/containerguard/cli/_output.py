"""Where a command's report goes: a file (``-o``) or stdout. One place for the write and its error."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from containerguard.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import Console
    from rich.progress import Progress

    from containerguard.model import ImageMeta
    from containerguard.report.terminal import Column
    from containerguard.scanner.inventory import ProgressEvent


def emit(text: str, output: Path | None) -> None:
    """Write ``text`` (newline-terminated) to ``output``, or to stdout when it is None."""
    if not text.endswith("\n"):
        text += "\n"
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        if output.exists() and not output.is_file():  # /dev/stdout, a FIFO: written in place
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text)
            return
        _replace(output, text.encode("utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None


def _replace(output: Path, data: bytes) -> None:
    """Write ``data`` to a new file beside ``output`` and rename it over ``output``: a failed write (disk
    full) leaves the previous report whole and no partial one; the mode follows the umask (or the file
    replaced)."""
    import os
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            mode = output.stat().st_mode & 0o7777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, output)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def check_output(output: Path | None, target: str) -> None:
    """``-o`` must not name the file being scanned (``docker-archive:``/``oci-archive:``/``sbom:``): the
    report would replace the image or SBOM it was made from. Checked before the scan starts."""
    if output is None or not output.exists():
        return
    scheme, _, rest = target.partition(":")
    if scheme == "sbom":
        source = rest
    elif scheme in ("docker-archive", "oci-archive"):
        from containerguard.artifact import parse_target

        source = parse_target(target).ref
    else:
        return
    import os

    with contextlib.suppress(OSError):
        if os.path.samefile(source, output):
            raise UsageError(f"-o {output} is the scanned input {target}: refusing to overwrite it")


def check_platform(requested: str | None, image: ImageMeta | None) -> None:
    """An explicit ``--platform`` that the scanned single-platform image does not match is an error (an
    index already refuses it when choosing): scanning another architecture than asked is never silent."""
    if requested is None or image is None or not image.architecture:
        return
    from containerguard.artifact.manifest import Platform

    want = Platform.parse(requested)
    have = Platform(image.os or want.os, image.architecture)
    if not want.matches(have):
        raise UsageError(f"--platform {want}: the image is {have}; no image matches the platform asked for")


@contextlib.contextmanager
def deadline(seconds: float | None, what: str) -> Iterator[None]:
    """Stop the work after ``seconds`` (the main thread, via SIGALRM) with a one-line error."""
    import signal

    if not seconds or seconds <= 0 or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise UsageError(f"{what}: timed out after {seconds:g} s (--timeout)")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class PlainProgress:
    """Progress for logs (CI): plain lines on stderr instead of a bar that a non-terminal cannot show.
    Work shorter than ``interval`` seconds prints nothing; after that each kind of line comes at most once
    per interval (starts and ends of a step always). ``interval`` defaults to $CONTAINERGUARD_PROGRESS_SECONDS
    or 5."""

    def __init__(self, prefix: str, interval: float | None = None) -> None:
        import os
        import time

        self._clock = time.monotonic
        self.prefix = prefix
        env = os.environ.get("CONTAINERGUARD_PROGRESS_SECONDS", "")
        self.interval = interval if interval is not None else float(env) if env.replace(".", "", 1).isdigit() else 5.0
        self._start = self._clock()
        self._last: dict[str, float] = {}

    def say(self, key: str, text: str, *, force: bool = False) -> None:
        now = self._clock()
        if now - self._start < self.interval:
            return  # quick work: a clean log
        last = self._last.get(key)
        if force or last is None or now - last >= self.interval:
            self._last[key] = now
            print(f"{self.prefix}: {text}", file=sys.stderr, flush=True)


def plain_layer_hook(prefix: str) -> Callable[[ProgressEvent], None]:
    """The inventory ProgressEvent hook as plain progress lines (see PlainProgress)."""
    out = PlainProgress(prefix)

    def hook(ev: ProgressEvent) -> None:
        n = f"{ev.layer + 1}/{ev.layers}"
        if ev.phase == "export":
            out.say("export", f"exporting from Docker: {ev.bytes / 1e6:.0f} MB")
        elif ev.phase == "layer-start":
            out.say("layer", f"layer {n}: reading", force=True)
        elif ev.phase == "read":
            out.say("layer", f"layer {n}: {ev.bytes / 1e6:.0f} MB read")
        elif ev.phase == "layer-cached":
            out.say("layer", f"layer {n}: from the cache", force=True)
        elif ev.phase == "layer-done":
            out.say("layer", f"layer {n}: done", force=True)
        elif ev.phase == "done":
            out.say("done", f"{ev.layers} layer(s) done", force=True)

    return hook


def layer_progress(console: Console, *, disable: bool = False) -> tuple[Progress, Callable[[ProgressEvent], None]]:
    """A Rich progress bar (on ``console``, stderr) and the hook that feeds it inventory ProgressEvents:
    Docker export, then each layer read (MB so far) or taken from the cache."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[count]}"),
                   TextColumn("{task.fields[mb]}"), TimeElapsedColumn(), console=console, transient=True,
                   disable=disable)
    task = bar.add_task("opening image", total=None, mb="", count="")

    def hook(ev: ProgressEvent) -> None:
        if ev.phase == "open":
            bar.update(task, description="opening image")
        elif ev.phase == "export":
            bar.update(task, description="exporting from Docker", mb=f"{ev.bytes / 1e6:.0f} MB")
        elif ev.phase in ("layer-start", "read"):
            bar.update(task, total=ev.layers, completed=ev.layer, description=f"reading layer {ev.layer + 1}",
                       mb=f"{ev.bytes / 1e6:.0f} MB" if ev.bytes else "", count=f"{ev.layer}/{ev.layers} layers")
        elif ev.phase in ("layer-done", "layer-cached"):
            bar.update(task, total=ev.layers, completed=ev.layer + 1, count=f"{ev.layer + 1}/{ev.layers} layers",
                       description="cached layer" if ev.phase == "layer-cached" else "analysed layer", mb="")
        elif ev.phase == "done":
            bar.update(task, total=max(ev.layers, 1), completed=max(ev.layers, 1), description="done")

    return bar, hook


#: the longest item name shown beside a bar (the end of a path: the file name stays visible)
_ITEM_WIDTH = 48


@contextlib.contextmanager
def work_progress(prefix: str, unit: str, *, quiet: bool) -> Iterator[Callable[[int, int, str], None]]:
    """Progress of work counted in ``unit`` (files): a Rich bar when stderr is a terminal, plain periodic
    lines (:class:`PlainProgress`) when it is not (CI logs), nothing with ``quiet``. Yields the hook,
    called as ``hook(done, total, item)``; item names are shown literally (no markup, no control codes)."""
    if quiet:
        yield lambda done, total, item: None
        return
    from containerguard.report.terminal import clean

    def short(item: str) -> str:
        item = clean(item, oneline=True)
        return item if len(item) <= _ITEM_WIDTH else "…" + item[-(_ITEM_WIDTH - 1):]

    if not sys.stderr.isatty():
        plain = PlainProgress(prefix)

        def line(done: int, total: int, item: str) -> None:
            if done >= total:
                plain.say("done", f"{done}/{total} {unit} done", force=True)
            else:
                plain.say("item", f"{done}/{total} {unit}, at {short(item)}")

        yield line
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from containerguard.report.terminal import console

    bar = Progress(TextColumn(prefix, markup=False), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.fields[item]}", markup=False), console=console(stderr=True), transient=True)
    task = bar.add_task(prefix, total=None, item="")
    with bar:
        yield lambda done, total, item: bar.update(task, completed=done, total=total, item=short(item))


def print_table(title: str, columns: Sequence[Column | str], rows: Iterable[Sequence[object]]) -> None:
    """A table on stdout that fits the terminal (``COLUMNS``), every value shown literally, one line per row
    (:func:`containerguard.report.terminal.render_table`): the one way every command draws a table."""
    from containerguard.report.terminal import render_table

    sys.stdout.write(render_table(title, columns, rows))
    sys.stdout.flush()
