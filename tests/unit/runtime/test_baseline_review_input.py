"""Independent review of issue 14 (baselines), through the real entry points: what an import or edit accepts is
what the agent can match; names and entries from containers never alter the terminal and always export and import
back; an edit made while the agent saves what it learned loses neither; recorded events with odd field types
never raise in the Evaluator with a BaselineDetector."""

from __future__ import annotations

import hashlib
import random
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from containerguard.cli.main import main
from containerguard.model import Event
from containerguard.runtime.baseline import BaselineDetector, BaselineStore, import_yaml
from containerguard.runtime.baseline.profile import Profile
from containerguard.runtime.evaluate import Evaluator
from containerguard.runtime.rules import default_rules_path, load_rules

S = 1_000_000_000


def _rows(bdir: Path) -> str:
    with sqlite3.connect(bdir / "baselines.db") as db:
        return hashlib.sha256(repr(db.execute("SELECT key, doc, version FROM workloads ORDER BY key").fetchall())
                              .encode()).hexdigest()


@pytest.fixture
def bdir(tmp_path: Path) -> Path:
    d = tmp_path / "store"
    good = tmp_path / "seed.yaml"
    good.write_text("workload: img/web-*\nimage: web:1\nmode: monitor\nsyscall: [openat]\n")
    assert main(["baseline", "import", str(good), "--baseline-dir", str(d)]) == 0
    return d


REFUSED = {
    "port over 65535": "workload: a\nnetwork: ['out 10.0.0.0/24:99999']\n",
    "fullwidth digits": "workload: a\nnetwork: ['listen \uff18\uff10']\n",
    "superscript port": "workload: a\nnetwork: ['out 10.0.0.0/24:\u00b2']\n",
    "no port": "workload: a\nnetwork: ['out 10.0.0.0/24:']\n",
    "empty syscall": "workload: a\nsyscall: ['']\n",
    "syscall with escape": 'workload: a\nsyscall: ["\\e[2J"]\n',
    "syscall with space": "workload: a\nsyscall: ['open at']\n",
    "time beyond int64": "workload: a\nlast_change_ns: 99999999999999999999999\n",
    "negative time": "workload: a\ncreated_ns: -5\n",
    "raw escape character": "workload: a\nimage: x\x1b[2Jy\n",
    "raw C1 control": "workload: a\nimage: x\x9b31my\n",
    "not a mapping in the list": "- workload: a\n- 5\n",
    "empty int tag": "workload: a\ncreated_ns: !!int\n",
    "empty float tag": "workload: a\nimage: !!float\n",
    "timestamp tag on no date": "workload: a\nimage: !!timestamp x\n",
    "empty bool tag": "workload: a\nlocked: !!bool\n",
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_entries_the_agent_could_never_write_are_refused(case: str, bdir: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(REFUSED[case], encoding="utf-8")
    before = _rows(bdir)
    capsys.readouterr()
    assert main(["baseline", "import", str(f), "--baseline-dir", str(bdir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {f}:2: "), err
    assert "\x1b" not in err
    assert _rows(bdir) == before


def test_network_entries_are_stored_as_the_agent_writes_them(bdir: Path, tmp_path: Path) -> None:
    f = tmp_path / "net.yaml"
    f.write_text("workload: sha256:net/api\nimage_id: sha256:net\nname_pattern: api\nmode: monitor\n"
                 "syscall: [connect]\nnetwork: ['listen 0080', 'out 10.1.2.77/24:0443', 'in 2001:DB8::5/64', "
                 "'out 127.0.0.1:5432']\nfile: [/var/log/api/, /srv/x/../log, //]\n")
    assert main(["baseline", "import", str(f), "--baseline-dir", str(bdir)]) == 0
    prof = BaselineStore(bdir).find("sha256:net/api")
    assert prof.entries["network"] == {"listen 80", "out 10.1.2.0/24:443", "in 2001:db8::/64", "out 127.0.0.1:5432"}
    assert prof.entries["file"] == {"/var/log/api", "/srv/log", "/"}
    # and the agent matches them: a connect to 10.1.2.9:443 is no deviation, one to port 444 is
    det = BaselineDetector(BaselineStore(bdir), quiet_s=3600)
    det.sync()
    ev = {"container.id": "c1", "container.name": "api", "container.image.id": "sha256:net", "evt.type": "connect",
          "fd.typechar": "4", "fd.sip": "10.1.2.9", "fd.sport": 443, "evt.failed": False, "evt.rawres": 0}
    assert det.detect(Event(type="connect", time_ns=1, fields=ev)) == []
    assert [a.rule_id for a in det.detect(Event(type="connect", time_ns=1, fields={**ev, "fd.sport": 444}))] == \
        ["CG-B003"]


HOSTILE = {"bidi": "web\u202egnp.exe", "isolate": "a\u2067b\u2069c", "rlm": "x\u200fy", "line": "p\u2028q",
           "arabic mark": "m\u061cn", "escape": "e\x1b[2Jf", "csi": "c\x9b31mg", "markup": "[bold red]x[/] [/y]"}


def test_names_that_reorder_or_break_lines_are_escaped_everywhere(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "store"
    store = BaselineStore(d)
    for label, text in HOSTILE.items():
        p = Profile(key=f"k-{label}-{text}", image=f"img{text}", name_pattern=text, mode="monitor")
        p.entries["file"].add(f"/srv/{text}")
        p.entries["process"].add(f"/bin/{text}|root|/bin/sh|{text}")
        p.deviations.add(f"file /x/{text}")
        store.save(p)
    bad = [c for t in HOSTILE.values() for c in t if not c.isprintable()]
    capsys.readouterr()
    for args in (["list"], ["list", "-f", "json"], ["show", "k-bidi"], ["show", "k-line", "-f", "json"],
                 ["export"], ["lock", "k-rlm"], ["mode", "k-isolate", "protect"]):
        assert main(["baseline", *args, "--baseline-dir", str(d)]) == 0, args
        out = capsys.readouterr().out
        assert not [c for c in bad if c in out], (args, out)
        if "-f" in args:
            import json

            for doc in (out.splitlines() if args[0] == "list" else [out]):
                json.loads(doc)
    # an export written to a file imports back to the same baselines
    assert main(["baseline", "export", "--baseline-dir", str(d), "-o", str(tmp_path / "all.yaml")]) == 0
    again = {p.key: p.to_doc() for p in import_yaml((tmp_path / "all.yaml").read_text(), "all.yaml")}
    assert again == {p.key: p.to_doc() for p in BaselineStore(d).load_all()}


ODD: list[Any] = [None, [], ["/a"], {}, {"a": 1}, 0, -1, 1.5, float("nan"), True, "x" * 100_000, "\udcff/bad",
                  "/ok/\udcfe/f", b"/bytes", "", "::ffff:10.0.0.1", "999999", 2**80, "\x00", "/a/../../..",
                  "\x1b[2J"]
FIELDS = ["container.id", "container.name", "container.image", "container.image.id", "container.labels",
          "k8s.pod.labels", "proc.exepath", "proc.exe", "proc.exe_resolved", "proc.pexe_resolved", "proc.pexepath",
          "proc.pname", "proc.args", "user.name", "user.uid", "fd.name", "fd.sip", "fd.sport", "fd.cip", "fd.lport",
          "fd.typechar", "evt.failed", "evt.rawres", "evt.is_open_write", "evt.is_open_create", "proc.exe_drift",
          "proc.exe_written", "proc.is_exe_upper_layer", "proc.pid"]
BASE = {"container.id": "abcdef012345", "container.name": "shop-web-1", "container.image": "shop/web:1",
        "container.image.id": "sha256:1111", "evt.failed": False, "evt.rawres": 0, "proc.exe_written": False,
        "proc.exe_drift": None, "proc.is_exe_upper_layer": False, "proc.exepath": "/bin/x", "proc.args": "a",
        "user.name": "root", "proc.pid": 5, "fd.name": "/var/x/y", "evt.is_open_write": True, "fd.typechar": "4",
        "fd.sip": "10.0.0.1", "fd.sport": 80, "fd.cip": "10.0.0.2", "fd.lport": 80}
TYPES = ["execve", "execveat", "open", "openat", "openat2", "creat", "connect", "accept", "accept4", "bind"]


@pytest.mark.parametrize("mode", ["learn", "monitor", "protect"])
def test_recorded_events_with_odd_field_types_never_raise(mode: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    rnd = random.Random(14)
    rules = load_rules([default_rules_path()])
    det = BaselineDetector(BaselineStore(tmp_path / "b"), quiet_s=0 if mode != "learn" else 3600)
    ev = Evaluator(rules, [det])
    for i in range(1500):
        t = rnd.choice(TYPES)
        f = {**BASE, "evt.type": t}
        for k in rnd.sample(FIELDS, rnd.randint(1, 4)):
            f[k] = rnd.choice(ODD)
        ev.evaluate(Event(type=t, time_ns=i, fields=f))  # raises on a defect
        if i % 300 == 299:
            det.tick()  # saves what was learned: every name and entry must be storable
            if mode == "protect":
                for p in det.profiles.values():
                    p.mode = "protect"
    det.tick()
    assert det.profiles
    d = tmp_path / "b"
    for args in (["list"], ["list", "-f", "json"], ["export", "-o", str(tmp_path / "x.yaml")]):
        assert main(["baseline", *args, "--baseline-dir", str(d)]) == 0, args
    # what was learned from them exports and imports back as it is
    assert main(["baseline", "import", str(tmp_path / "x.yaml"), "--baseline-dir", str(tmp_path / "c")]) == 0
    assert [p.to_doc() for p in BaselineStore(tmp_path / "c").load_all()] == \
        [p.to_doc() for p in BaselineStore(d).load_all()]
    assert "Traceback" not in capsys.readouterr().err


def test_an_edit_keeps_what_the_agent_saved_while_the_editor_was_open(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "store"
    base = {"container.id": "c1", "container.name": "api-1", "container.image.id": "sha256:api",
            "evt.failed": False, "evt.rawres": 0, "evt.is_open_write": True, "proc.pid": 3}
    det = BaselineDetector(BaselineStore(d), quiet_s=3600)

    def write(path: str) -> None:
        det.detect(Event(type="openat", time_ns=1, fields={**base, "evt.type": "openat", "fd.name": path}))

    write("/var/log/api/a.log")
    write("/srv/old/x")
    det.flush()
    # the "editor": the agent learns and saves meanwhile, and the user removes one entry and adds another
    script = tmp_path / "editor.py"
    script.write_text(
        "import sys, pathlib\n"
        "from containerguard.model import Event\n"
        "from containerguard.runtime.baseline import BaselineDetector, BaselineStore\n"
        f"det = BaselineDetector(BaselineStore({str(d)!r}), quiet_s=3600)\n"
        f"f = {base!r}\n"
        "det.detect(Event(type='openat', time_ns=1, fields={**f, 'evt.type': 'openat', 'fd.name': '/tmp/new/x'}))\n"
        "det.flush()\n"
        "p = pathlib.Path(sys.argv[1])\n"
        "p.write_text(p.read_text().replace('- /srv/old', '- /srv/edited'))\n")
    import sys

    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    capsys.readouterr()
    assert main(["baseline", "edit", "api-*", "--baseline-dir", str(d)]) == 0
    assert "merged" in capsys.readouterr().out
    files = BaselineStore(d).find("api-*").entries["file"]
    assert files == {"/var/log/api", "/srv/edited", "/tmp/new"}  # the edit and the agent's save, both
    det.tick()  # the running agent takes it whole
    assert next(iter(det.profiles.values())).entries["file"] == files


def test_two_writers_never_share_a_version(tmp_path: Path) -> None:
    """Writes from two processes (an agent and the CLI, or two agents on one --baseline-dir) always give a new
    version: a reader that saw one never mistakes the other's for its own."""
    d = tmp_path / "store"
    stores = [BaselineStore(d), BaselineStore(d)]
    seen: list[list[int]] = [[], []]

    def writer(i: int) -> None:
        for n in range(150):
            p = Profile(key="w", image=f"writer{i}-{n}")
            stores[i].save(p)
            seen[i].append(p.version)

    threads = [threading.Thread(target=writer, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    versions = seen[0] + seen[1]
    assert len(set(versions)) == 300 and max(versions) == 300
    assert BaselineStore(d).load("w") is not None


@pytest.mark.parametrize("kind", ["file", "symlink-to-file", "dir-in-file"])
def test_hostile_baseline_dirs_are_one_line_errors(kind: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "plain"
    target.write_text("not a directory\n")
    d = {"file": target, "symlink-to-file": tmp_path / "link", "dir-in-file": target / "sub"}[kind]
    if kind == "symlink-to-file":
        d.symlink_to(target)
    seed = tmp_path / "seed.yaml"
    seed.write_text("workload: a\n")
    for args in (["import", str(seed)], ["list"], ["show", "a"], ["mode", "a", "learn"]):
        capsys.readouterr()
        rc = main(["baseline", *args, "--baseline-dir", str(d)])
        out, err = capsys.readouterr()
        if args == ["list"]:
            assert rc == 0 and "0 workloads" in out
            continue
        assert rc == 2 and err.count("\n") == 1 and err.startswith("error: "), (args, err)
        assert "Traceback" not in err
    assert target.read_text() == "not a directory\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["plain", "seed.yaml"] +
                                                                 (["link"] if kind == "symlink-to-file" else []))


def test_store_times_beyond_a_date_do_not_break_the_agents_report(tmp_path: Path) -> None:
    f = tmp_path / "t.yaml"
    f.write_text(f"workload: a\nlast_change_ns: {2**63 - 1}\ncreated_ns: {2**63 - 1}\n")
    assert main(["baseline", "import", str(f), "--baseline-dir", str(tmp_path / "s")]) == 0
    det = BaselineDetector(BaselineStore(tmp_path / "s"))
    det.sync()
    (summary,) = det.summaries()
    assert summary["last_change"].startswith("2262-")


def test_an_unreadable_stored_row_does_not_stop_the_agent_saving_the_others(tmp_path: Path) -> None:
    d = tmp_path / "store"
    det = BaselineDetector(BaselineStore(d), quiet_s=3600)
    base = {"container.id": "c1", "container.name": "api-1", "container.image.id": "sha256:api",
            "evt.failed": False, "evt.rawres": 0, "evt.is_open_write": True, "proc.pid": 3, "evt.type": "openat"}
    det.detect(Event(type="openat", time_ns=1, fields={**base, "fd.name": "/var/a/x"}))
    det.tick()
    with sqlite3.connect(d / "baselines.db") as db:  # another workload's row, broken by hand
        db.execute("INSERT INTO workloads VALUES ('broken', '{not json', 7, 0)")
    det.detect(Event(type="openat", time_ns=1, fields={**base, "fd.name": "/var/b/x"}))
    det.tick()  # reloads what changed (the broken row is skipped) and saves what was learned
    det.tick()
    assert BaselineStore(d).load("sha256:api/api-*").entries["file"] == {"/var/a", "/var/b"}  # type: ignore[union-attr]


def test_an_export_of_one_workload_named_twice_imports_back(bdir: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "twice.yaml"
    assert main(["baseline", "export", "img/web-*", "img/", "img/web-*", "--baseline-dir", str(bdir),
                 "-o", str(out)]) == 0
    assert main(["baseline", "import", str(out), "--baseline-dir", str(tmp_path / "again")]) == 0
    assert [p.key for p in BaselineStore(tmp_path / "again").load_all()] == ["img/web-*"]


def test_two_agents_and_the_cli_on_one_store_lose_no_update(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Two agents (BaselineDetectors with their own connections) learn one workload on one --baseline-dir while
    the CLI changes its mode and edits it: every entry either learned and every change the CLI made is kept."""
    d = tmp_path / "store"
    a, b = BaselineDetector(BaselineStore(d), quiet_s=3600), BaselineDetector(BaselineStore(d), quiet_s=3600)
    base = {"container.id": "c1", "container.name": "api-1", "container.image.id": "sha256:api",
            "evt.failed": False, "evt.rawres": 0, "evt.is_open_write": True, "proc.pid": 3, "evt.type": "openat"}

    def write(det: BaselineDetector, d: str) -> None:  # directory names without digits: not generalised
        det.detect(Event(type="openat", time_ns=1, fields={**base, "fd.name": f"/{d}/x"}))

    write(a, "ax")
    a.tick()
    write(b, "bx")  # b created the workload too: its insert loses, and is added to a's
    b.tick()
    b.tick()
    write(a, "ay")
    write(b, "by")
    assert main(["baseline", "mode", "api-*", "monitor", "--baseline-dir", str(d)]) == 0
    write(a, "az")  # learned (in memory) before the agent took the mode change
    a.tick()
    b.tick()
    a.tick()
    b.tick()
    stored = BaselineStore(d).find("api-*")
    assert stored.entries["file"] == {"/ax", "/bx", "/ay", "/by", "/az"}
    assert stored.mode == "monitor"
    for det in (a, b):
        (prof,) = det.profiles.values()
        assert prof.entries["file"] == stored.entries["file"] and prof.mode == "monitor"
    # a lock taken meanwhile stands, and a locked workload learns nothing more
    write(a, "aw")
    assert main(["baseline", "lock", "api-*", "--baseline-dir", str(d)]) == 0
    a.tick()
    stored = BaselineStore(d).find("api-*")
    assert stored.locked and "/aw" not in stored.entries["file"]


@pytest.mark.parametrize("editor", ["/nonexistent/editor", '"unclosed', "   ", "/etc/hostname", "false"])
def test_an_editor_that_cannot_run_is_one_line_and_leaves_nothing(editor: str, bdir: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # TMPDIR is read again
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", editor)
    before = _rows(bdir)
    capsys.readouterr()
    assert main(["baseline", "edit", "img/web-*", "--baseline-dir", str(bdir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "the baseline is unchanged" in err, err
    assert _rows(bdir) == before
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_drift_alert_for_a_file_named_with_bytes_that_are_not_utf8_is_not_dropped(tmp_path: Path) -> None:
    """A path read from /proc (os.readlink) keeps an undecodable byte as a lone surrogate: the attacker who wrote
    the binary chose its name. The alert line must still reach every output (it was dropped as unwritable)."""
    import json
    import os

    from containerguard.runtime.emit import Emitter
    from containerguard.runtime.outputs import Outputs, open_output

    exe = os.fsdecode(b"/tmp/\xff\xfeevil")
    det = BaselineDetector(BaselineStore(tmp_path / "b"), quiet_s=3600)
    f = {"container.id": "c1", "container.name": "api-1", "container.image.id": "sha256:api", "evt.type": "execve",
         "proc.exepath": exe, "proc.exe_resolved": exe, "proc.exe_written": True, "user.name": "root",
         "proc.args": "", "proc.pid": 9, "evt.failed": False, "evt.rawres": 0}
    event = Event(type="execve", time_ns=1, fields=f)
    (alert,) = [a for a in det.detect(event) if a.rule_id == "CG-B005"]
    path = tmp_path / "alerts.jsonl"
    outputs = Outputs([open_output(f"file:{path}")])
    Emitter(outputs, "host").emit(alert, event, ())
    outputs.close()
    assert outputs.dropped == 0
    (doc,) = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert doc["output_fields"]["proc.exepath"] == exe  # JSON's \udcff escapes give the name back
    det.tick()  # and the baseline holding it is saved
    assert BaselineStore(tmp_path / "b").load_all()[0].deviations


def test_a_store_held_by_another_writer_is_one_line_and_nothing_is_lost(bdir: Path, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import containerguard.runtime.baseline.store as store_mod

    real = sqlite3.connect
    monkeypatch.setattr(store_mod.sqlite3, "connect", lambda *a, **k: real(*a, **{**k, "timeout": 0.2}))
    det = BaselineDetector(BaselineStore(bdir), quiet_s=3600)
    ev = {"container.id": "c1", "container.name": "api-1", "container.image.id": "sha256:api", "evt.type": "openat",
          "evt.failed": False, "evt.rawres": 0, "evt.is_open_write": True, "proc.pid": 3, "fd.name": "/srv/a/x"}
    det.detect(Event(type="openat", time_ns=1, fields=ev))
    holder = real(str(bdir / "baselines.db"), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the store past the busy timeout
    try:
        before = capsys.readouterr()
        for args in (["lock", "img/web-*"], ["mode", "img/web-*", "learn"]):
            assert main(["baseline", *args, "--baseline-dir", str(bdir)]) == 2, args
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and "database is locked" in err and "internal error" not in err, err
        for args in (["list"], ["show", "img/web-*"]):  # readers are not held (WAL)
            assert main(["baseline", *args, "--baseline-dir", str(bdir)]) == 0, args
        with pytest.raises(Exception, match="database is locked"):
            det.flush()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    del before
    det.flush()  # the workload that could not be saved then is saved now, without learning anything new
    assert BaselineStore(bdir).find("api-*").entries["file"] == {"/srv/a"}


def test_mutated_exports_are_refused_with_one_line_or_imported(tmp_path: Path) -> None:
    """Random damage to a real export (inserted YAML syntax, tags, bytes; cut spans): every outcome is a valid
    import or one BaselineError line naming the file, never another exception."""
    from containerguard.errors import BaselineError
    from containerguard.runtime.baseline.yamlio import decode, export_yaml

    prof = Profile(key="sha256:1/web-*", image="web:1", image_id="sha256:1", name_pattern="web-*", mode="monitor")
    prof.entries = {"process": {"/usr/bin/date|root|/usr/bin/dash|+%s <N>"}, "file": {"/var/log/app"},
                    "network": {"out 10.0.0.0/24:5432", "listen 80"}, "syscall": {"openat", "execve"}}
    prof.deviations = {"file /tmp"}
    base = export_yaml([prof]).encode()
    toks = [b"\n", b": ", b"- ", b"[", b"]", b"{", b"}", b"&a ", b"*a", b"!!int ", b"!!float ", b"!!bool ",
            b"!!timestamp ", b"!!binary ", b"!!set ", b"!!omap ", b"!!python/name:os.system ", b"? ", b"|", b">",
            b"\t", b"'", b'"', b"\\", b"\xff", b"\x00", b"\x1b", b"~", b"1e9999", b"<<: ", b"%TAG ", b"---", b"#"]
    rnd = random.Random(1414)
    for _ in range(1500):
        data = bytearray(base)
        for _ in range(rnd.randint(1, 4)):
            pos = rnd.randrange(len(data) + 1)
            if rnd.random() < 0.6:
                data[pos:pos] = rnd.choice(toks)
            else:
                del data[pos:pos + rnd.randint(1, 20)]
        try:
            import_yaml(decode(bytes(data), "f.yaml"), "f.yaml")
        except BaselineError as exc:
            assert str(exc).startswith("f.yaml") and "\n" not in str(exc), str(exc)
