"""Inventory x vulnerability database -> Findings.

For every package the matcher works out the OSV ecosystem (from the package type and, for OS packages,
the image's OS), the name and version the advisories are keyed by (the *source* package for deb and
apk), loads the range sets of all names of one ecosystem with one batched query, compiles each range
set once per DB handle (version keys parsed once), and caches the finding templates per
(ecosystem, name, version): an inventory adds only dictionary lookups and Finding constructions.
See docs/risk.md for the rules (ids, aliases, status, severity choice, risk score).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import orjson

from containerguard.detect import risk
from containerguard.detect.fast_construct import compile_builder, gc_paused, positional_builder
from containerguard.errors import VersionError
from containerguard.model import Finding, FindingKind, Inventory, OSInfo, Package, Severity
from containerguard.versioning import get_scheme
from containerguard.vulndb import normalize
from containerguard.vulndb.severity import band
from containerguard.vulndb.store import AdvisoryRecord, VulnDB

OS_TYPES = frozenset({"deb", "apk", "rpm"})
#: rpm distributions with OSV data, by OSInfo.family
RPM_ECOSYSTEMS = {"alma": "AlmaLinux", "rocky": "Rocky Linux", "ol": "Oracle Linux", "rhel": "Red Hat",
                  "opensuse-leap": "openSUSE", "sles": "SUSE", "fedora": "Fedora", "amzn": "Amazon Linux"}
#: vendor tags that mark a .deb as built outside the release archive (backports, third-party repositories)
_FOREIGN_DEB = re.compile(
    r"(?i)(~bpo\d|~debian\.|nodesource|\.el\d|\.fc\d|\+ppa|~ppa|~(?:jessie|stretch|buster|bullseye|bookworm|trixie)\b)"
)
_FOREIGN_UBUNTU = re.compile(r"(?i)(~bpo\d|~debian\.|~deb\d+u|nodesource|\.el\d|\.fc\d|\+ppa|~ppa)")
_DEBIAN_MARK = re.compile(r"-|[+~]deb\d")
_ID_RANK = (("CVE-", 0), ("GHSA-", 1))

_UNSET = object()

#: Finding from all field values in declaration order
_new_finding = positional_builder(Finding)

#: the hot loop's Finding constructor: template parts (``head`` and ``tail`` tuples, ``extra``) plus what
#: differs per package. Fields are addressed by name, so the model's field order does not matter.
_HEAD = ("kind", "id", "title", "severity")
_PER_PACKAGE = {"target": "target", "path": "path", "line": "None", "layer": "layer", "package": "pkg", "extra": "extra"}
_TAIL = tuple(f.name for f in dataclasses.fields(Finding) if f.name not in _HEAD and f.name not in _PER_PACKAGE)
_TAIL_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Finding) if f.default is not dataclasses.MISSING}
_build_finding = compile_builder(
    Finding, ["head", "target", "path", "layer", "pkg", "tail", "extra"],
    {**{n: f"head[{i}]" for i, n in enumerate(_HEAD)}, **_PER_PACKAGE, **{n: f"tail[{i}]" for i, n in enumerate(_TAIL)}},
)


#: a cached finding template: (order key, head fields, tail fields, extra) -- see Matcher.match
_Tmpl = tuple[tuple[float, int, str], tuple[Any, ...], tuple[Any, ...], dict[str, Any]]
#: what a package needs per match: (templates, or None when its ecosystem has no data; version unparseable; type)
_Ready = tuple[tuple[_Tmpl, ...] | None, bool, str]
#: the package fields its ecosystem, match name and version derive from (plus the OS)
_package_key = attrgetter("type", "name", "version", "source_name", "source_version", "epoch", "release")


def ecosystem_for(pkg: Package, os: OSInfo) -> str | None:
    """The OSV ecosystem a package's advisories live in; None when the data cannot apply."""
    t = pkg.type
    lang = normalize.LANGUAGE_ECOSYSTEMS.get(t)
    if lang is not None:
        return lang
    ver = os.version.strip()
    if t == "deb":
        if os.family == "ubuntu" and ver:
            return f"Ubuntu:{ver}"
        if os.family == "debian" and ver:
            return f"Debian:{ver.split('.')[0]}"
        return None
    if t == "apk":
        if os.family == "alpine" and ver:
            if "_alpha" in ver or ver == "edge":
                return "Alpine:edge"
            parts = ver.split(".")
            return f"Alpine:v{parts[0]}.{parts[1]}" if len(parts) >= 2 else None
        if os.family in ("wolfi", "chainguard"):
            return os.family.capitalize()
        return None
    if t == "rpm":
        base = RPM_ECOSYSTEMS.get(os.family)
        return f"{base}:{ver.split('.')[0]}" if base and ver else None
    return None


def match_name_version(pkg: Package, eco: str) -> tuple[str, str]:
    """The (normalised name, version) the advisories are keyed by."""
    t = pkg.type
    if t in ("deb", "apk"):
        return pkg.source_name or pkg.name, pkg.source_version or pkg.version
    if t == "rpm":
        v = pkg.version
        if pkg.release and not v.endswith("-" + pkg.release):
            v = f"{v}-{pkg.release}"
        if pkg.epoch:
            v = f"{pkg.epoch}:{v}"
        return pkg.name, v
    name, v = pkg.name, pkg.version
    if t == "golang":
        v = v.removeprefix("go").removeprefix("v")
    elif t == "maven" and ":" not in name:
        group = pkg.metadata.get("group_id") or pkg.metadata.get("group") or ""
        if group:
            name = f"{group}:{name}"
    return normalize.package_name(eco, name), v


# --------------------------------------------------------------------------- compiled ranges

Bound = tuple[Any, ...] | None
Interval = tuple[Bound, Bound, bool, str]  # (lo key or None, hi key or None, hi inclusive, fixed version or "")


@dataclass(slots=True)
class _Entry:
    advisory: str
    source: str
    vendor: str
    # tuples, not lists: the cache holds tens of thousands of these and the cyclic GC stops tracking tuples
    # of immutable values, so full collections during long rescans do not walk them
    ranges: tuple[tuple[Interval, ...], ...]
    fixes: tuple[tuple[tuple[Any, str], ...], ...]  # per range: sorted (key, version) of its fixed events
    versions: str  # the stored `versions` list as compact JSON ("" when none): searched, never decoded


def _compile(scheme: Any, row_ranges: list[list[Any]], row_versions: str,
             advisory: str, source: str, vendor: str) -> _Entry | None:
    key = scheme.key
    if len(row_ranges) == 1:  # the shapes of nearly all records, compiled without the general event sort
        fast = _compile_simple(key, row_ranges[0][1])
        if fast is not None:
            one, fx = fast
            return None if one is None else _Entry(advisory, source, vendor, (one,), (fx,), row_versions)
    ranges: list[list[Interval]] = []
    fixes: list[list[tuple[Any, str]]] = []
    try:
        for _typ, events in row_ranges:
            evs: list[tuple[tuple[int, Any], str, str]] = []
            limits: list[Any] = []
            for kind, v in events:
                if kind == "x":
                    if v != "*":
                        limits.append(key(v))
                    continue
                k = None if (kind == "i" and v == "0") else key(v)
                evs.append(((0, ()) if k is None else (1, k), kind, v))
            evs.sort(key=lambda e: e[0])
            ivs: list[Interval] = []
            lo: Bound = None
            open_ = False
            for sk, kind, v in evs:
                k = sk[1] if sk[0] else None
                if kind == "i":
                    if not open_:
                        open_, lo = True, k
                elif open_:
                    ivs.append((lo, k, kind == "l", v if kind == "f" else ""))
                    open_ = False
            if open_:
                ivs.append((lo, None, False, ""))
            if limits:
                lim = max(limits)
                ivs = [(lo_, lim, False, "") if (hi is None or hi > lim) else (lo_, hi, inc, fv)
                       for lo_, hi, inc, fv in ivs if lo_ is None or lo_ < lim]
            ranges.append(ivs)
            fixes.append(sorted(((sk[1], v) for sk, kind, v in evs if kind == "f"), key=lambda t: t[0]))
    except VersionError:
        return None
    return _Entry(advisory, source, vendor, tuple(map(tuple, ranges)), tuple(map(tuple, fixes)), row_versions)


def _compile_simple(key: Any, events: list[Any]) -> tuple[Any, tuple[tuple[Any, str], ...]] | None:
    """One range of ``[introduced]`` or ``[introduced, fixed|last_affected]``: (intervals, fixes) exactly as the
    general compiler gives them, ``(None, ())`` when a version does not parse, or None for any other shape."""
    n = len(events)
    if not 1 <= n <= 2 or events[0][0] != "i" or (n == 2 and events[1][0] not in ("f", "l")):
        return None
    try:
        vi = events[0][1]
        lo = None if vi == "0" else key(vi)
        if n == 1:
            return ((lo, None, False, ""),), ()
        kind, v = events[1]
        hi = key(v)
    except VersionError:
        return None, ()
    fx = ((hi, v),) if kind == "f" else ()
    if lo is not None and hi < lo:  # the closing event sorts first: it closes nothing, the range stays open
        return ((lo, None, False, ""),), fx
    return ((lo, hi, kind == "l", v if kind == "f" else ""),), fx


def _hit(entry: _Entry, version: str, k: Any, needle: str = "") -> tuple[bool, str]:
    """(affected, fixed version or "") for one compiled entry. ``needle`` is ``version`` JSON-encoded."""
    if k is not None:
        for ivs in entry.ranges:
            for lo, hi, inc, fv in ivs:
                if (lo is None or k >= lo) and (hi is None or k < hi or (inc and k == hi)):
                    return True, fv
    if entry.versions and (needle or orjson.dumps(version).decode()) in entry.versions:
        nxt = ""
        if k is not None:
            cands = [f for fx in entry.fixes for f in fx if f[0] > k]
            if cands:
                nxt = min(cands, key=lambda t: t[0])[1]
        return True, nxt
    return False, ""


# --------------------------------------------------------------------------- grouping


def _rank(vid: str) -> tuple[int, str]:
    for prefix, r in _ID_RANK:
        if vid.startswith(prefix):
            return (r, vid)
    return (2, vid)


class _UF:
    def __init__(self) -> None:
        self.p: dict[str, str] = {}

    def find(self, x: str) -> str:
        p = self.p.setdefault(x, x)
        while p != self.p[p]:
            self.p[p] = self.p[self.p[p]]
            p = self.p[p]
        self.p[x] = p
        return p

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.p[max(ra, rb)] = min(ra, rb)


@dataclass(slots=True)
class MatchStats:
    packages: int = 0
    matched_packages: int = 0
    unsupported: int = 0  # packages whose ecosystem has no data or cannot be determined
    unparseable: int = 0  # installed versions the comparator rejected (ranges skipped, versions list used)


@dataclass(slots=True)
class MatchResult:
    findings: list[Finding]
    warnings: list[str] = field(default_factory=list)
    stats: MatchStats = field(default_factory=MatchStats)


class Matcher:
    """Matches inventories against one VulnDB handle; everything compiled is memoised on ``db.cache``."""

    def __init__(self, db: VulnDB) -> None:
        self.db = db
        c = db.cache
        self._compiled: dict[tuple[str, str], list[_Entry]] = c.setdefault("compiled", {})
        self._templates: dict[tuple[str, str, str], tuple[list[_Tmpl], bool]] = c.setdefault("templates", {})
        self._foreign: dict[tuple[str, str, str], bool] = c.setdefault("foreign", {})
        self._schemes: dict[str, Any] = c.setdefault("schemes", {})
        #: (os family, os version) -> package key -> (finding templates or None when unsupported,
        #: installed version unparseable, package type): a package seen before costs one lookup
        self._ready: dict[tuple[str, str], dict[tuple[Any, ...], _Ready]] = c.setdefault("ready", {})

    def _scheme(self, eco: str) -> Any:
        s = self._schemes.get(eco, _UNSET)
        if s is _UNSET:
            try:
                s = get_scheme(eco)
            except Exception:  # unknown ecosystem in the versioning registry
                s = None
            self._schemes[eco] = s
        return s

    def _load(self, eco: str, names: Iterable[str]) -> None:
        want = [n for n in set(names) if (eco, n) not in self._compiled]
        if not want:
            return
        scheme = self._scheme(eco)
        rows = self.db.affected(eco, want)
        for n in want:
            entries = []
            if scheme is not None:
                for r in rows.get(n, ()):
                    e = _compile(scheme, r.ranges, r.versions_json, r.advisory, r.source, r.vendor_severity)
                    if e is not None:
                        entries.append(e)
            self._compiled[(eco, n)] = entries

    # ------------------------------------------------------------------ public
    def match(self, inventory: Inventory) -> MatchResult:
        with gc_paused():
            return self._match(inventory)

    def _match(self, inventory: Inventory) -> MatchResult:
        res = MatchResult([])
        stats = res.stats
        os_ = inventory.os
        pkgs = inventory.packages
        osk = (os_.family, os_.version)
        ready = self._ready.get(osk)
        if ready is None:
            ready = self._ready[osk] = {}
        keys = list(map(_package_key, pkgs))
        ents: list[_Ready | None] = list(map(ready.get, keys))
        if None in ents:
            self._prepare(os_, pkgs, keys, ents, ready)
        target = inventory.target
        build = _build_finding
        out: list[tuple[Any, ...]] = []
        add = out.append
        n = unsupported = unparseable = matched = 0
        no_eco: set[str] = set()
        for pkg, ent in zip(pkgs, ents, strict=True):
            tmpls, bad, t = ent  # type: ignore[misc]  # every entry was filled by _prepare
            if tmpls is None:
                unsupported += 1
                no_eco.add(t)
                continue
            if bad:
                unparseable += 1
            if not tmpls:
                continue
            matched += 1
            locs = pkg.locations
            path = locs[0] if locs else ""
            layer = pkg.layer
            pname = pkg.name
            for okey, head, tail, extra in tmpls:
                add((okey, pname, path, n, build(head, target, path, layer, pkg, tail, extra)))
                n += 1
        stats.packages += len(pkgs)
        stats.unsupported += unsupported
        stats.unparseable += unparseable
        stats.matched_packages += matched
        if no_eco & OS_TYPES:
            res.warnings.append(f"OS packages not matched: no advisory data for OS {os_.family!r} {os_.version!r}")
        if stats.unparseable:
            res.warnings.append(f"{stats.unparseable} installed version(s) could not be parsed; only exact "
                                "`versions` entries were matched for them")
        out.sort()  # (risk desc, severity desc, id), package name, path, then input order: C-level tuple compare
        res.findings = [t[4] for t in out]
        return res

    def _prepare(self, os_: OSInfo, pkgs: Sequence[Package], keys: list[tuple[Any, ...]],
                 ents: list[_Ready | None], ready: dict[tuple[Any, ...], _Ready]) -> None:
        """Fill the entries of packages not seen before with this OS: resolve their ecosystem, name and
        version, load and compile their range sets, build their finding templates and flag foreign .debs."""
        jobs: dict[int, tuple[str, str, str] | None] = {}
        by_eco: dict[str, set[str]] = {}
        for i, ent in enumerate(ents):
            if ent is not None:
                continue
            pkg = pkgs[i]
            eco = ecosystem_for(pkg, os_)
            job = None if eco is None else (eco, *match_name_version(pkg, eco))
            jobs[i] = job
            if job is not None:
                by_eco.setdefault(job[0], set()).add(job[1])
        for eco, names in by_eco.items():
            self._load(eco, names)
        templates = self._templates
        todo = {job for job in jobs.values() if job is not None and job not in templates}
        if todo:
            self._build_templates(todo)
        foreign = self._foreign
        need_foreign = [(pkgs[i], *job) for i, job in jobs.items()
                        if job is not None and pkgs[i].type == "deb" and job not in foreign]
        if need_foreign:
            self._flag_foreign(need_foreign)
        for i, job in jobs.items():
            pkg = pkgs[i]
            if job is None:
                ent = (None, False, pkg.type)
            else:
                tmpls, bad = templates[job]
                if tmpls and pkg.type == "deb" and foreign.get(job, False):
                    tmpls = [(okey, head, tail, {**extra, "not_from_distribution": True})
                             for okey, head, tail, extra in tmpls]
                ent = (tuple(tmpls), bad, pkg.type)
            ents[i] = ent
            if not (pkg.type == "maven" and ":" not in pkg.name):  # the group comes from metadata: not in the key
                ready[keys[i]] = ent

    # ------------------------------------------------------------------ internals
    def _flag_foreign(self, jobs: Sequence[tuple[Package, str, str, str]]) -> None:
        """A .deb is flagged not_from_distribution when its version carries a vendor/backports tag, or when
        its source package is unknown to every release's advisories and its version has no Debian revision."""
        debian_ecos = [e for e in self.db.ecosystems() if e.startswith(("Debian:", "Ubuntu:"))]
        names = {name for _p, _e, name, _v in jobs}
        known: set[str] = set()
        for e in debian_ecos:
            got = self.db.affected(e, names)
            known.update(n for n, rows in got.items() if rows)
        for _p, eco, name, ver in jobs:
            rx = _FOREIGN_UBUNTU if eco.startswith("Ubuntu:") else _FOREIGN_DEB
            flagged = bool(rx.search(ver)) or (name not in known and not _DEBIAN_MARK.search(ver))
            self._foreign[(eco, name, ver)] = flagged

    def _build_templates(self, todo: set[tuple[str, str, str]]) -> None:
        hits: dict[tuple[str, str, str], tuple[list[tuple[_Entry, str]], bool]] = {}
        ids: set[str] = set()
        for eco, name, ver in todo:
            entries = self._compiled.get((eco, name), [])
            if not entries:
                hits[(eco, name, ver)] = ([], False)
                continue
            scheme = self._scheme(eco)
            k: Any = None
            bad = False
            try:
                k = scheme.key(ver)
            except VersionError:
                bad = True
            got = []
            needle = orjson.dumps(ver).decode()
            for e in entries:
                ok, fv = _hit(e, ver, k, needle)
                if ok:
                    got.append((e, fv))
                    ids.add(e.advisory)
            hits[(eco, name, ver)] = (got, bad)
        advs = self.db.advisories(ids)
        cves: set[str] = set()
        for a in advs.values():
            cves.update(x for x in (a.id, *a.aliases) if x.startswith("CVE-"))
        kev = self.db.kev(cves)
        epss = self.db.epss(cves)
        for key, (got, bad) in hits.items():
            self._templates[key] = (self._group(key[0], key[2], got, advs, kev, epss) if got else [], bad)

    def _group(self, eco: str, ver: str, got: list[tuple[_Entry, str]], advs: dict[str, AdvisoryRecord],
               kev: dict[str, Any], epss: dict[str, tuple[float, float]]) -> list[_Tmpl]:
        groups, members, extra_alias = _alias_groups(got, advs)
        scheme = self._scheme(eco)
        os_pkg = normalize.is_distro(eco)
        out = []
        for root, entries in groups.items():
            ids = members.get(root, {root}) | extra_alias.get(root, set())
            for e, _f in entries:  # a folded DSA's own aliases
                a = advs.get(e.advisory)
                if a:
                    ids.update(a.aliases)
            malicious = any(i.startswith("MAL-") for i in ids)
            primary = min(i for i in ids if i.startswith("MAL-")) if malicious else min(ids, key=_rank)
            recs = [advs[e.advisory] for e, _f in entries if e.advisory in advs]
            recs.sort(key=lambda r: (r.id != primary, _rank(r.id)))
            fixed = _group_fix(scheme, entries)
            vendor = next((e.vendor for e, _f in entries if e.vendor), "")
            sev, sev_src = _severity(recs, vendor, os_pkg, malicious)
            vec, score = next(((r.cvss_vector, r.cvss_score) for r in recs if r.cvss_vector), ("", None))
            cve_ids = sorted(i for i in ids if i.startswith("CVE-"))
            k = next((kev[c] for c in cve_ids if c in kev), None)
            ep = max((epss[c] for c in cve_ids if c in epss), default=None)
            status = "fixed" if fixed else "will-not-fix" if vendor.strip().lower() == "end-of-life" else "unfixed"
            title = next((r.summary for r in recs if r.summary), "")
            refs: list[str] = []
            for r in recs:
                refs.extend(u for u in r.references if u not in refs)
            cwes = sorted({c for r in recs for c in r.cwes})
            kind = FindingKind.MALICIOUS if malicious else FindingKind.VULNERABILITY
            rsk = risk.score(severity=sev, cvss=score, epss=ep[0] if ep else None, kev=k is not None,
                             ransomware=bool(k and k.ransomware), fixed=bool(fixed), malicious=malicious)
            head = (kind, primary, title or primary, sev)
            values = {"aliases": tuple(sorted(ids - {primary}, key=_rank)), "fixed_versions": tuple(fixed),
                      "status": status, "severity_source": sev_src, "cvss_vector": vec, "cvss_score": score,
                      "epss": ep[0] if ep else None, "epss_percentile": ep[1] if ep else None, "kev": k is not None,
                      "kev_date_added": k.date_added if k else "", "kev_ransomware": bool(k and k.ransomware),
                      "risk": rsk, "references": tuple(refs[:10]), "cwe": tuple(cwes)}
            tail = tuple(values[n] if n in values else _TAIL_DEFAULTS[n] for n in _TAIL)
            extra = {"ecosystem": eco, "installed": ver,
                     "records": sorted({e.advisory for e, _f in entries} | extra_alias.get(root, set())),
                     "sources": sorted({e.source for e, _f in entries}),
                     "risk_why": risk.explain(severity=sev, cvss=score, epss=ep[0] if ep else None,
                                              kev=k is not None, ransomware=bool(k and k.ransomware),
                                              fixed=bool(fixed), malicious=malicious, severity_source=sev_src),
                     **({"vendor_severity": vendor} if vendor else {})}
            out.append(((-rsk, -int(sev), primary), head, tail, extra))
        return out


def _alias_groups(got: list[tuple[_Entry, str]], advs: dict[str, AdvisoryRecord]) -> tuple[
        dict[str, list[tuple[_Entry, str]]], dict[str, set[str]], dict[str, set[str]]]:
    """The matches grouped by alias closure: (root -> its matches, root -> the ids aliased together,
    root -> distribution advisories folded into it)."""
    uf = _UF()
    matched = {e.advisory for e, _f in got}
    for e, _f in got:
        uf.find(e.advisory)
        a = advs.get(e.advisory)
        if a is not None:
            for al in a.aliases:
                uf.union(e.advisory, al)
    # distribution advisories (DSA/DLA/...) fold into the CVE findings they relate to
    folded: dict[str, list[str]] = {}
    for e, _f in got:
        a = advs.get(e.advisory)
        if a is None or e.advisory.startswith("CVE-"):
            continue
        rel = [r for r in a.related if r in matched and r.startswith("CVE-")]
        if rel and not any(al in matched for al in a.aliases):
            folded[e.advisory] = rel
    groups: dict[str, list[tuple[_Entry, str]]] = {}
    for e, f in got:
        if e.advisory in folded:
            continue
        groups.setdefault(uf.find(e.advisory), []).append((e, f))
    members: dict[str, set[str]] = {}
    for x in list(uf.p):
        members.setdefault(uf.find(x), set()).add(x)
    extra_alias: dict[str, set[str]] = {}
    for dsa, rel in folded.items():
        for cve in rel:
            extra_alias.setdefault(uf.find(cve), set()).add(dsa)
    return groups, members, extra_alias


def _group_fix(scheme: Any, entries: list[tuple[_Entry, str]]) -> list[str]:
    """The fixed versions of one finding. One record: the fix of each range the version is in (alternatives,
    as one advisory's branches give them). Several records merged by alias: the version that fixes them all,
    the highest of each record's earliest fix (the feed aliases GHSA-q7rv-6hp3-vh96, fixed in 1.8.4, with
    GHSA-wxmh-65f7-jcvw, fixed in 1.9.1: 1.8.4 is not a fix of the finding)."""
    by_rec: dict[str, set[str]] = {}
    for e, f in entries:
        if f:
            by_rec.setdefault(e.advisory, set()).add(f)
    if len(by_rec) <= 1:
        return sorted({f for fs in by_rec.values() for f in fs}, key=lambda v: _safe_key(scheme, v))
    return [max((min(fs, key=lambda v: _safe_key(scheme, v)) for fs in by_rec.values()),
                key=lambda v: _safe_key(scheme, v))]


def _safe_key(scheme: Any, v: str) -> tuple[int, Any]:
    try:
        return (0, scheme.key(v))
    except (VersionError, AttributeError):
        return (1, v)


def _severity(recs: list[AdvisoryRecord], vendor: str, os_pkg: bool, malicious: bool) -> tuple[Severity, str]:
    if malicious:
        return Severity.CRITICAL, "malicious-package"
    score = next((r.cvss_score for r in recs if r.cvss_score is not None), None)
    ghsa = next((r.ghsa_severity for r in recs if r.ghsa_severity), "")
    if os_pkg:
        v = Severity.parse(vendor.replace("*", "")) if vendor else Severity.UNKNOWN
        if v is not Severity.UNKNOWN:
            return v, "vendor"
        if score is not None:
            return band(score), "cvss"
        if ghsa:
            return Severity.parse(ghsa), "ghsa"
        return Severity.UNKNOWN, ""
    if ghsa and Severity.parse(ghsa) is not Severity.UNKNOWN:
        return Severity.parse(ghsa), "ghsa"
    if score is not None:
        return band(score), "cvss"
    return Severity.UNKNOWN, ""


def match(inventory: Inventory, db: VulnDB) -> list[Finding]:
    """Findings for one inventory, ordered by risk (highest first)."""
    return Matcher(db).match(inventory).findings
