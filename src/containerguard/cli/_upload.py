"""`scan --server URL --token T`: apply the server's exceptions to the scan, then upload the result.

Exceptions are fetched before the report is printed, so a CI gate (``--fail-on``) honours the team's
accepted risks; the upload is the native JSON document (inventory + findings) the server stores by image
digest. Both go through :class:`~containerguard.cli._client.Client` (retries with backoff)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from containerguard.cli._client import Client


def server_ignore_rules(client: Client, inventory: Any) -> Any:
    """The server's active exceptions that apply to this image, as an in-memory ignore file."""
    from containerguard.filters.ignore import IgnoreFile, IgnoreRule

    digest = inventory.image.id if inventory.image is not None else ""
    names = set()
    if inventory.image is not None:
        for ref in (*inventory.image.repo_tags, *inventory.image.repo_digests):
            name = ref.partition("@")[0]
            last = name.rsplit("/", 1)[-1]
            names.add(name.rpartition(":")[0] if ":" in last else name)
    rules = []
    for e in client.request("GET", "/exceptions"):
        scope = e["scope"]
        if scope == "image" and e["image_digest"] != digest:
            continue
        if scope == "finding" and e["image_digest"] != digest:
            continue
        if scope == "repository" and e["repository"] not in names:
            continue
        expires = dt.datetime.fromisoformat(e["expires_at"]).date() if e.get("expires_at") else None
        rules.append(IgnoreRule(id=e["vuln_id"], package=e["package_name"] or None,
                                reason=f"server exception {e['id']} ({e['kind']}): {e['reason']}",
                                expires=expires, source=f"{client.base} exception {e['id']}"))
    return IgnoreFile(path=f"{client.base}/api/v1/exceptions", rules=tuple(rules))


def apply_server_exceptions(client: Client, res: Any) -> Any:
    from containerguard import filters

    ignore = server_ignore_rules(client, res.inventory)
    if not ignore.rules:
        return res
    out = filters.filter_findings(res.findings, ignore_file=ignore)
    return dataclasses.replace(res, findings=out.kept, suppressed=(*res.suppressed, *out.suppressed))


def upload(client: Client, document: str | bytes) -> dict[str, Any]:
    data = document.encode() if isinstance(document, str) else document
    out: dict[str, Any] = client.request("POST", "/scans", content=data,
                                         headers={"Content-Type": "application/json"})
    return out


def upload_policy_decision(client: Client, decision: Any, *, image_name: str, image_digest: str) -> int:
    """Store a build-stage policy decision's violations in the server (``scan --policy --server``)."""
    body = {"stage": str(decision.stage), "source": "scan", "image_name": image_name[:512],
            "image_digest": image_digest if image_digest.startswith("sha256:") else "",
            "violations": [v.to_dict() for v in decision.violations]}
    out: dict[str, Any] = client.request("POST", "/policy/decisions", json=body)
    return int(out.get("recorded", 0))


def server_policy_set(client: Client, paths: Any) -> Any:
    """The policy set the server holds (``policy push``), with the local ``paths`` (``--policy``) on top of it
    loaded beside it (``scan --policy-from-server``)."""
    import tempfile
    from pathlib import Path

    from containerguard.errors import ServerError
    from containerguard.policy import load_policies
    from containerguard.policy.remote import write_files

    bundle = client.request("GET", "/policies/bundle")
    with tempfile.TemporaryDirectory(prefix="cg-server-policies-") as tmp:
        try:
            write_files(((str(f["name"]), str(f["text"])) for f in bundle.get("files", [])), Path(tmp))
        except (ValueError, KeyError, TypeError) as exc:
            raise ServerError(f"the server's policy bundle: {exc}") from None
        return load_policies([*(paths or []), tmp])
