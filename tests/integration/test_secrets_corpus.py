"""Precision and recall of secret detection on the corpus (tests/data/secrets) plus private keys made at
test time by openssl, ssh-keygen and gpg. Scored per (file, rule id) pair; printed; thresholds asserted."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from containerguard.secrets import scan_directory

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.data.secrets.keys import generate

DATA = Path(__file__).resolve().parents[1] / "data" / "secrets"
PRECISION_MIN = 0.95
RECALL_MIN = 0.95


def test_precision_and_recall_on_the_corpus(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    shutil.copytree(DATA / "corpus", root)
    expected = {rel: set(ids) for rel, ids in json.loads((DATA / "expected.json").read_text()).items()}
    expected.update({rel: set(ids) for rel, ids in generate(root).items()})
    result = scan_directory(root)
    got: dict[str, set[str]] = {}
    for f in result.findings:
        got.setdefault(f.path, set()).add(f.id)
    tp = sum(len(expected.get(p, set()) & ids) for p, ids in got.items())
    fp_pairs = sorted((p, i) for p, ids in got.items() for i in ids - expected.get(p, set()))
    fn_pairs = sorted((p, i) for p, ids in expected.items() for i in ids - got.get(p, set()))
    precision = tp / (tp + len(fp_pairs)) if tp + len(fp_pairs) else 1.0
    recall = tp / (tp + len(fn_pairs)) if tp + len(fn_pairs) else 1.0
    positives = sum(1 for ids in expected.values() if ids)
    print(f"\nsecret corpus: {len(expected)} files ({positives} with secrets), {tp} true positives, "
          f"{len(fp_pairs)} false positives, {len(fn_pairs)} misses")
    print(f"precision {precision:.3f} (target >= {PRECISION_MIN})  recall {recall:.3f} (target >= {RECALL_MIN})")
    for p, i in fp_pairs:
        print(f"  false positive: {i} in {p}")
    for p, i in fn_pairs:
        print(f"  missed: {i} in {p}")
    assert positives >= 25 and len(expected) - positives >= 25
    assert precision >= PRECISION_MIN, fp_pairs
    assert recall >= RECALL_MIN, fn_pairs
    # every finding is masked: no reported evidence contains more than 4 characters of the value
    for f in result.findings:
        assert f.match.endswith("****") and f.line and f.line >= 1


def test_clean_debian_rootfs_has_no_secrets() -> None:
    """The debootstrap'd Debian minbase holds no secrets: any finding there is a false positive."""
    from tests.fixtures import env

    result = scan_directory(env.debian_rootfs())
    assert result.files_scanned > 100
    assert [(f.id, f.path) for f in result.findings] == []
