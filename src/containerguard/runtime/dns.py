"""Domain names of socket addresses (``fd.sip.name``, ``fd.cip.name``, ``fd.rip.name``, ``fd.lip.name``), as Falco
gives them.

Falco does no reverse lookups. Its DNS manager resolves the domain names that the loaded rules compare these fields
with (``fd.sip.name = "kubernetes.default.svc.cluster.local"``, ``fd.sip.name in (miner_domains)``), keeps each name's
addresses, refreshes them in the background (every 10 s at first, the interval doubling up to 320 s while the
answer does not change) and then:

- ``=`` / ``in`` match when the connection's address is one of the (any of the) named domains' addresses, ``!=``
  when it is none of them (on IP sockets only);
- the field's value (outputs, other operators) is the first watched name whose addresses hold the address, and
  ``<NA>`` when none does.

:class:`DomainNames` does the same for the agent. Differences, both documented in docs/fields.md:

- the names are resolved when the rules load (and after each reload), not at the first event that compares them,
  so no event waits for a DNS answer; names of disabled rules are never resolved (no DNS traffic for a miner-pool
  list the user left switched off, as upstream's rule warns);
- for an event in a container, the container's own host entries (``docker run --add-host``, compose
  ``extra_hosts``: the Engine's ``HostConfig.ExtraHosts``, set by whoever started the container and not changeable
  from inside it) count as addresses of the names too, so a name the container resolves through its own hosts
  file matches as the container saw it.

Resolution modes (``agent --resolve-names``): ``dns`` (default, Falco's behaviour: the system resolver, i.e.
/etc/hosts then DNS per nsswitch), ``hosts`` (the host's /etc/hosts and the containers' host entries only: no
query leaves the host) and ``off`` (the fields are not supplied; rules that need them are disabled).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from containerguard.runtime.rules.fields import DNS_NAME_FIELDS as NAME_FIELDS

log = logging.getLogger(__name__)

MODES = ("dns", "hosts", "off")
BASE_REFRESH = 10.0
MAX_REFRESH = 320.0

Resolver = Callable[[str], frozenset[str] | None]


def canonical_ip(text: str) -> str | None:
    """An address in the form the sensor prints it (``::ffff:10.0.0.1`` -> ``10.0.0.1``), None if not an address."""
    try:
        ip = ipaddress.ip_address(text.strip().strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return ip.compressed


def parse_hosts(text: str) -> dict[str, frozenset[str]]:
    """A hosts file (``ADDRESS NAME [ALIAS...]`` lines, ``#`` comments) -> lower-cased name -> addresses."""
    out: dict[str, set[str]] = {}
    for line in text.splitlines():
        parts = line.split("#", 1)[0].split()
        if len(parts) < 2:
            continue
        ip = canonical_ip(parts[0])
        if ip is None:
            continue
        for name in parts[1:]:
            out.setdefault(name.lower().rstrip("."), set()).add(ip)
    return {k: frozenset(v) for k, v in out.items()}


def parse_extra_hosts(entries: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """Docker's ``HostConfig.ExtraHosts`` (``name:address``, or ``name=address`` from newer clients) -> (lower-cased
    name, canonical address) pairs; malformed entries are skipped."""
    out = []
    for e in entries:
        if not isinstance(e, str):
            continue
        sep = "=" if "=" in e else ":"
        name, _, addr = e.partition(sep)
        ip = canonical_ip(addr)
        if name and ip is not None:
            out.append((name.strip().lower().rstrip("."), ip))
    return tuple(out)


def system_resolver(name: str) -> frozenset[str] | None:
    """The system resolver's addresses for ``name`` (empty: the name does not exist; None: a transient failure, keep
    what was known)."""
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
            return frozenset()
        return None
    except (OSError, UnicodeError):
        return None
    return frozenset(ip for info in infos if (ip := canonical_ip(str(info[4][0]))) is not None)


def hosts_file_resolver(path: Path = Path("/etc/hosts")) -> Resolver:
    """A resolver reading only ``path`` (re-read at each refresh)."""
    def resolve(name: str) -> frozenset[str] | None:
        try:
            table = parse_hosts(path.read_text(errors="replace"))
        except OSError:
            return frozenset()
        return table.get(name.lower().rstrip("."), frozenset())
    return resolve


class DomainNames:
    """The watched domain names, their addresses, and the reverse map the enrich stage reads per event."""

    def __init__(self, mode: str = "dns", resolver: Resolver | None = None, *, base_refresh: float = BASE_REFRESH,
                 max_refresh: float = MAX_REFRESH) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown name resolution mode {mode!r} (one of {', '.join(MODES)})")
        self.mode = mode
        self.resolver: Resolver = resolver or (system_resolver if mode == "dns" else hosts_file_resolver())
        self.base_refresh = base_refresh
        self.max_refresh = max_refresh
        self._names: tuple[str, ...] = ()  # as written in the rules, in first-seen order
        self._lower: dict[str, str] = {}  # lower-cased -> as written
        self._addrs: dict[str, frozenset[str]] = {}
        self._by_ip: dict[str, tuple[str, ...]] = {}
        self._due: dict[str, tuple[float, float]] = {}  # name -> (next refresh at, interval)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.resolutions = 0
        self.failures = 0

    @property
    def enabled(self) -> bool:
        """Whether the name fields are supplied at all."""
        return self.mode != "off"

    @property
    def names(self) -> tuple[str, ...]:
        """The watched names."""
        return self._names

    def watch(self, names: Iterable[str], wait: float = 0.0) -> None:
        """Watch exactly these names (those the enabled rules compare with); new ones are resolved now, in the
        background, waiting up to ``wait`` seconds for their first answers."""
        if not self.enabled:
            return
        wanted = tuple(dict.fromkeys(n for n in names if n))
        with self._lock:
            self._names = wanted
            self._lower = {n.lower().rstrip("."): n for n in wanted}
            self._addrs = {n: a for n, a in self._addrs.items() if n in self._lower.values()}
            now = time.monotonic()
            self._due = {n: self._due.get(n, (now, self.base_refresh)) for n in wanted}
            self._rebuild()
        if wanted:
            self._ensure_thread()
            self._wake.set()
            deadline = time.monotonic() + wait
            while wait > 0 and time.monotonic() < deadline and any(n not in self._addrs for n in wanted):
                time.sleep(0.02)

    def names_of(self, ip: object, extra_hosts: tuple[tuple[str, str], ...] = ()) -> tuple[str, ...]:
        """The watched names whose addresses hold ``ip`` (first-watched first), counting a container's own host
        entries (:func:`parse_extra_hosts`)."""
        if not isinstance(ip, str) or not self._names:
            return ()
        hit = self._by_ip.get(ip, ())
        if extra_hosts:
            mine = tuple(self._lower[n] for n, a in extra_hosts if a == ip and n in self._lower)
            if mine:
                hit = tuple(dict.fromkeys((*hit, *mine)))
        return hit

    def fill(self, f: dict[str, object], extra_hosts: tuple[tuple[str, str], ...] = ()) -> None:
        """Set the name fields of an event from its address fields: ``fd.sip.name`` is the first name (None when no
        watched name has the address) and ``fd.sip.names`` all of them (what ``=``/``in``/``!=`` compare)."""
        for name_field, ip_field in NAME_FIELDS.items():
            ip = f.get(ip_field)
            if ip is None:
                continue
            hits = self.names_of(ip, extra_hosts)
            f[name_field] = hits[0] if hits else None
            f[name_field + "s"] = list(hits)

    def stop(self) -> None:
        """Stop the refresh thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)

    # ------------------------------------------------------------------ internals

    def _rebuild(self) -> None:
        by_ip: dict[str, list[str]] = {}
        for n in self._names:
            for ip in self._addrs.get(n, ()):
                by_ip.setdefault(ip, []).append(n)
        self._by_ip = {ip: tuple(ns) for ip, ns in by_ip.items()}

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="cg-dns", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            with self._lock:
                due = [n for n, (at, _iv) in self._due.items() if at <= now]
            for n in due:
                if self._stop.is_set():
                    return
                self._refresh(n)
            with self._lock:
                nxt = min((at for at, _iv in self._due.values()), default=now + 3600.0)
            self._wake.wait(max(0.05, nxt - time.monotonic()))
            self._wake.clear()

    def _refresh(self, name: str) -> None:
        try:
            addrs = self.resolver(name)
        except Exception:  # a resolver must never stop the refresh thread
            log.debug("resolving %s failed", name, exc_info=True)
            addrs = None
        self.resolutions += 1
        with self._lock:
            if name not in self._due:
                return
            _at, interval = self._due[name]
            old = self._addrs.get(name)
            if addrs is None:
                self.failures += 1
                addrs = old if old is not None else frozenset()
                interval = self.base_refresh
            elif old is None or addrs != old:
                interval = self.base_refresh
            else:
                interval = min(interval * 2, self.max_refresh)
            self._addrs[name] = addrs
            self._due[name] = (time.monotonic() + interval, interval)
            if addrs != old:
                self._rebuild()
                log.debug("%s -> %s", name, ", ".join(sorted(addrs)) or "no address")


def domain_constants(nodes: Iterable[object], fields: Mapping[str, str] = NAME_FIELDS) -> list[str]:
    """The domain names compared with the name fields by ``=``, ``!=`` or ``in`` in condition trees ``nodes``."""
    from containerguard.runtime.rules.ast import And, Cmp, Not, Or

    out: list[str] = []

    def walk(n: object) -> None:
        if isinstance(n, Cmp):
            if n.lhs.name in fields and n.op in ("=", "!=", "in") and not n.lhs.xforms:
                vals = n.rhs if isinstance(n.rhs, tuple) else (n.rhs,) if isinstance(n.rhs, str) else ()
                out.extend(v.strip() for v in vals if isinstance(v, str) and v.strip())
        elif isinstance(n, Not):
            walk(n.item)
        elif isinstance(n, And | Or):
            for it in n.items:
                walk(it)

    for node in nodes:
        walk(node)
    return list(dict.fromkeys(out))
