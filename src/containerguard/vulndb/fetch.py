"""HTTP downloads for ``db update``: conditional requests (ETag / Last-Modified), streamed to disk with
the content's sha256 computed on the way, and source discovery (ecosystem and branch listings)."""

from __future__ import annotations

import hashlib
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from containerguard.ecosystems import ECOSYSTEMS
from containerguard.vulndb.sources.base import SourceSpec

OSV_BASE = "https://osv-vulnerabilities.storage.googleapis.com"
ALPINE_BASE = "https://secdb.alpinelinux.org"
KEV_URL = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
EPSS_URL = "https://epss.cyentia.com/epss_scores-current.csv.gz"

#: the OSV ecosystems always asked for; any other one the base lists is added
OSV_ECOSYSTEMS = (*(e.osv for e in ECOSYSTEMS if e.fetched), "Debian")
ALPINE_PROBE = (*tuple(f"v3.{n}" for n in range(2, 23)), "edge")
_BRANCH = re.compile(r"^(v\d+\.\d+|edge)$")
_HREF = re.compile(r'href="([^"?#]+?)/?"')

ByteHook = Callable[[str, int, int | None], None]  # (source name, bytes just read, total or None)


@dataclass(frozen=True, slots=True)
class Fetched:
    status: str  # ok | not-modified | absent | error
    etag: str = ""
    last_modified: str = ""
    sha256: str = ""
    error: str = ""


def bases(mirror: str | None, overrides: dict[str, str]) -> dict[str, str]:
    """The four base URLs: defaults, then ``--mirror`` (the shared/vulndata layout), then ``--source`` pairs."""
    out = {"osv": OSV_BASE, "alpine": ALPINE_BASE, "kev": KEV_URL, "epss": EPSS_URL}
    if mirror:
        m = mirror.rstrip("/")
        out = {"osv": f"{m}/osv", "alpine": f"{m}/alpine", "kev": f"{m}/kev/known_exploited_vulnerabilities.json",
               "epss": f"{m}/epss/epss_scores-current.csv.gz"}
    for k, v in overrides.items():
        if k not in out:
            from containerguard.errors import UsageError

            raise UsageError(f"unknown source {k!r} (expected one of: {', '.join(out)})")
        out[k] = v.rstrip("/") if k in ("osv", "alpine") else v
    return out


def _listing(client: httpx.Client, url: str) -> list[str]:
    """Sub-directory names from an HTML index page (the shape http.server and most mirrors serve)."""
    try:
        r = client.get(url + "/")
    except httpx.HTTPError:
        return []
    if r.status_code != 200 or "html" not in r.headers.get("content-type", ""):
        return []
    names = []
    for h in _HREF.findall(r.text):
        n = urllib.parse.unquote(h.rstrip("/").rsplit("/", 1)[-1])
        if n and not n.startswith((".", "?")) and n not in names:
            names.append(n)
    return names


def discover(client: httpx.Client, b: dict[str, str], only: tuple[str, ...] | None = None) -> list[SourceSpec]:
    """Every file to fetch. ``only`` restricts the OSV ecosystems and drops the others (tests, benches)."""
    ecos: list[str] = list(OSV_ECOSYSTEMS)
    try:
        r = client.get(b["osv"] + "/ecosystems.txt")
        if r.status_code == 200 and "html" not in r.headers.get("content-type", ""):
            ecos += [line.strip() for line in r.text.splitlines() if line.strip()]
    except httpx.HTTPError:
        pass
    ecos += _listing(client, b["osv"])
    if only is not None:
        ecos = [e for e in ecos if e in only]
    seen: set[str] = set()
    specs: list[SourceSpec] = []
    for e in ecos:
        if e in seen:
            continue
        seen.add(e)
        specs.append(SourceSpec(f"osv/{e}", "osv", f"{b['osv']}/{urllib.parse.quote(e)}/all.zip", e, optional=True))
    if only is None or "Alpine" in only:
        branches = [n for n in _listing(client, b["alpine"]) if _BRANCH.match(n)] or list(ALPINE_PROBE)
        for br in branches:
            for repo in ("main", "community"):
                specs.append(SourceSpec(f"alpine/{br}/{repo}", "alpine", f"{b['alpine']}/{br}/{repo}.json", br, optional=True))
    if only is None or "kev" in only:
        specs.append(SourceSpec("kev", "kev", b["kev"]))
    if only is None or "epss" in only:
        specs.append(SourceSpec("epss", "epss", b["epss"]))
    return specs


def fetch(client: httpx.Client, spec: SourceSpec, dest: Path, etag: str, last_modified: str,
          hook: ByteHook | None = None) -> Fetched:
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    h = hashlib.sha256()
    try:
        with client.stream("GET", spec.url, headers=headers) as r:
            if r.status_code == 304:
                return Fetched("not-modified", etag, last_modified)
            if r.status_code == 404 and spec.optional:
                return Fetched("absent")
            if r.status_code != 200:
                return Fetched("error", error=f"HTTP {r.status_code} from {spec.url}")
            total = int(r.headers["content-length"]) if r.headers.get("content-length", "").isdigit() else None
            with open(dest, "wb") as out:
                for chunk in r.iter_bytes(1 << 20):
                    h.update(chunk)
                    out.write(chunk)
                    if hook:
                        hook(spec.name, len(chunk), total)
            return Fetched("ok", r.headers.get("etag", ""), r.headers.get("last-modified", ""), h.hexdigest())
    except httpx.HTTPError as exc:
        return Fetched("error", error=f"{type(exc).__name__}: {exc} ({spec.url})")
    except OSError as exc:
        return Fetched("error", error=f"cannot write download: {exc}")
