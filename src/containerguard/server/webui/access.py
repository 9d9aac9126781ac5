"""Who may open which console page and run which action: one table, used by the routes, the navigation
and the tests (every page x every role -> 200 or 403).

The roles are the server's (admin, analyst, viewer, agent, ci). ``ci`` tokens only upload scans and have
no business in the console. ``agent`` tokens may open the runtime pages, and those pages then show only
the agent's own host (the query functions take the host as a filter; nothing across hosts is rendered).
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES: tuple[str, ...] = ("admin", "analyst", "viewer", "agent", "ci")

READERS = frozenset({"admin", "analyst", "viewer"})
ACTORS = frozenset({"admin", "analyst"})
ADMINS = frozenset({"admin"})

#: section -> roles that may open its pages
SECTIONS: dict[str, frozenset[str]] = {
    "dashboard": READERS,
    "images": READERS,
    "runtime": READERS | {"agent"},
    "audit": ACTORS,
    "manage": READERS,          # read-only for viewers; changes need ``manage-write``
    "tokens": ADMINS,
}

#: action -> roles that may run it
ACTIONS: dict[str, frozenset[str]] = {
    "accept": ACTORS,            # accept a finding / mark it a false positive / revoke an exception
    "rescan": ACTORS,
    "registry-sync": ACTORS,
    "acknowledge": ACTORS | {"agent"},   # an agent acknowledges its own host's alerts only
    "manage-write": ADMINS,
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
    NavItem("audit", "Audit log", "/audit"),
    NavItem("manage", "Manage", "/manage"),
)


def may_see(role: str, section: str) -> bool:
    return role in SECTIONS.get(section, frozenset())


def may_do(role: str, action: str) -> bool:
    return role in ACTIONS.get(action, frozenset())


def nav_for(role: str) -> list[NavItem]:
    return [item for item in NAV if may_see(role, item.key)]


def landing(role: str) -> str:
    """Where a role lands after logging in when no ``next`` was asked for."""
    return "/" if may_see(role, "dashboard") else "/runtime" if may_see(role, "runtime") else "/no-access"
