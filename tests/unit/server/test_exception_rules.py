"""The exception rule exists twice by necessity -- in Python (Matcher.match, marking listed findings) and
in SQL (covers, filtering and counting open findings in the database): they must agree on every case."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import select

from containerguard.server.services import exceptions as svc
from containerguard.server.store import make_engine, migrate, session_factory, transaction
from containerguard.server.store.models import Finding, FindingException, Image, ImageName


def test_sql_and_python_exception_rules_agree(tmp_path):
    engine = make_engine(str(tmp_path / "x.sqlite"))
    migrate(engine)
    now = dt.datetime.now(dt.UTC)
    with transaction(session_factory(engine)) as s:
        imgs = [Image(digest=f"sha256:{i:064x}", name=f"img{i}") for i in range(3)]
        s.add_all(imgs)
        s.flush()
        s.add_all([ImageName(image_id=imgs[0].id, repository="reg/team/a", tag="1"),
                   ImageName(image_id=imgs[1].id, repository="reg/team/b", tag="1")])
        for n, (img, vuln, pkg) in enumerate(itertools.product(imgs, ("CVE-1", "CVE-2", "CVE-3"), ("openssl", "zlib"))):
            s.add(Finding(image_id=img.id, fingerprint=f"{n:064d}", kind="vulnerability", vuln_id=vuln, severity=4,
                          package_name=pkg))
        later, earlier = now + dt.timedelta(days=1), now - dt.timedelta(days=1)
        rows = [
            dict(vuln_id="CVE-1", scope="global"),
            dict(vuln_id="CVE-2", scope="image", image_digest=imgs[1].digest),
            dict(vuln_id="CVE-2", scope="finding", image_digest=imgs[0].digest, package_name="zlib", expires_at=later),
            dict(vuln_id="CVE-3", scope="repository", repository="reg/team/a"),
            dict(vuln_id="CVE-3", scope="finding", image_digest=imgs[2].digest, package_name="openssl",
                 expires_at=earlier),                                      # lapsed
            dict(vuln_id="CVE-3", scope="image", image_digest=imgs[1].digest, revoked_at=earlier),  # revoked
            dict(vuln_id="CVE-2", scope="finding", image_digest=imgs[2].digest, package_name=""),   # no package
        ]
        for r in rows:
            s.add(FindingException(kind="risk_accepted", reason="r", author="t", **r))
    with transaction(session_factory(engine)) as s:
        m = svc.matcher(s)
        got = s.execute(select(Finding, Image, svc.covers(dt.datetime.now(dt.UTC)))
                        .join(Image, Image.id == Finding.image_id)).all()
        assert len(got) == 18
        covered = 0
        for f, img, sql in got:
            assert bool(sql) == (m.match(f, img) is not None), (img.name, f.vuln_id, f.package_name)
            covered += bool(sql)
        assert covered == 6 + 2 + 1 + 2  # global CVE-1; CVE-2 in img1; CVE-2/zlib in img0; CVE-3 in repo a


def test_stored_cover_follows_every_change(tmp_path):
    """``Finding.excepted_until`` (what the risk ranking and the open lists read) equals the SQL rule after each
    kind of change: an exception created and revoked, a lapse by time, new findings, a new repository name."""
    from containerguard.model import Finding as MFinding
    from containerguard.model import FindingKind, Package, Severity
    from containerguard.server.services import images
    from containerguard.server.services.audit import SYSTEM

    engine = make_engine(str(tmp_path / "x.sqlite"))
    migrate(engine)
    factory = session_factory(engine)

    def agree() -> int:
        with transaction(factory) as s:
            now = dt.datetime.now(dt.UTC)
            rows = s.execute(select(Finding.id, svc.covers(now), svc.is_open(now)).join(Image, Image.id == Finding.image_id)).all()
            for fid, covered, open_ in rows:
                assert bool(covered) != bool(open_), fid
            return sum(bool(c) for _, c, _ in rows)

    def mf(vuln: str, pkg: str) -> MFinding:
        return MFinding(kind=FindingKind.VULNERABILITY, id=vuln, severity=Severity.HIGH,
                        package=Package(type="pypi", name=pkg, version="1.0"), title=vuln)

    with transaction(factory) as s:
        img = Image(digest=f"sha256:{1:064x}", name="reg/team/a:1")
        s.add(img)
        s.flush()
        images.replace_findings(s, img, [mf("CVE-1", "openssl"), mf("CVE-2", "zlib")])
        digest, img_id = img.digest, img.id
    assert agree() == 0
    with transaction(factory) as s:
        e1 = svc.create(s, SYSTEM, vuln_id="CVE-1", scope="image", kind="risk_accepted", reason="r", image_digest=digest)
        svc.create(s, SYSTEM, vuln_id="CVE-2", scope="repository", kind="false_positive", reason="r",
                   repository="reg/team/b")
        soon = svc.create(s, SYSTEM, vuln_id="CVE-3", scope="global", kind="risk_accepted", reason="r",
                          expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
        e1_id, soon_id = e1.id, soon.id
    assert agree() == 1  # CVE-1 only: the image is not (yet) named reg/team/b
    with transaction(factory) as s:  # a registry sync notes a new name that the repository exception names
        from containerguard.server.services import registries

        registries.note_name(s, img_id, "reg/team/b", "2", "")
    assert agree() == 2
    with transaction(factory) as s:  # new findings of a covered vulnerability are covered at once
        images.replace_findings(s, s.get(Image, img_id), [mf("CVE-1", "openssl"), mf("CVE-2", "zlib"),
                                                          mf("CVE-3", "bzip2")])
    assert agree() == 3
    with transaction(factory) as s:
        svc.revoke(s, SYSTEM, e1_id)
    assert agree() == 2
    import time

    time.sleep(1.2)  # the global CVE-3 exception lapses: no write needed for the finding to reopen
    assert agree() == 1
    with transaction(factory) as s:
        assert s.get(FindingException, soon_id).revoked_at is None
