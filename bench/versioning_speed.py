"""Version-ordering speed on real version strings, per scheme, beside univers for the same work.

Rates are per CPU-second of this process (time.process_time), so that other work on the shared
machine does not distort them. Prints, per scheme: distinct strings, cold key parses/s (cache cleared), cached key look-ups/s,
scheme.compare calls/s, and native key comparisons/s; then univers' parse and compare rates and how
often univers disagrees with our (oracle-checked) order on the same pairs.

Targets: the detector matches >= 50,000 packages/s. It takes each installed version's key once (a
cached look-up) and compares it with the precomputed keys of about 10 range bounds, so every scheme
needs >= 500,000 native key comparisons/s and >= 500,000 cached key look-ups/s; building keys for
the ~150,000 distinct version strings of the whole database must take at most ~6 s, so cold parsing
needs >= 25,000 keys/s. ``scheme.compare`` (two look-ups and a comparison) is printed for reference.

    .venv/bin/python bench/versioning_speed.py [--quick]
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from versioning_corpus import alpine_secdb_versions, osv_versions, sample

from containerguard.versioning import get_scheme

TARGET_KEY_LT = 500_000
TARGET_CACHED = 500_000
TARGET_COLD_KEYS = 25_000

CORPORA: list[tuple[str, Callable[[], list[str]], str | None]] = [
    ("dpkg", lambda: osv_versions("Debian", "Debian", step=4), "DebianVersion"),
    ("rpm", lambda: osv_versions("Debian", "Debian", step=8), "RpmVersion"),
    ("apk", lambda: alpine_secdb_versions() + osv_versions("Debian", "Alpine", step=4), "AlpineLinuxVersion"),
    ("pep440", lambda: osv_versions("PyPI", "PyPI"), "PypiVersion"),
    ("semver", lambda: osv_versions("npm", "npm"), "SemverVersion"),
    ("go", lambda: osv_versions("Go", "Go"), "GolangVersion"),
    ("maven", lambda: osv_versions("Maven", "Maven"), "MavenVersion"),
    ("rubygems", lambda: osv_versions("RubyGems", "RubyGems"), "RubygemsVersion"),
    ("nuget", lambda: osv_versions("NuGet", "NuGet"), "NugetVersion"),
    ("composer", lambda: osv_versions("Packagist", "Packagist"), "ComposerVersion"),
    ("cargo", lambda: osv_versions("crates.io", "crates.io"), None),
]


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def bench_scheme(name: str, strings: list[str], uname: str | None, n_pairs: int) -> dict[str, Any]:
    scheme = get_scheme(name)
    valid = [s for s in strings if scheme.valid(s)]
    rnd = random.Random(5)
    pairs = [(rnd.choice(valid), rnd.choice(valid)) for _ in range(n_pairs)]

    scheme.key.cache_clear()  # type: ignore[attr-defined]
    t = time.process_time()
    for s in valid:
        scheme.key(s)
    cold = rate(len(valid), time.process_time() - t)

    t = time.process_time()
    for a, b in pairs:
        scheme.key(a)
        scheme.key(b)
    warm = rate(2 * len(pairs), time.process_time() - t)

    t = time.process_time()
    for a, b in pairs:
        scheme.compare(a, b)
    cmp_rate = rate(len(pairs), time.process_time() - t)

    kp = [(scheme.key(a), scheme.key(b)) for a, b in pairs]
    t = time.process_time()
    for ka, kb in kp:
        _ = ka < kb
    native = rate(len(kp), time.process_time() - t)

    row: dict[str, Any] = {"scheme": name, "strings": len(valid), "invalid": len(strings) - len(valid),
                           "cold_keys": cold, "cached_keys": warm, "compares": cmp_rate, "key_lt": native}
    if uname:
        import univers.versions as uv

        cls = getattr(uv, uname)
        t = time.process_time()
        parsed: dict[str, Any] = {}
        failed = 0
        for s in valid:
            try:
                parsed[s] = cls(s)
            except Exception:
                failed += 1
        row["univers_parse"] = rate(len(valid), time.process_time() - t)
        row["univers_failed"] = failed
        up = [(a, b) for a, b in pairs if a in parsed and b in parsed]
        t = time.process_time()
        disagree = 0
        for a, b in up:
            try:
                ua, ub = parsed[a], parsed[b]
                u = (ua > ub) - (ua < ub)
            except Exception:
                u = None
            if u != scheme.compare(a, b):
                disagree += 1
        row["univers_compares"] = rate(len(up), time.process_time() - t)
        row["univers_disagree"] = f"{disagree}/{len(up)}"
    return row


def main() -> None:
    quick = "--quick" in sys.argv
    n_pairs = 20_000 if quick else 100_000
    rows = []
    for name, load, uname in CORPORA:
        strings = load()
        if quick:
            strings = sample(strings, 3000)
        rows.append(bench_scheme(name, strings, uname, n_pairs))
    head = (f"{'scheme':9} {'strings':>7} {'cold keys/s':>12} {'cached/s':>11} {'compare/s':>11} {'key< /s':>11}"
            f" | {'univers parse/s':>15} {'univers cmp/s':>13} {'univers disagrees':>17}")
    print(head)
    print("-" * len(head))
    for r in rows:
        u = (f"{r['univers_parse']:>15,.0f} {r['univers_compares']:>13,.0f} {r['univers_disagree']:>17}"
             if "univers_parse" in r else f"{'-':>15} {'-':>13} {'-':>17}")
        print(f"{r['scheme']:9} {r['strings']:>7,} {r['cold_keys']:>12,.0f} {r['cached_keys']:>11,.0f} "
              f"{r['compares']:>11,.0f} {r['key_lt']:>11,.0f} | {u}")
    print()
    for field, target, label in (("key_lt", TARGET_KEY_LT, "native key comparisons"),
                                 ("cached_keys", TARGET_CACHED, "cached key look-ups"),
                                 ("cold_keys", TARGET_COLD_KEYS, "cold key parses")):
        worst = min(rows, key=lambda r, f=field: r[f])  # type: ignore[misc]
        verdict = "OK" if worst[field] >= target else "MISSED"
        print(f"slowest {label}: {worst['scheme']} {worst[field]:,.0f}/s (target >= {target:,}/s) {verdict}")
    total = sum(r["strings"] for r in rows)
    print(f"distinct real version strings measured: {total:,} in {len(rows)} schemes")


if __name__ == "__main__":
    main()
