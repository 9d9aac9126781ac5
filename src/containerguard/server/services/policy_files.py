"""The policy set the server holds: the files of a policy directory, pushed as a whole
(`containerguard policy push DIR --server`), listed, and fetched by the enforcement points
(``--policy-from-server``) with the set's revision as an ETag.

A push is validated by the same loader the enforcement points use (schema, CEL, duplicate ids, file:line
errors) before anything is stored, and replaces the previous set in one transaction: a bad push changes
nothing, and what an enforcement point fetches always loads. The revision is the SHA-256 of the sorted
(name, file digest) pairs, so pushing the same directory twice is not a change.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from containerguard.errors import PolicyError
from containerguard.server.services import Invalid
from containerguard.server.services.audit import Actor, record
from containerguard.server.store.models import PolicyFile, utcnow

MAX_FILES = 500
MAX_TOTAL = 16 * 1024 * 1024


def _check_name(name: str) -> str:
    p = PurePosixPath(name)
    if (not name or len(name) > 255 or p.is_absolute() or ".." in p.parts or "\\" in name
            or any(ord(c) < 0x20 for c in name) or p.suffix not in (".yaml", ".yml")):
        raise Invalid(f"policy file name {name[:100]!r}: expected a relative path ending in .yaml or .yml")
    return str(p)


def validate(files: Sequence[tuple[str, str]]) -> Any:
    """Load ``files`` (name, text) as an enforcement point would (default set included); the PolicySet, or
    Invalid with the loader's FILE:LINE reason."""
    from containerguard.policy import load_policies
    from containerguard.policy.remote import write_files

    if len(files) > MAX_FILES:
        raise Invalid(f"{len(files)} policy files: at most {MAX_FILES}")
    if sum(len(t) for _, t in files) > MAX_TOTAL:
        raise Invalid(f"the policy files exceed {MAX_TOTAL} bytes")
    names = [_check_name(n) for n, _ in files]
    if len(set(names)) != len(names):
        raise Invalid("two policy files have the same name")
    with tempfile.TemporaryDirectory(prefix="cg-policies-") as tmp:
        write_files(zip(names, (t for _, t in files), strict=True), Path(tmp))
        try:
            return load_policies([tmp])
        except PolicyError as exc:
            raise Invalid(str(exc).replace(tmp + "/", "")) from None


def revision_of(pairs: Sequence[tuple[str, str]]) -> str:
    """(name, sha256) pairs -> the set's revision ("" for an empty set)."""
    if not pairs:
        return ""
    h = hashlib.sha256()
    for name, digest in sorted(pairs):
        h.update(f"{name}\0{digest}\n".encode())
    return h.hexdigest()


def push(session: Session, actor: Actor, files: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Replace the stored policy set with ``files`` (validated first)."""
    ps = validate(files)
    before = revision(session)
    now = utcnow()
    session.execute(delete(PolicyFile))
    rows = [PolicyFile(name=_check_name(n), text=t, sha256=hashlib.sha256(t.encode()).hexdigest(),
                       pushed_by=actor.label, pushed_at=now) for n, t in files]
    session.add_all(rows)
    session.flush()
    after = revision_of([(r.name, r.sha256) for r in rows])
    record(session, actor, "policies.push", "policy_set", after[:16], files=len(rows),
           policies=len(ps.policies), previous=before[:16])
    return {"revision": after, "files": len(rows), "policies": len(ps.policies), "changed": after != before}


def revision(session: Session) -> str:
    return revision_of([(n, d) for n, d in session.execute(select(PolicyFile.name, PolicyFile.sha256)).all()])


def bundle(session: Session) -> dict[str, Any]:
    """What an enforcement point fetches: the revision and every file."""
    rows = list(session.scalars(select(PolicyFile).order_by(PolicyFile.name)))
    return {"revision": revision_of([(r.name, r.sha256) for r in rows]),
            "pushed_at": max((r.pushed_at for r in rows), default=None),
            "files": [{"name": r.name, "text": r.text} for r in rows]}


_DIGESTS: dict[str, str] = {}


def effective_digest(session: Session) -> str:
    """The digest (policy/reporting.py's ``policy_set_digest``) of the set an enforcement point loads from the
    stored files alone: what it reports when it runs the server's set unchanged. Cached per revision."""
    rev = revision(session)
    if rev not in _DIGESTS:
        from containerguard.policy.reporting import policy_set_digest

        b = bundle(session)
        if len(_DIGESTS) > 64:
            _DIGESTS.clear()
        _DIGESTS[rev] = policy_set_digest(validate([(f["name"], f["text"]) for f in b["files"]]))
    return _DIGESTS[rev]


def listing(session: Session) -> dict[str, Any]:
    """The effective set an enforcement point would load from the stored files (defaults included unless a
    file says ``defaults: false``), one entry per policy, with where it came from."""
    from containerguard.policy.reporting import policy_set_digest

    b = bundle(session)
    ps = validate([(f["name"], f["text"]) for f in b["files"]])
    pushed = {f["name"] for f in b["files"]}
    out = []
    for p in ps.policies:
        src = p.source.rsplit(":", 1)[0]
        origin = "default" if src.startswith("<defaults>") else "server"
        out.append({"id": p.id, "name": p.name, "severity": p.severity, "description": p.description,
                    "enforcement": {str(k): str(v) for k, v in p.enforcement.items()}, "enabled": p.enabled,
                    "origin": origin, "file": next((n for n in pushed if src.endswith("/" + n)), "") if origin == "server" else src})
    return {"revision": b["revision"], "pushed_at": b["pushed_at"].isoformat() if b["pushed_at"] else None,
            "digest": policy_set_digest(ps), "files": sorted(pushed), "policies": out}
