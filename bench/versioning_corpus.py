"""Real version strings for the version-ordering oracle tests and the speed benchmark.

Taken from the OSV exports in ../shared/vulndata (range events and ``versions`` lists of the
ecosystem's own packages), from the Alpine secdb, and from a dpkg status file. Deterministic: the
same data always gives the same lists.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import random
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
VULNDATA = Path(os.environ.get("CG_VULNDATA", REPO.parent / "shared" / "vulndata"))
if not VULNDATA.is_dir():  # a clone outside the workspace (e.g. under /tmp) finds the shared data here
    VULNDATA = Path("/work/shared/vulndata")


def osv_versions(zip_dir: str, ecosystem: str, step: int = 1, skip_mal: bool = True) -> list[str]:
    """Distinct version strings of ``ecosystem`` (prefix before ':') in ``osv/<zip_dir>/all.zip``.

    Reads every ``step``-th record (a zip is read once per step and kept). Events ``introduced`` "0"
    (OSV's "from the start") and GIT ranges are left out.
    """
    return sorted(_osv_versions_by_ecosystem(zip_dir, step, skip_mal).get(ecosystem, ()))


@functools.lru_cache(maxsize=16)
def _osv_versions_by_ecosystem(zip_dir: str, step: int, skip_mal: bool) -> dict[str, frozenset[str]]:
    path = VULNDATA / "osv" / zip_dir / "all.zip"
    out: dict[str, set[str]] = {}
    with zipfile.ZipFile(path) as z:
        names = sorted(z.namelist())[::step]
        for name in names:
            if skip_mal and name.startswith("MAL-"):
                continue
            rec = json.loads(z.read(name))
            for aff in rec.get("affected", []):
                eco = str(aff.get("package", {}).get("ecosystem", "")).split(":", 1)[0]
                acc = out.setdefault(eco, set())
                for rng in aff.get("ranges", []):
                    if rng.get("type") == "GIT":
                        continue
                    for ev in rng.get("events", []):
                        for k, v in ev.items():
                            if k in ("introduced", "fixed", "last_affected") and isinstance(v, str) and v != "0":
                                acc.add(v)
                acc.update(v for v in aff.get("versions") or [] if isinstance(v, str))
    return {k: frozenset(v) for k, v in out.items()}


def alpine_secdb_versions() -> list[str]:
    """Every fixed version named in the Alpine secdb files (``secfixes`` keys)."""
    out: set[str] = set()
    for f in sorted((VULNDATA / "alpine").glob("*/*.json")):
        data = json.loads(f.read_text())
        for pkg in data.get("packages", []):
            for ver in (pkg.get("pkg", {}).get("secfixes") or {}):
                out.add(str(ver))
    return sorted(out)


def dpkg_status_versions(status: Path) -> list[str]:
    out: set[str] = set()
    for line in status.read_text(errors="replace").splitlines():
        if line.startswith("Version: "):
            out.add(line[9:].strip())
    return sorted(out)


def make_pairs(
    versions: Sequence[str], key: Callable[[str], Any], n_random: int, seed: int = 20260101
) -> list[tuple[str, str]]:
    """Pairs to check: neighbours in our order and in plain string order (the hard, close cases),
    plus ``n_random`` random pairs drawn with a fixed seed. Equal-string pairs are kept (they must be 0)."""
    vs = list(versions)
    ordered = sorted(vs, key=key)
    pairs = list(itertools.pairwise(ordered))
    by_text = sorted(vs)
    pairs += list(itertools.pairwise(by_text))
    rnd = random.Random(seed)
    pairs += [(rnd.choice(vs), rnd.choice(vs)) for _ in range(n_random)]
    rnd.shuffle(pairs)
    return pairs


def sample(items: Iterable[str], n: int, seed: int = 7) -> list[str]:
    items = sorted(set(items))
    if len(items) <= n:
        return items
    return sorted(random.Random(seed).sample(items, n))
