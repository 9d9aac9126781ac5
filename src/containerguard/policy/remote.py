"""The policy set held by the central server, for the enforcement points (``--policy-from-server``).

    GET /api/v1/policies/bundle (If-None-Match: the revision held) -> files -> a new directory in the cache
    -> LivePolicies reloads from it -> the cache's ``current`` link moves to it

* Fetched at start and then every ``interval`` seconds by a background thread (a 304 costs nothing). The
  decision path never waits for it: it reads whichever set is in force.
* The last good set is kept on disk (``cache_dir``): a restart while the server is down starts with it.
  A set that does not load (it cannot happen with a set the server validated, unless versions differ) is
  refused, logged once, and the previous one stays in force; it is not downloaded again (If-None-Match names
  it too) until the server's set changes.
* With neither the server nor a cached set at start, the enforcement point starts with its local policies
  (the default set and any ``--policy``) and says so; the next successful fetch brings the server's set in.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

import httpx

from containerguard.errors import UsageError
from containerguard.policy.loader import LivePolicies
from containerguard.tls import client_verify

log = logging.getLogger("containerguard.policy.remote")


def write_files(files: Iterable[tuple[str, str]], root: Path) -> None:
    """Write a policy set's (relative name, text) pairs under ``root``; a name that is absolute or climbs out
    of ``root`` is refused (ValueError) before anything is written."""
    named = [(PurePosixPath(name), text) for name, text in files]
    for name, _ in named:
        if not name.parts or name.is_absolute() or ".." in name.parts:
            raise ValueError(f"refusing policy file name {str(name)[:100]!r}")
    for name, text in named:
        dest = root / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text, encoding="utf-8")


class ServerPolicies:
    """Keeps ``live`` (a LivePolicies whose last path is the server's set) in step with the server."""

    def __init__(self, server: str, token: str, cache_dir: Path | str, live: LivePolicies, *,
                 interval: float = 60.0, timeout: float = 10.0) -> None:
        if not server.startswith(("http://", "https://")):
            raise UsageError(f"--server {server!r}: expected http(s)://HOST:PORT")
        if not token:
            raise UsageError("--policy-from-server needs --token (env CONTAINERGUARD_TOKEN)")
        self.url = server.rstrip("/") + "/api/v1/policies/bundle"
        self.cache = Path(cache_dir)
        self.live = live
        self.interval = interval
        self.revision = ""
        self.last_error = ""
        self.fetches = 0
        self._refused = ""  # the last revision that did not load here
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            self.cache.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create the policy cache {self.cache}: {exc.strerror}") from exc
        self._http = httpx.Client(timeout=timeout, verify=client_verify(), headers={"Authorization": f"Bearer {token}"})
        self._local = tuple(live.paths)
        cached = self.cache / "current"
        if (cached / ".revision").is_file():
            self._use(cached, (cached / ".revision").read_text().strip(), initial=True)

    @property
    def directory(self) -> Path:
        return self.cache / "current"

    def start(self) -> None:
        """Fetch once now (not fatal when the server is down), then keep fetching in the background."""
        self.refresh()
        self._thread = threading.Thread(target=self._loop, name="cg-policy-fetch", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.refresh()

    def refresh(self) -> bool:
        """One fetch; True when a new set came into force."""
        # the revision in force and the last one refused: neither is downloaded (and loaded) again
        held = [f'"{r}"' for r in (self.revision, self._refused) if r]
        headers = {"If-None-Match": ", ".join(held)} if held else {}
        try:
            resp = self._http.get(self.url, headers=headers)
        except httpx.HTTPError as exc:
            return self._failed(f"server unreachable ({type(exc).__name__}); keeping the policy set "
                                f"{self.revision[:12] or '(local only)'}")
        if resp.status_code == 304:
            self.last_error = ""
            return False
        if resp.status_code != 200:
            return self._failed(f"server answered {resp.status_code} to the policy fetch: {resp.text[:200]}")
        try:
            body = resp.json()
            rev, files = str(body["revision"]), list(body["files"])
        except (ValueError, KeyError, TypeError):
            return self._failed("the server's policy bundle is not what this version expects")
        self.fetches += 1
        if rev in (self.revision, self._refused):
            self.last_error = ""
            return False
        return self._install(rev, files)

    def _failed(self, message: str) -> bool:
        if message != self.last_error:
            log.warning("%s", message)
        self.last_error = message
        return False

    def _install(self, rev: str, files: list[Any]) -> bool:
        staging = self.cache / f".new-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            staging.mkdir()
            write_files(((str(f["name"]), str(f["text"])) for f in files), staging)
            (staging / ".revision").write_text(rev)
        except (OSError, KeyError, TypeError, ValueError) as exc:
            shutil.rmtree(staging, ignore_errors=True)
            return self._failed(f"cannot write the server's policy set to {self.cache}: {exc}")
        if not self._use(staging, rev):
            shutil.rmtree(staging, ignore_errors=True)
            self._refused = rev
            return False
        old = self.cache / ".old"
        shutil.rmtree(old, ignore_errors=True)
        if self.directory.exists():
            os.replace(self.directory, old)
        os.replace(staging, self.directory)
        shutil.rmtree(old, ignore_errors=True)
        # the same files at their final place; loaded again so that what names a file (an expired exclusion's
        # warning, shown to kubectl users and reported) names this one, not the staging directory just renamed
        self.live.paths = (*self._local, self.directory)
        if self.live.reload():  # cannot fail unless the disk does: the set in force stays the one just checked
            log.warning("reloading the server's policy set from %s failed: %s", self.directory, self.live.last_error)
        return True

    def _use(self, directory: Path, rev: str, *, initial: bool = False) -> bool:
        previous = self.live.paths
        self.live.paths = (*self._local, directory)
        err = self.live.reload()
        if err:
            self.live.paths = previous
            self._failed(f"the server's policy set {rev[:12]} does not load, keeping the previous one: {err}")
            return False
        self.revision = rev
        self.last_error = ""
        log.info("%s the server's policy set %s: %d policies", "starting with the cached copy of" if initial
                 else "now enforcing", rev[:12], len(self.live.current.policies))
        return True

    def status(self) -> dict[str, Any]:
        # refused: the server's set that did not load here (still the server's set while no newer one came)
        return {"revision": self.revision, "last_error": self.last_error, "fetches": self.fetches,
                "refused": self._refused}

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._http.close()


def default_cache_dir(kind: str) -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("containerguard")) / f"server-policies-{kind}"
