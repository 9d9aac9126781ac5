"""Which console page and action needs which of the server's permissions (``server.auth.ROLES``): the
console has no role table of its own, so a role sees in the browser exactly what its token may read
through the API. One table, used by the routes, the navigation and the tests (every page x every role).

``agent`` and ``ci`` tokens are machine credentials with no read permission on the console's data: they
cannot open a session (login answers 403), so no page can show an agent another host's data.
"""

from __future__ import annotations

from dataclasses import dataclass

from containerguard.server import auth

#: section -> the permissions a role needs to open its pages
SECTIONS: dict[str, frozenset[str]] = {
    "dashboard": frozenset({"images:read", "findings:read", "alerts:read", "hosts:read"}),
    "images": frozenset({"images:read", "findings:read"}),
    "runtime": frozenset({"alerts:read", "hosts:read"}),
    "risk": frozenset({"risk:read"}),                # the API's GET /risk
    "policies": frozenset({"findings:read"}),        # the API's GET /policy/violations and /policy/summary
    "audit": frozenset({"audit:read"}),
    "manage": frozenset({"registries:read", "notifications:read"}),
    "tokens": frozenset({"tokens:admin"}),
}

#: action -> the permission it needs
ACTIONS: dict[str, str] = {
    "accept": "exceptions:write",        # accept a finding / mark it a false positive
    "rescan": "jobs:write",
    "registry-sync": "jobs:write",
    "acknowledge": "alerts:ack",
    "manage-write": "tokens:admin",
    "registries-write": "registries:write",      # add / remove a registry
    "notifications-write": "notifications:write",  # add / remove / test a notification target
}


@dataclass(frozen=True, slots=True)
class NavItem:
    key: str
    label: str
    href: str


NAV: tuple[NavItem, ...] = (
    NavItem("dashboard", "Dashboard", "/"),
    NavItem("images", "Images", "/images"),
    NavItem("runtime", "Runtime", "/runtime"),
    NavItem("risk", "Risk", "/risk"),
    NavItem("policies", "Policies", "/policies"),
    NavItem("audit", "Audit log", "/audit"),
    NavItem("manage", "Manage", "/manage"),
)


def may_see(role: str, section: str) -> bool:
    need = SECTIONS.get(section)
    return need is not None and all(auth.allowed(role, p) for p in need)


def may_do(role: str, action: str) -> bool:
    need = ACTIONS.get(action)
    return need is not None and auth.allowed(role, need)


def nav_for(role: str) -> list[NavItem]:
    return [item for item in NAV if may_see(role, item.key)]


def landing(role: str) -> str:
    """Where a role lands after logging in when no ``next`` was asked for ("/no-access": nowhere)."""
    for item in NAV:
        if may_see(role, item.key):
            return item.href
    return "/no-access"
