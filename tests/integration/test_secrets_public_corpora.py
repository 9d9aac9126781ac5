"""Secret scanning over the real Kubernetes manifests and Dockerfiles of public projects
(../shared/corpora, see its SOURCES.md): known real findings are reported, digests are not."""

from __future__ import annotations

import re

import pytest
from tests.fixtures import env

from containerguard.secrets import scan_directory

CORPORA = env.CORPORA


@pytest.mark.skipif(not CORPORA.is_dir(), reason="../shared/corpora is not laid out beside the checkout")
def test_public_manifests_and_dockerfiles() -> None:
    result = scan_directory(CORPORA)
    assert result.files_scanned > 1000
    by_file: dict[str, set[str]] = {}
    for f in result.findings:
        by_file.setdefault(f.path, set()).add(f.id)
        assert f.match.endswith("****")
        line = (CORPORA / f.path).read_text(errors="replace").splitlines()[f.line - 1]
        # annotation digests (checksum/secret: <sha256>) are not secrets
        assert not re.search(r"checksum/", line), (f.path, f.line)
    print(f"\n{result.files_scanned} public files, {len(result.findings)} findings in {len(by_file)} files")
    for path, ids in sorted(by_file.items()):
        print(f"  {path}: {', '.join(sorted(ids))}")
    # Istio's jwt-server sample embeds a real PKCS#8 private key
    istio = [p for p in by_file if "jwt-server" in p]
    assert istio and all("private-key" in by_file[p] for p in istio)
