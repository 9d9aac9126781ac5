"""The baseline stage: a detector beside the rules that learns each workload and alerts on what is new.

Workloads: containers of the same image (id) whose names differ only by a trailing number or id share one
baseline (``shop-web-1`` and ``shop-web-2`` are ``shop-web-*``); pods are keyed by namespace and container
name when the Kubernetes labels are there. A new workload of a known image starts from that image's
baseline and mode.

Modes: ``learn`` (entries are added; after ``quiet_s`` seconds without a new entry the workload moves to
``monitor`` by itself, unless locked), ``monitor`` (each new behaviour is one alert, then remembered as a
deviation so it does not repeat), ``protect`` (as monitor, and the alert asks for ``kill_process``).
Zero-drift: an executable that is not in the image layers (written or made executable after start; where the
image's layers are known, absent from them, replaced in place or with changed mode bits; where they are not, in
the container's upper layer) is an alert in every mode, without learning.

Alerts are ordinary alerts (:func:`containerguard.runtime.rules.alerts.build_alert`): outputs, responses and
the server see them like rule alerts.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Mapping
from typing import Any

from containerguard.errors import BaselineError
from containerguard.model import Alert, Event, Priority
from containerguard.runtime.baseline.profile import (
    KINDS,
    Profile,
    covered,
    entries_of,
    legacy_process_entry,
    nearest,
    storable,
)
from containerguard.runtime.baseline.store import BaselineStore
from containerguard.runtime.rules.alerts import build_alert
from containerguard.runtime.rules.compiler import Splice

log = logging.getLogger(__name__)

#: the event types a baseline learns from (the sensor traces them when baselines are on)
BASELINE_EVENT_TYPES = frozenset({"execve", "execveat", "open", "openat", "openat2", "creat", "connect", "accept",
                                  "accept4", "bind"})
_EXEC = frozenset({"execve", "execveat"})
_OPENS = frozenset({"open", "openat", "openat2", "creat"})
_ACCEPTS = frozenset({"accept", "accept4"})
_INET = frozenset({"4", "6"})
_EINPROGRESS = -115
#: entries learned per workload and kind: a workload that keeps doing new things (a directory per request) stops
#: growing its baseline here, so it stays small and quick to save (an import may hold more: yamlio.MAX_ENTRIES)
MAX_LEARNED = 10_000
_CACHE_MAX = 8192  # raw values remembered per workload and kind (cleared when full: a bound, not an LRU)
_NONE: list[Alert] = []  # the common answer (never appended to: callers extend copies)
_KIND_WORD = {"process": "process", "file": "write to directory", "network": "network peer", "syscall": "syscall"}
_RULE_IDS = {"process": "CG-B001", "file": "CG-B002", "network": "CG-B003", "syscall": "CG-B004"}
DRIFT_RULE = ("Drift: executable not in the image", "CG-B005")


_HEXDIGITS = frozenset("0123456789abcdef")


def name_pattern(name: str) -> str:
    """A container name with its trailing instance numbers or ids generalised (``web-1`` -> ``web-*``,
    ``job_3f2a9c0e-2`` -> ``job-*``): trailing ``-``/``_``/``.`` parts that are a number or 5+ hex digits.

    A loop over the parts, not a regular expression: ``(SEP(NUM|HEX))+$`` backtracks exponentially on a name
    such as ``a-11111-11111-...-11111z`` (seconds at 22 parts), and a container name is chosen by whoever starts
    the container."""
    stripped = name
    while True:
        i = max(stripped.rfind("-"), stripped.rfind("_"), stripped.rfind("."))
        part = stripped[i + 1:]
        if i < 0 or not part or not (part.isdecimal() or (len(part) >= 5 and _HEXDIGITS.issuperset(part))):
            break
        stripped = stripped[:i]
    return f"{stripped}-*" if stripped != name and stripped else name


#: kube-controller-manager's random and hash suffixes (k8s.io/apimachinery rand.SafeEncodeString: no vowels)
_SAFE = "[bcdfghjklmnpqrstvwxz2456789]"
_DEPLOYMENT_POD = re.compile(rf"^(?P<owner>.+)-(?P<hash>{_SAFE}{{6,10}})-{_SAFE}{{5}}$")
_CRONJOB_JOB = re.compile(r"^(?P<owner>.+)-\d{8,}$")


def k8s_owner(pod: str, pod_labels: Mapping[str, Any]) -> tuple[str, str]:
    """(kind, name) of the controller that owns pod ``pod``: from the labels the controllers put on their pods
    (``pod-template-hash``, ``controller-revision-hash``, ``statefulset.kubernetes.io/pod-name``, ``job-name``)
    or, without them, from the Deployment naming pattern ``DEPLOYMENT-RSHASH-XXXXX``; ``("Pod", pod)`` for a
    bare pod."""
    rs_hash = str(pod_labels.get("pod-template-hash") or "")
    if rs_hash and f"-{rs_hash}-" in pod:
        return "Deployment", pod[:pod.rindex(f"-{rs_hash}-")]
    job = str(pod_labels.get("batch.kubernetes.io/job-name") or pod_labels.get("job-name") or "")
    if job:
        cron = _CRONJOB_JOB.match(job)
        return ("CronJob", cron.group("owner")) if cron else ("Job", job)
    if pod_labels.get("controller-revision-hash"):
        if pod_labels.get("statefulset.kubernetes.io/pod-name") or pod_labels.get("apps.kubernetes.io/pod-index"):
            return "StatefulSet", pod.rpartition("-")[0] or pod
        return "DaemonSet", pod.rpartition("-")[0] or pod
    m = _DEPLOYMENT_POD.match(pod)
    if m:
        return "Deployment", m.group("owner")
    return "Pod", pod


def workload_of(f: Mapping[str, Any]) -> tuple[str, str, str, str] | None:
    """(key, image, image id, name pattern) of the workload an event belongs to; None outside containers.

    A pod's container (kubelet's labels) is keyed by its owner and container name,
    ``k8s:NAMESPACE/KIND/NAME/CONTAINER``, so every pod of a Deployment (across ReplicaSets, i.e. rollouts)
    shares one baseline; any other container by image and name pattern, ``IMAGE_ID/NAME-*``.
    """
    cid = f.get("container.id")
    if not cid or cid == "host" or not isinstance(cid, str):  # a list or a number in a recording is no container
        return None
    cid = _text(cid)
    image = _text(f.get("container.image")) or _text(f.get("container.image.repository"))
    image_id = _text(f.get("container.image.id")) or _text(f.get("container.image.digest")) or image
    name = _text(f.get("container.name")) or cid
    labels = f.get("container.labels")
    if isinstance(labels, Mapping) and _text(labels.get("io.kubernetes.pod.namespace")) and \
            _text(labels.get("io.kubernetes.pod.name")):
        pod_labels = f.get("k8s.pod.labels")
        kind, owner = k8s_owner(_text(labels["io.kubernetes.pod.name"]),
                                pod_labels if isinstance(pod_labels, Mapping) else {})
        pattern = (f"{_text(labels['io.kubernetes.pod.namespace'])}/{kind}/{owner}/"
                   f"{_text(labels.get('io.kubernetes.container.name')) or name_pattern(name)}")
        return f"k8s:{pattern}", image, image_id, pattern
    pattern = name_pattern(name)
    return f"{image_id}/{pattern}", image, image_id, pattern


def _text(value: Any) -> str:
    """A name from an event as text the store and YAML can hold (:func:`storable`): a value that is not text (a
    list, a number, None in a recording) is no name."""
    return storable(value) if isinstance(value, str) else ""


#: a workload's cache of raw values for one event type: a set, or for connect a peer -> ports map
_Cache = set[Any] | dict[Any, set[Any]]


class _Live:
    """A workload as the event path sees it: its profile, and caches of raw event values already found to add
    nothing to it (so a known behaviour costs one set membership, and generalising a path, a peer or an
    argument vector happens once per distinct value). Replaced whole when the profile is swapped (an edit), so
    an event sees the old profile with its caches or the new one with empty caches, never a mix."""

    __slots__ = ("drifted", "execs", "inbound", "listens", "outbound", "prof", "syscalls", "writes")

    def __init__(self, prof: Profile) -> None:
        self.prof = prof
        self.syscalls = prof.entries["syscall"]  # the profile's own set: what is learned shows here at once
        self.writes: set[Any] = set()    # fd.name of written files whose directory is covered
        self.execs: set[Any] = set()     # (exe, user, parent, args) of known processes
        #: fd.sip -> fd.sport of known connections (a port looked up in its peer's set: no tuple to build, hash
        #: and compare per event); a socket without a peer (AF_UNSPEC, a recording) has None for both
        self.outbound: dict[Any, set[Any]] = {None: {None}}
        self.inbound: set[Any] = set()   # fd.cip of known clients
        self.listens: set[Any] = set()   # fd.lport of known bound ports
        #: (exec key, invoked path) of drift execs already reported while monitoring: a drift exec never takes the
        #: fast path (protect stops every run), but while monitoring a repeat has nothing new to say
        self.drifted: set[Any] = set()

    def cache_of(self, t: str) -> _Cache | None:
        """The cache events of type ``t`` are remembered in."""
        return (self.writes if t in _OPENS else self.execs if t in _EXEC else self.outbound if t == "connect"
                else self.inbound if t in _ACCEPTS else self.listens if t == "bind" else None)

    def remember(self, t: str, f: Mapping[str, Any]) -> None:
        """Remember the raw values of an event of type ``t`` as adding nothing (mirrors the fast path). A value no
        set can hold (a list in a recorded event) is not remembered: such an event takes the slow path again."""
        if t == "connect":
            sip, port = f.get("fd.sip"), f.get("fd.sport")
            if _hashable(sip) is not None and _hashable(port) is not None:
                if len(self.outbound) >= _CACHE_MAX:
                    self.outbound.clear()
                    self.outbound[None] = {None}
                self.outbound.setdefault(sip, set()).add(port)
            return
        cache, key = ((self.writes, f.get("fd.name")) if t in _OPENS else (self.execs, _exec_key(f)) if t in _EXEC
                      else (self.inbound, f.get("fd.cip")) if t in _ACCEPTS
                      else (self.listens, f.get("fd.lport")) if t == "bind" else (None, None))
        if cache is not None and _hashable(key) is not None:
            if len(cache) >= _CACHE_MAX:
                cache.clear()
            cache.add(key)


#: the host's events (and those without a container): the baseline has nothing to say about them
_OUTSIDE = _Live(Profile(key=""))
#: the fast path's mark of the host (and of events without a container id): nothing to check. An empty map, so
#: the membership tests of every type (``in``, and connect's ``.get``) fail on it before the mark is tested
_HOST: dict[Any, Any] = {}
_FAST_MAX = 65536  # containers remembered per event type by the fast path (cleared when full)


def _copy(prof: Profile) -> Profile:
    return Profile.from_doc(prof.to_doc(), prof.version)


def _iso(ns: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).isoformat()


def is_drift(f: Mapping[str, Any]) -> bool:
    """Whether an exec runs something that is not the image's: written since the container started (seen by the
    agent), or, where the image's layers are known, not in them (or replaced, or its mode changed); where they are
    not known, in the container's upper layer."""
    d = f.get("proc.exe_drift")
    return bool(f.get("proc.exe_written") or (d if d is not None else f.get("proc.is_exe_upper_layer")))


def _hashable(key: Any) -> Any:
    """``key``, or None when no set can hold it (a list or a dict where a recorded event should have text)."""
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _exec_key(f: Mapping[str, Any]) -> tuple[Any, ...]:
    # exactly the inputs of profile.process_entry, with its fallbacks (the executables as resolved: a program
    # started by another path to the same file is the same process; legacy_process_entry only bridges baselines
    # learned before, and the entry it finds is learned in the resolved form)
    return (f.get("proc.exe_resolved") or f.get("proc.exepath") or f.get("proc.exe"),
            f.get("user.name") or f.get("user.uid"),
            f.get("proc.pexe_resolved") or f.get("proc.pexepath") or f.get("proc.pname"), f.get("proc.args"))


class BaselineDetector:
    """Learns and checks workload baselines; persists them in a :class:`BaselineStore`."""

    event_types = BASELINE_EVENT_TYPES

    def __init__(self, store: BaselineStore, *, quiet_s: float = 3600.0, protect_action: str = "kill_process",
                 clock: Any = time.time_ns) -> None:
        self.store = store
        self.quiet_ns = int(quiet_s * 1e9)
        self.protect_action = protect_action
        self.clock = clock
        self.profiles: dict[str, Profile] = {p.key: p for p in store.load_all()}
        #: workloads whose stored row cannot be read (damaged by hand): logged, never overwritten by a save, reloaded
        #: once an import or another writer replaces the row
        self._unreadable: set[str] = set(store.unreadable)
        for why in store.unreadable.values():
            log.warning("baseline: %s; it is left as it is (not learned over) until replaced", why)
        self._saved: dict[str, int] = {k: p.version for k, p in self.profiles.items()}
        #: what the store held at ``_saved[key]`` as far as this agent knows: what it learned since is the difference,
        #: merged onto a baseline another writer saved meanwhile (flush) instead of being dropped
        self._base: dict[str, Profile] = {k: _copy(p) for k, p in self.profiles.items()}
        self._dirty: set[str] = set()
        self._live: dict[str, _Live] = {}
        self._by_cid: dict[str, _Live] = {}  # container id -> its workload (containers seen so far)
        #: the fast path's table per event type: container id -> the cache of its workload for the type, present
        #: only once the workload knows the syscall (so a hit means "known syscall"); _HOST for the host
        self._fast: dict[str, dict[Any, _Cache]] = {t: {} for t in BASELINE_EVENT_TYPES}
        self._lock = threading.RLock()
        self.alerts = 0
        self.promotions = 0
        self._full: set[str] = set()  # workloads told about reaching MAX_LEARNED
        #: workload -> deviations reported beyond the MAX_LEARNED its profile saves (see _reported)
        self._overflow: dict[str, set[str]] = {}

    # ------------------------------------------------------------------ the stage

    def detect(self, event: Event) -> list[Alert]:
        """Learn from or check one event; returns the deviation alerts (usually none)."""
        cid = event.fields.get("container.id")
        # a container id that is not text (None, or a list or a mapping in a recorded event) is no container
        return self._check(self._by_cid.get(cid) if isinstance(cid, str) else _OUTSIDE, event)

    def fast_path(self, event_type: str, code: Splice) -> str | None:
        """The steady state, as code the evaluator fuses into the rules' code for ``event_type``: false when a
        known workload does what it is known to do (one subscript finds the container's cache for the type,
        present only once the workload knows the syscall, then one set membership on the event's raw values: no
        generalisation, no lock, no call), or for the host's events. Everything else (a new container, a new
        syscall, new behaviour, drift) is true, or raises (an unknown container, a field the sensor always sets
        missing from a recorded event), and goes to :meth:`detect`.
        """
        table = self._fast.get(event_type)
        c = code.local()
        known = self._known(event_type, code, f"({c} := {code.obj(table)}[{code.item('container.id')}])")
        if table is None or known is None:
            return None
        # the host's mark (an empty map: nothing is in it) is tested after the membership, which containers pass
        member, rest = known
        check = f"not ({member} or {c} is {code.obj(_HOST)}{f' or {rest}' if rest else ''})"
        if event_type in _OPENS:  # most opens read: no behaviour (see _check), decided before the look-up
            i = code.item
            return f"({i('evt.is_open_write')} or {i('evt.is_open_create')}) and {check}"
        return check

    @staticmethod
    def _known(t: str, code: Splice, c: str) -> tuple[str, str | None] | None:
        """The tests that an event of type ``t`` adds nothing to a workload whose cache for ``t`` is ``c`` (an
        expression evaluated once, in the first): (its raw values are in the cache, the other ways it adds
        nothing). Mirrors :meth:`_Live.remember`: a raw value is in a cache only once :meth:`_check` found it adds
        nothing.

        Fields the sensor and the process table set on every event of the type are read by subscript
        (``code.item``: no method call; absent in a recorded event, the event takes the slow path); fields that
        are legitimately absent (the peer of a unix socket, the parent of a process whose parent is not known)
        by ``code.field``, so their common absence stays on the fast path."""
        g, i, lazy = code.field, code.item, code.fallback
        inet = code.obj(_INET)
        if t in _OPENS:  # a known written file, or a failed open (reads are ruled out before: fast_path)
            return f"{i('fd.name')} in {c}", i("evt.failed")
        if t in _EXEC:  # a known process, not drift (_exec_key and is_drift)
            d = code.local()
            return (f"(({i('proc.exe_resolved')} or {lazy('proc.exepath')} or {lazy('proc.exe')}, {i('user.name')} "
                    f"or {lazy('user.uid')}, {i('proc.pexe_resolved')} or {lazy('proc.pexepath')} or "
                    f"{lazy('proc.pname')}, {i('proc.args')}) in {c} and not "
                    f"({i('proc.exe_written')} or ({d} := {i('proc.exe_drift')}) or ({d} is None and "
                    f"{i('proc.is_exe_upper_layer')})))"), None
        if t == "connect":  # a known peer, no peer, or no connection
            return (f"{g('fd.sport')} in {c}.get({g('fd.sip')}, {code.obj(frozenset())})",
                    f"{g('fd.typechar')} not in {inet} or ({i('evt.failed')} and {i('evt.rawres')} != {_EINPROGRESS})")
        if t in _ACCEPTS:
            return f"{g('fd.cip')} in {c}", f"{g('fd.typechar')} not in {inet} or {i('evt.failed')}"
        if t == "bind":
            return f"{g('fd.lport')} in {c}", f"{g('fd.typechar')} not in {inet} or {i('evt.failed')}"
        return None

    def _fast_enter(self, t: str, cid: Any, w: _Live) -> None:
        """Let the fast path see container ``cid``'s events of type ``t`` (once its workload knows the syscall)."""
        table = self._fast.get(t)
        if table is None or not (cid is None or isinstance(cid, str)):
            return
        if w is _OUTSIDE:
            cache: _Cache | None = _HOST
        elif t in w.syscalls and cid is not None and self._by_cid.get(cid) is w:
            cache = w.cache_of(t)
        else:
            return
        if cache is not None and table.get(cid) is not cache:
            if len(table) >= _FAST_MAX:
                table.clear()
            table[cid] = cache

    def _enter(self, event: Event) -> _Live:
        """The first event of a container: find (or create) its workload (:data:`_OUTSIDE` for the host)."""
        f = event.fields
        wl = workload_of(f)
        if wl is None:
            if f.get("container.id") == "host":
                self._by_cid["host"] = _OUTSIDE
            return _OUTSIDE
        with self._lock:
            prof = self.profiles.get(wl[0]) or self._create(wl, self.clock())
            w = self._live.get(prof.key)
            if w is None or w.prof is not prof:
                w = self._live[prof.key] = _Live(prof)
            if len(self._by_cid) > _FAST_MAX:
                self._by_cid.clear()
                for table in self._fast.values():
                    table.clear()
            self._by_cid[str(f.get("container.id"))] = w
        return w

    def _check(self, w: _Live | None, event: Event) -> list[Alert]:
        """The slow path: generalise the event, learn it or alert on it, and remember its raw values when they
        add nothing new."""
        if w is None:
            w = self._enter(event)
        f = event.fields
        t = event.type
        if w is _OUTSIDE:
            self._fast_enter(t, f.get("container.id"), w)
            return _NONE  # the host, or an event without a container id
        drift = t in _EXEC and is_drift(f)
        dkey = _hashable((_exec_key(f), f.get("proc.exepath"))) if drift else None
        if dkey is not None and w.prof.mode == "monitor" and dkey in w.drifted:
            return _NONE  # reported already: its alert, deviations and drift tag are all in the profile
        with self._lock:
            prof = w.prof
            if prof.mode == "learn":
                self._maybe_promote(prof, self.clock())
            alerts: list[Alert] = self._drift(prof, event) if drift else []
            entries = entries_of(t, f)
            # an event that is no behaviour (a read, a failed call, a socket that is not TCP/UDP over IP) teaches
            # nothing, not even its syscall: the syscalls of a baseline are those its behaviour used
            pairs = [*entries, ("syscall", t)] if entries else []
            new = [(k, e) for k, e in pairs if not covered(k, e, prof.entries[k])]
            if new and new[0][0] == "process" and self._learned_before(prof, f, new[0][1]):
                new.pop(0)
            # raw values are remembered only with the entry they gave: a failed call or a read gives none, and
            # must not stand for a later successful one with the same values
            remember = bool(entries) and not drift
            if new:
                remember &= self._change(prof, event, new, alerts)
            if dkey is not None and prof.mode == "monitor":  # every entry is now known or a reported deviation
                if len(w.drifted) >= _CACHE_MAX:
                    w.drifted.clear()
                w.drifted.add(dkey)
            if remember:
                w.remember(t, f)
            self._fast_enter(t, f.get("container.id"), w)
            return alerts

    def _learned_before(self, prof: Profile, f: Mapping[str, Any], entry: str) -> bool:
        """Whether a baseline learned before executables were resolved holds this exec in its old form; then the
        new form joins it (unless locked), so the workload is not alerted on for what it was learned doing."""
        if legacy_process_entry(f) not in prof.entries["process"]:
            return False
        if not prof.locked:
            prof.entries["process"].add(entry)
            self._dirty.add(prof.key)
        return True

    def _change(self, prof: Profile, event: Event, new: list[tuple[str, str]], alerts: list[Alert]) -> bool:
        """Learn or alert on new entries; whether the event's raw values may be remembered as adding nothing."""
        if prof.mode == "learn":
            if prof.locked:
                return True
            full = [k for k, _ in new if len(prof.entries[k]) >= MAX_LEARNED]
            for k, e in new:
                if k not in full:
                    prof.entries[k].add(e)
            if len(full) < len(new):
                prof.last_change_ns = self.clock()
                self._dirty.add(prof.key)
            if full and prof.key not in self._full:
                self._full.add(prof.key)
                log.warning("baseline: %s holds %d %s entries, the most learned per kind: what is new beyond that "
                            "is not learned (a deviation once monitored)", prof.key, MAX_LEARNED, full[0])
            return not full  # not learned: its raw values must not pass as known later
        if prof.mode == "protect":  # every deviating process is stopped, not only the first
            for k, e in new:
                self._reported(prof, f"{k} {e}")
            alerts.append(self._deviation(prof, event, new))
            return False
        fresh = [(k, e) for k, e in new if not self._reported(prof, f"{k} {e}")]
        if fresh:
            # one alert per behaviour: the specific entry (process, file, network), its new syscall folded in
            alerts.append(self._deviation(prof, event, fresh))
        return True

    def _reported(self, prof: Profile, tag: str) -> bool:
        """Whether deviation ``tag`` of ``prof`` was reported already; if not, it is from now on. The profile keeps
        at most MAX_LEARNED of them (they are saved with it); beyond that a workload that keeps deviating in new
        ways is still alerted on, once per deviation, remembered in memory only (a bounded set, cleared when full:
        a deviation may then be reported again, never missed)."""
        if tag in prof.deviations:
            return True
        if len(prof.deviations) < MAX_LEARNED:
            prof.deviations.add(tag)
            self._dirty.add(prof.key)
            return False
        over = self._overflow.setdefault(prof.key, set())
        if tag in over:
            return True
        if not over:
            log.warning("baseline: %s holds %d deviations, the most saved with a baseline: further ones are "
                        "reported but not saved (review them: containerguard baseline show)", prof.key, MAX_LEARNED)
        elif len(over) >= _CACHE_MAX:
            over.clear()
        over.add(tag)
        return False

    def _create(self, wl: tuple[str, str, str, str], now: int) -> Profile:
        key, image, image_id, pattern = wl
        sibling = next((p for p in self.profiles.values() if p.image_id == image_id and image_id), None)
        prof = Profile(key=key, image=image, image_id=image_id, name_pattern=pattern, created_ns=now,
                       last_change_ns=now)
        if sibling is not None:  # a new container of a known image starts from the image's baseline and mode
            prof.mode, prof.locked = sibling.mode, sibling.locked
            prof.entries = {k: set(v) for k, v in sibling.entries.items()}
        self.profiles[key] = prof
        self._saved[key] = 0
        self._dirty.add(key)
        log.info("baseline: new workload %s (%s), mode %s", key, image, prof.mode)
        return prof

    def _maybe_promote(self, prof: Profile, now: int) -> None:
        if prof.mode == "learn" and not prof.locked and now - prof.last_change_ns >= self.quiet_ns:
            # the image's baseline is learned: every workload of the image still learning monitors from now on
            for p in [prof, *self.siblings(prof)]:
                if p.mode == "learn" and not p.locked:
                    p.mode = "monitor"
                    self.promotions += 1
                    self._dirty.add(p.key)
            log.info("baseline: %s learned (%d entries, quiet for %.0f s): now monitoring", prof.key, prof.size(),
                     (now - prof.last_change_ns) / 1e9)

    def siblings(self, prof: Profile) -> list[Profile]:
        """The other workloads of ``prof``'s image (they share its mode)."""
        if not prof.image_id:
            return []
        return [p for p in self.profiles.values() if p.image_id == prof.image_id and p.key != prof.key]

    def _deviation(self, prof: Profile, event: Event, fresh: list[tuple[str, str]]) -> Alert:
        kind, entry = next(((k, e) for k, e in fresh if k != "syscall"), fresh[0])
        near = nearest(entry, prof.entries[kind])
        also = [e for k, e in fresh if (k, e) != (kind, entry)]
        f = event.fields
        text = (f"Baseline deviation: new {_KIND_WORD[kind]} {entry} in workload {prof.name_pattern} "
                f"({prof.image or prof.image_id}, {prof.mode})"
                + (f"; also new: {', '.join(also)}" if also else "")
                + f"; nearest baseline entries: {'; '.join(near) if near else 'none'}"
                + f" (pid={f.get('proc.pid')} container={f.get('container.id')})")
        self.alerts += 1
        return build_alert(
            rule=f"Baseline deviation: {kind}", rule_id=_RULE_IDS[kind],
            priority=Priority.CRITICAL if prof.mode == "protect" else Priority.WARNING,
            output=text, time_ns=event.time_ns, source=event.source, event_fields=f,
            output_fields={"baseline.workload": prof.key, "baseline.mode": prof.mode, "baseline.kind": kind,
                           "baseline.entry": entry, "baseline.also_new": also, "baseline.nearest": near,
                           "proc.pid": f.get("proc.pid"), "proc.exepath": f.get("proc.exepath"),
                           "container.id": f.get("container.id"), "container.name": f.get("container.name")},
            tags=("containerguard", "baseline", kind),
            responses=(self.protect_action,) if prof.mode == "protect" else ())

    def _drift(self, prof: Profile, event: Event) -> list[Alert]:
        f = event.fields
        exe = str(f.get("proc.exepath") or "")
        if self._reported(prof, f"drift {_text(exe)}") and prof.mode != "protect":  # protect stops every run of it
            return []
        how = ("written after the container started" if f.get("proc.exe_written")
               else str(f.get("proc.exe_drift") or "in the container's upper layer"))
        self.alerts += 1
        return [build_alert(
            rule=DRIFT_RULE[0], rule_id=DRIFT_RULE[1], priority=Priority.ERROR,
            output=f"Drift: {exe} is not in the image layers ({how}); workload {prof.name_pattern} "
                   f"({prof.image or prof.image_id}) (pid={f.get('proc.pid')} container={f.get('container.id')})",
            time_ns=event.time_ns, source=event.source, event_fields=f,
            output_fields={"baseline.workload": prof.key, "proc.exepath": exe, "proc.pid": f.get("proc.pid"),
                           "proc.exe_written": bool(f.get("proc.exe_written")),
                           "proc.is_exe_upper_layer": bool(f.get("proc.is_exe_upper_layer")),
                           "proc.exe_drift": f.get("proc.exe_drift")},
            tags=("containerguard", "baseline", "drift"),
            responses=(self.protect_action,) if prof.mode == "protect" else ())]

    # ------------------------------------------------------------------ persistence (the agent's baseline thread)

    def tick(self) -> None:
        """Promote quiet workloads, pick up edits made with ``containerguard baseline``, save what was learned."""
        now = self.clock()
        with self._lock:
            for prof in self.profiles.values():
                self._maybe_promote(prof, now)
        self.sync()
        self.flush()

    def sync(self) -> None:
        """Reload workloads whose stored version changed (an edit, import, mode change or another agent's save):
        the change stands, with what was learned here since the last save added to it (:meth:`_add_unsaved`)."""
        versions = self.store.versions()
        for key, version in versions.items():
            if version != self._saved.get(key):
                try:
                    prof = self.store.load(key)
                except BaselineError as exc:  # one unreadable row (a hand-edited database) must not stop the
                    # reloads and the saves of every other workload: this one keeps what the agent has, and the
                    # row is not saved over (flush) until an import or another writer replaces it
                    if key not in self._unreadable:
                        log.warning("baseline: %s; keeping the baseline in memory, the row as it is", exc)
                    self._unreadable.add(key)
                    self._saved[key] = version
                    continue
                self._unreadable.discard(key)
                if prof is None:
                    continue
                with self._lock:  # swapped whole: an event sees the old or the new baseline, never half
                    stored = _copy(prof)
                    if self._add_unsaved(key, prof):  # against the base it learned from, before that is replaced
                        self._dirty.add(key)  # saved over the new version by the next flush
                    else:
                        self._dirty.discard(key)
                    self._base[key] = stored
                    self.profiles[key] = prof
                    self._overflow.pop(key, None)  # the edit says what is reported
                    self._saved[key] = prof.version
                    self._rebind(key, prof)
                log.info("baseline: %s reloaded (version %d, mode %s)", key, prof.version, prof.mode)
        with self._lock:
            for key in [k for k in self.profiles if k not in versions and self._saved.get(k, 0) > 0]:
                del self.profiles[key]  # deleted from the store
                self._saved.pop(key, None)
                self._base.pop(key, None)
                self._overflow.pop(key, None)
                self._unreadable.discard(key)
                self._rebind(key, None)

    def _add_unsaved(self, key: str, stored: Profile) -> bool:
        """Add to ``stored`` (a version another writer saved: ``baseline mode``, ``lock``, ``edit``, ``import``, or
        another agent on the same store) what this agent learned since its last save or reload, so neither write is
        lost: the entries and deviations only (what an edit removed before that stays removed; its mode and lock
        stand, a promotion made here only when nobody else changed the mode; a locked baseline learns nothing).
        Whether anything was added. Called with the lock held."""
        cur, base = self.profiles.get(key), self._base.get(key) or Profile(key=key)
        if cur is None or stored.locked:
            return False
        added = False
        for k in KINDS:
            new = cur.entries.get(k, set()) - base.entries.get(k, set())
            if new - stored.entries[k]:
                stored.entries[k] |= new
                added = True
        devs = cur.deviations - base.deviations
        if devs - stored.deviations:
            stored.deviations |= devs
            added = True
        if added:
            stored.last_change_ns = max(stored.last_change_ns, cur.last_change_ns)
            if stored.mode == base.mode and cur.mode != base.mode:
                stored.mode = cur.mode
        return added

    def _rebind(self, key: str, prof: Profile | None) -> None:
        """Point the containers of workload ``key`` at its new profile (fresh caches), or forget them (deleted:
        their next event finds the workload anew). Called with the lock held."""
        old = self._live.pop(key, None)
        if old is None:
            return
        new = _Live(prof) if prof is not None else None
        if new is not None:
            self._live[key] = new
        for cid, w in list(self._by_cid.items()):
            if w is old:
                for table in self._fast.values():  # its old caches: the next event finds the new ones
                    table.pop(cid, None)
                if new is None:
                    del self._by_cid[cid]
                else:
                    self._by_cid[cid] = new

    def flush(self) -> None:
        """Save every workload that learned something since the last save."""
        with self._lock:
            dirty = [(k, Profile.from_doc(self.profiles[k].to_doc())) for k in self._dirty
                     if k in self.profiles and k not in self._unreadable]
            self._dirty.clear()
        for i, (key, snapshot) in enumerate(dirty):
            expect = self._saved.get(key, 0)
            try:
                saved = self.store.save(snapshot, expect_version=expect)
            except BaselineError:  # the store is busy (another writer held it past the timeout) or full: these
                with self._lock:  # workloads are saved by a later flush, not forgotten until they learn again
                    self._dirty.update(k for k, _ in dirty[i:])
                raise
            if saved:
                with self._lock:
                    self._saved[key] = snapshot.version
                    self._base[key] = snapshot
                    if key in self.profiles:
                        self.profiles[key].version = snapshot.version
            else:
                log.info("baseline: %s was changed meanwhile; taking the change, with what was learned here", key)
                self.sync()

    def summaries(self) -> list[dict[str, Any]]:
        """Each workload's identity, mode and size, for the central server (the entries stay on the host)."""
        with self._lock:
            return [{"workload": p.key, "image": p.image, "image_id": p.image_id, "name_pattern": p.name_pattern,
                     "mode": p.mode, "locked": p.locked, "entries": {k: len(v) for k, v in p.entries.items()},
                     "deviations": len(p.deviations),
                     "last_change": _iso(p.last_change_ns) if p.last_change_ns else None}
                    for p in sorted(self.profiles.values(), key=lambda p: p.key)]

    def stats(self) -> dict[str, Any]:
        """Counters for /healthz."""
        with self._lock:
            modes = {m: sum(1 for p in self.profiles.values() if p.mode == m) for m in ("learn", "monitor", "protect")}
            return {"workloads": len(self.profiles), **modes, "alerts": self.alerts, "promotions": self.promotions,
                    "entries": sum(p.size() for p in self.profiles.values())}


__all__ = ["BASELINE_EVENT_TYPES", "KINDS", "BaselineDetector", "k8s_owner", "name_pattern", "workload_of"]
