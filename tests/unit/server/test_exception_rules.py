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
