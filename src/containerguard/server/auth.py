"""Tokens and roles.

A token is ``cg_`` + 43 URL-safe characters from :func:`secrets.token_urlsafe` (256 bits). Only its
SHA-256 is stored: a random 256-bit secret cannot be brute-forced, so a slow password hash (argon2, bcrypt)
would add nothing but a per-request cost, and a plain digest lets the server find the token by index
(GitHub and PyPI store API tokens the same way). Comparison happens in the database on the digest.

Roles map to permissions; every endpoint names the one permission it needs (see :data:`ROLES`):

=========  =====================================================================================
admin      everything, including tokens, registries, notification targets and the audit log
analyst    read everything but tokens and audit; scan uploads; exceptions; trigger scans/rescans
viewer     read images, findings, hosts, containers, alerts, events, exceptions, risk
agent      report its own host's containers, alerts and runtime policy decisions; read its own host's record
           (``GET /hosts/self``), exceptions and the policy set (nothing else)
ci         upload scans (and their build policy decisions); read exceptions and the policy set (to apply
           them in CI: ``scan --policy-from-server``)
enforcer   the admission webhook and the Docker plugin: report deploy-time policy decisions and read the policy
           set, nothing else (a stolen enforcer token reads no finding and changes no policy)
=========  =====================================================================================

Policies: every reading role (and agent, enforcer) reads the server's policy set (``policies:read``); only
admin changes it (``policies:write``, `containerguard policy push`): a policy set can deny every deployment in
the fleet, so changing it is an administrator's act, recorded in the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

ROLE_NAMES = ("admin", "analyst", "viewer", "agent", "ci", "enforcer")

READ = frozenset({"images:read", "findings:read", "hosts:read", "alerts:read", "events:read",
                  "exceptions:read", "risk:read", "registries:read", "jobs:read", "notifications:read",
                  "policies:read"})
ROLES: dict[str, frozenset[str]] = {
    "viewer": READ,
    "analyst": READ | {"scans:write", "exceptions:write", "jobs:write", "alerts:ack"},
    "agent": frozenset({"agent:write", "exceptions:read", "policy:report", "policies:read", "host:self"}),
    "ci": frozenset({"scans:write", "exceptions:read", "policies:read"}),
    "enforcer": frozenset({"policy:report", "policies:read"}),
}
ROLES["admin"] = ROLES["analyst"] | {"tokens:admin", "audit:read", "registries:write", "notifications:write",
                                     "policies:write", "admin"}

PREFIX = "cg_"


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def hash_secret(secret: str) -> str:
    """Shared secrets (registry notification webhooks) are stored like tokens."""
    return hash_token(secret)


def secret_matches(secret: str, stored_hash: str) -> bool:
    return bool(stored_hash) and hmac.compare_digest(hash_secret(secret), stored_hash)


def allowed(role: str, permission: str) -> bool:
    return permission in ROLES.get(role, frozenset())
