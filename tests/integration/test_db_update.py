"""`containerguard db update/status` against a real HTTP mirror of ../shared/vulndata on 127.0.0.1."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures import vulnmirror

from containerguard.cli.main import main
from containerguard.vulndb import VulnDB


def _status(db: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert main(["db", "status", "--db", str(db), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    doc["by"] = {s["source"]: s for s in doc["sources"]}
    return doc


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_update_builds_then_skips_unchanged_sources(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mirror = vulnmirror.subset(tmp_path / "mirror", ("Hex", "Pub", "crates.io"), ("v3.19",))
    db = tmp_path / "db" / "vuln.sqlite"
    with vulnmirror.serve(mirror) as (base, handler):
        assert main(["db", "update", "--mirror", base, "--db", str(db), "-q"]) == 0
        st = _status(db, capsys)
        assert set(st["by"]) == {"osv/Hex", "osv/Pub", "osv/crates.io", "alpine/v3.19/main", "alpine/v3.19/community",
                                 "kev", "epss"}
        # record counts equal what is in the feeds
        with zipfile.ZipFile(mirror / "osv" / "Pub" / "all.zip") as zf:
            assert st["by"]["osv/Pub"]["records"] == len(zf.namelist())
        kev = json.loads((mirror / "kev" / "known_exploited_vulnerabilities.json").read_text())
        assert st["by"]["kev"]["records"] == len(kev["vulnerabilities"])
        assert st["by"]["epss"]["records"] == 22
        assert st["age_days"] < 0.01 and not st["stale"] and st["build_seconds"] > 0
        before = (db.stat().st_ino, _sha(db))
        handler.requests.clear()
        assert main(["db", "update", "--mirror", base, "--db", str(db), "-q"]) == 0
        # every file answered 304 to the conditional request, and the database was not rebuilt
        data_reqs = [code for path, code in handler.requests if path.endswith((".zip", ".json", ".gz"))]
        assert data_reqs and all(code == 304 for code in data_reqs)
        assert db.stat().st_ino == before[0]
        assert all(s["status"] == "unchanged" for s in _status(db, capsys)["sources"])

        # one changed source: only it is parsed again, the others are carried over unchanged
        rows = gzip.decompress((mirror / "epss" / "epss_scores-current.csv.gz").read_bytes()).decode()
        (mirror / "epss" / "epss_scores-current.csv.gz").write_bytes(
            gzip.compress((rows + "CVE-2099-0001,0.5,0.9\n").encode()))
        assert main(["db", "update", "--mirror", base, "--db", str(db), "-q"]) == 0
        st2 = _status(db, capsys)
        assert st2["by"]["epss"]["status"] == "updated" and st2["by"]["epss"]["records"] == 23
        assert st2["by"]["osv/Pub"]["status"] == "unchanged"
        assert st2["by"]["osv/Pub"]["records"] == st["by"]["osv/Pub"]["records"]
    with VulnDB(db) as h:
        assert h.epss(["CVE-2099-0001"]) == {"CVE-2099-0001": (0.5, 0.9)}
        # every Pub record is queryable by its (ecosystem, name) with its id
        with zipfile.ZipFile(mirror / "osv" / "Pub" / "all.zip") as zf:
            recs = [json.loads(zf.read(n)) for n in zf.namelist()]
        for rec in recs:
            for a in (a for a in rec["affected"] if a["package"]["ecosystem"] == "Pub"):
                name = a["package"]["name"].lower()
                assert rec["id"] in {r.advisory for r in h.affected("Pub", [name])[name]}
        assert {"Hex", "Pub", "crates.io", "Alpine:v3.19"} <= h.ecosystems()


def _zip(path: Path, records: dict[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in records.items():
            zf.writestr(name, data)


def _rec(rid: str, eco: str, name: str, events: list[dict], **kw: object) -> bytes:
    return json.dumps({"id": rid, "modified": "2024-01-01T00:00:00Z", "schema_version": "1.6.0",
                       "affected": [{"package": {"ecosystem": eco, "name": name},
                                     "ranges": [{"type": "ECOSYSTEM", "events": events}]}], **kw}).encode()


def test_bad_input_is_skipped_and_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mirror = vulnmirror.subset(tmp_path / "mirror", ("Hex",), ())
    good = _rec("PYSEC-TEST-1", "PyPI", "Good_Pkg", [{"introduced": "0"}, {"fixed": "1.2"}])
    bad_version = _rec("PYSEC-TEST-2", "PyPI", "other", [{"introduced": "0"}, {"fixed": "not a version!!"}])
    unknown_eco = _rec("PYSEC-TEST-3", "NoSuchEcosystem", "x", [{"introduced": "0"}, {"fixed": "1"}])
    schema_fail = json.dumps({"id": "PYSEC-TEST-4", "modified": "x", "affected": [{"package": "not-an-object"}]}).encode()
    _zip(mirror / "osv" / "PyPI" / "all.zip", {"PYSEC-TEST-1.json": good, "PYSEC-TEST-2.json": bad_version,
                                               "PYSEC-TEST-3.json": unknown_eco, "PYSEC-TEST-4.json": schema_fail,
                                               "PYSEC-TEST-6.json": b"{not json"})
    # a member whose compressed bytes are damaged (inflate/CRC error) inside an otherwise valid zip
    with zipfile.ZipFile(mirror / "osv" / "PyPI" / "all.zip", "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("PYSEC-TEST-7.json", _rec("PYSEC-TEST-7", "PyPI", "damaged", [{"introduced": "0"}]) * 20)
    data = bytearray((mirror / "osv" / "PyPI" / "all.zip").read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("PYSEC-TEST-7.json")
    off = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(off + 5, off + 25):
        data[i] ^= 0xFF
    (mirror / "osv" / "PyPI" / "all.zip").write_bytes(bytes(data))
    # a truncated zip for another ecosystem, and an ecosystem directory nobody knows
    whole = (vulnmirror.VULNDATA / "osv" / "Pub" / "all.zip").read_bytes()
    (mirror / "osv" / "Pub").mkdir()
    (mirror / "osv" / "Pub" / "all.zip").write_bytes(whole[: len(whole) // 2])
    _zip(mirror / "osv" / "Martian" / "all.zip", {"M-1.json": _rec("M-1", "Martian", "x", [{"introduced": "0"}])})

    db = tmp_path / "vuln.sqlite"
    with vulnmirror.serve(mirror) as (base, _h):
        rc = main(["db", "update", "--mirror", base, "--db", str(db), "-q"])
    err = capsys.readouterr().err
    assert rc == 1  # a source failed: reported, and the rest was still built
    assert "osv/Pub" in err and "zip" in err
    st = _status(db, capsys)
    pypi = st["by"]["osv/PyPI"]
    assert pypi["status"] == "updated"
    assert pypi["skipped_detail"] == {"unparseable version": 1, "unknown ecosystem": 1, "OSV schema": 1,
                                      "invalid JSON": 1, "corrupt zip member": 1}
    assert pypi["skipped"] == 5
    assert st["by"]["osv/Pub"]["status"] == "error"
    assert st["by"]["osv/Martian"]["skipped_detail"] == {"unknown ecosystem": 1}
    assert st["by"]["osv/Hex"]["records"] > 0 and st["by"]["kev"]["records"] > 0
    with VulnDB(db) as h:
        rows = h.affected("PyPI", ["good-pkg", "other"])  # PEP 503 name of Good_Pkg
        assert [r.advisory for r in rows["good-pkg"]] == ["PYSEC-TEST-1"]
        assert rows["other"] == []
        assert "Pub" not in h.ecosystems()


def test_failed_source_keeps_previous_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mirror = vulnmirror.subset(tmp_path / "mirror", ("Hex", "Pub"), ())
    db = tmp_path / "vuln.sqlite"
    with vulnmirror.serve(mirror) as (base, handler):
        assert main(["db", "update", "--mirror", base, "--db", str(db), "-q"]) == 0
        kev_before = _status(db, capsys)["by"]["kev"]["records"]
        handler.fail.add("/kev/known_exploited_vulnerabilities.json")
        (mirror / "osv" / "Hex" / "all.zip").write_bytes((mirror / "osv" / "Hex" / "all.zip").read_bytes())  # new mtime
        os.utime(mirror / "osv" / "Hex" / "all.zip", (time.time() + 5, time.time() + 5))
        assert main(["db", "update", "--mirror", base, "--db", str(db), "-q"]) == 1
    assert "HTTP 500" in capsys.readouterr().err
    st = _status(db, capsys)
    assert st["by"]["kev"]["status"] == "error" and "HTTP 500" in st["by"]["kev"]["error"]
    assert st["by"]["kev"]["records"] == kev_before
    with VulnDB(db) as h:
        assert h.kev(["CVE-2021-44228"])["CVE-2021-44228"].ransomware


def test_killed_update_leaves_previous_db_intact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mirror = vulnmirror.subset(tmp_path / "mirror", ("Hex",), ())
    db = tmp_path / "vuln.sqlite"
    with vulnmirror.serve(mirror) as (base, _h):
        assert main(["db", "update", "--mirror", base, "--db", str(db), "-q"]) == 0
    before = _sha(db)
    # a bigger, changed mirror: the second update spends seconds building; kill it in the middle
    big = vulnmirror.subset(tmp_path / "mirror2", ("Hex", "PyPI", "npm"), ())
    with vulnmirror.serve(big) as (base, _h):
        proc = subprocess.Popen([sys.executable, "-m", "containerguard.cli.main", "db", "update", "--mirror", base,
                                 "--db", str(db), "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob("vuln.sqlite.tmp-*")) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        assert proc.poll() is None, "the update finished before it could be interrupted"
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert _sha(db) == before
    st = _status(db, capsys)
    assert set(st["by"]) >= {"osv/Hex", "kev", "epss"} and "osv/PyPI" not in st["by"]
    # the next update removes the stale temp file and completes
    with vulnmirror.serve(big) as (base, _h):
        assert main(["db", "update", "--mirror", base, "--db", str(db), "-q"]) == 0
    assert not list(tmp_path.glob("vuln.sqlite.tmp-*"))
    assert _status(db, capsys)["by"]["osv/PyPI"]["records"] > 10000


def test_unreachable_mirror_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "vuln.sqlite"
    rc = main(["db", "update", "--mirror", "http://127.0.0.1:9", "--db", str(db), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("error: no vulnerability source could be fetched")
    assert not db.exists()
    assert main(["db", "status", "--db", str(db)]) == 2


def test_stale_db_warns_but_scan_succeeds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mirror = vulnmirror.subset(tmp_path / "mirror", ("Hex",), ())
    db = tmp_path / "vuln.sqlite"
    with vulnmirror.serve(mirror) as (base, _h):
        assert main(["db", "update", "--mirror", base, "--db", str(db), "-q"]) == 0
    con = sqlite3.connect(db)
    with con:
        con.execute("UPDATE info SET value='2020-01-01T00:00:00Z' WHERE key='built_at'")
    con.close()
    assert _status(db, capsys)["stale"] is True
    sbom = tmp_path / "bom.json"
    sbom.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [
        {"type": "library", "name": "plug", "version": "1.0.0", "purl": "pkg:hex/plug@1.0.0"}]}))
    capsys.readouterr()
    rc = main(["scan", f"sbom:{sbom}", "--db", str(db), "-f", "json"])
    out = capsys.readouterr()
    assert rc == 0
    assert "days old" in out.err and "db update" in out.err
    assert json.loads(out.out)["target"]


def test_unwritable_db_path_and_corrupt_db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    mirror = vulnmirror.subset(tmp_path / "mirror", ("Hex",), ())
    with vulnmirror.serve(mirror) as (base, _h):
        capsys.readouterr()
        assert main(["db", "update", "--mirror", base, "--db", str(blocker / "vuln.sqlite"), "-q"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: cannot write the vulnerability database")
        # a garbage file where the DB should be: scans refuse it clearly, an update replaces it
        db = tmp_path / "vuln.sqlite"
        db.write_bytes(b"this is not sqlite" * 100)
        assert main(["db", "status", "--db", str(db)]) == 2
        assert "not a ContainerGuard vulnerability database" in capsys.readouterr().err
        assert main(["db", "update", "--mirror", base, "--db", str(db), "-q"]) == 0
    assert _status(db, capsys)["by"]["osv/Hex"]["records"] > 0


def test_source_overrides_and_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mirror = vulnmirror.subset(tmp_path / "mirror", ("Hex", "Pub"), ("v3.19",))
    db = tmp_path / "vuln.sqlite"
    with vulnmirror.serve(mirror) as (base, handler):
        args = ["db", "update", "--db", str(db), "-q", "--only", "Hex,kev",
                "--source", f"osv={base}/osv", "--source", f"alpine={base}/alpine",
                "--source", f"kev={base}/kev/known_exploited_vulnerabilities.json",
                "--source", f"epss={base}/epss/epss_scores-current.csv.gz"]
        assert main(args) == 0
        fetched = {p for p, code in handler.requests if code == 200}
    assert set(_status(db, capsys)["by"]) == {"osv/Hex", "kev"}
    assert "/osv/Pub/all.zip" not in fetched and "/osv/Hex/all.zip" in fetched
    capsys.readouterr()
    assert main(["db", "update", "--db", str(db), "--source", "nvd=http://127.0.0.1:9/x"]) == 2
    assert "unknown source 'nvd'" in capsys.readouterr().err
    assert main(["db", "update", "--db", str(db), "--source", "osv"]) == 2
