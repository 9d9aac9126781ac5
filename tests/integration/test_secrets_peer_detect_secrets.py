"""Peer comparison: Yelp's detect-secrets (the PyPI tool, run through its CLI) and ContainerGuard on the
same files. Scored per file (a positive file is found when any finding is reported in it; any finding in
a negative file is a false positive), printed side by side; ContainerGuard must do at least as well on
both precision and recall. Also timed side by side on the public manifests/Dockerfiles corpus."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from containerguard.secrets import scan_directory

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.data.secrets.keys import generate
from tests.fixtures import env

DATA = Path(__file__).resolve().parents[1] / "data" / "secrets"
CORPORA = env.CORPORA
DETECT_SECRETS = Path(sys.executable).with_name("detect-secrets")


def _detect_secrets(root: Path) -> dict[str, set[str]]:
    out = subprocess.run([str(DETECT_SECRETS), "scan", "--all-files", "."], cwd=root, check=True,
                         capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    return {f: {r["type"] for r in rs} for f, rs in json.loads(out.stdout)["results"].items()}


def _score(expected: dict[str, set[str]], flagged: set[str]) -> tuple[float, float, int, int, int]:
    positives = {p for p, ids in expected.items() if ids}
    tp = len(positives & flagged)
    fp = len(flagged - positives)
    fn = len(positives - flagged)
    return tp / (tp + fp) if tp + fp else 1.0, tp / (tp + fn) if tp + fn else 1.0, tp, fp, fn


@pytest.mark.skipif(not DETECT_SECRETS.exists(), reason="detect-secrets (dev dependency) not installed")
def test_against_detect_secrets_on_the_corpus(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    shutil.copytree(DATA / "corpus", root)
    expected = {rel: set(ids) for rel, ids in json.loads((DATA / "expected.json").read_text()).items()}
    expected.update({rel: set(ids) for rel, ids in generate(root).items()})
    ours = {f.path for f in scan_directory(root).findings}
    peer = set(_detect_secrets(root))
    assert set(expected) >= ours | peer
    p_ours, r_ours, *c_ours = _score(expected, ours)
    p_peer, r_peer, *c_peer = _score(expected, peer)
    print(f"\nfile-level on {len(expected)} files: ContainerGuard precision {p_ours:.3f} recall {r_ours:.3f} "
          f"(tp/fp/fn {c_ours}); detect-secrets 1.5.0 precision {p_peer:.3f} recall {r_peer:.3f} (tp/fp/fn {c_peer})")
    for path in sorted(peer - {p for p, ids in expected.items() if ids}):
        print(f"  detect-secrets false positive: {path}")
    assert p_ours >= p_peer and r_ours >= r_peer


@pytest.mark.slow
@pytest.mark.skipif(not DETECT_SECRETS.exists() or not CORPORA.is_dir(), reason="needs detect-secrets and ../shared/corpora")
def test_speed_against_detect_secrets_on_public_corpora(tmp_path: Path) -> None:
    """Every 6th file of the public corpora (about 300 manifests and Dockerfiles; the whole set takes
    detect-secrets over a minute and a half)."""
    root = tmp_path / "corpora"
    files = sorted(p for p in CORPORA.rglob("*") if p.is_file())[::6]
    for src in files:
        dst = root / src.relative_to(CORPORA)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    t = time.perf_counter()
    ours = scan_directory(root)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    peer = _detect_secrets(root)
    t_peer = time.perf_counter() - t
    print(f"\n{ours.files_scanned} public files: ContainerGuard {t_ours:.2f} s ({len({f.path for f in ours.findings})} files flagged), "
          f"detect-secrets {t_peer:.2f} s ({len(peer)} files flagged), {t_peer / t_ours:.1f}x")
    assert t_ours < t_peer
