"""Integrity of cached and downloaded data: a layer blob gone from an OCI layout is an error even when the
layer cache holds its analysis; what a killed `db update` left behind is removed by the next one, and
the previous database stays usable meanwhile."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures import vulnmirror
from tests.fixtures.registry import tar_bytes, write_oci_image, write_oci_layout

from containerguard.cli.main import main


def _layout(root: Path) -> tuple[Path, str]:
    layers = [tar_bytes([("srv/node_modules/lodash/package.json",
                          json.dumps({"name": "lodash", "version": "4.17.15"}).encode())]),
              tar_bytes([("etc/motd", b"hello\n")])]
    desc = write_oci_image(root, layers)
    write_oci_layout(root, [desc], ref_name="1")
    manifest = json.loads((root / "blobs" / "sha256" / desc["digest"].split(":")[1]).read_bytes())
    return root, manifest["layers"][0]["digest"]


@pytest.mark.parametrize("damage", ["remove", "truncate"])
def test_missing_layer_blob_with_a_warm_cache(tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str) -> None:
    layout, digest = _layout(tmp_path / "img")
    cache = tmp_path / "cache"
    out = tmp_path / "sbom.json"
    assert main(["sbom", f"oci:{layout}:1", "--cache-dir", str(cache), "-f", "json", "-q", "-o", str(out)]) == 0
    assert any(p["name"] == "lodash" for p in json.loads(out.read_text())["packages"])
    blob = layout / "blobs" / "sha256" / digest.split(":")[1]
    if damage == "remove":
        blob.unlink()
    else:
        blob.write_bytes(blob.read_bytes()[:10])
    capsys.readouterr()
    rc = main(["sbom", f"oci:{layout}:1", "--cache-dir", str(cache), "-f", "json", "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and digest in err and ("missing" in err or "manifest says" in err), err
    assert err.count("\n") == 1


def test_interrupted_db_update_leaves_nothing_for_good(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = vulnmirror.subset(tmp_path / "mirror", ecosystems=("Hex",), alpine=())
    db = tmp_path / "db.sqlite"
    with vulnmirror.serve(root) as (base, _h):
        assert main(["db", "update", "--mirror", base, "--db", str(db), "--quiet"]) == 0
        before = db.read_bytes()
        # what a killed update leaves: a half-built database and a download directory with a partial file
        (tmp_path / f"db.sqlite.tmp-{os.getpid() + 1}").write_bytes(b"SQLite format 3\x00partial")
        dl = tmp_path / f".db.sqlite.download-{os.getpid() + 1}"
        dl.mkdir()
        (dl / "all.zip").write_bytes(b"PK\x03\x04partial")
        assert main(["db", "status", "--db", str(db), "--json"]) == 0  # the old database still serves
        assert db.read_bytes() == before
        assert main(["db", "update", "--mirror", base, "--db", str(db), "--quiet"]) == 0
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name not in ("db.sqlite", "db.sqlite.lock", "mirror"))
    assert leftovers == [], leftovers
