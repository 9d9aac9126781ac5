"""The REST API under /api/v1: one router per area; each route names the permission it needs."""

from __future__ import annotations

from fastapi import APIRouter

from containerguard.server.api import (
    routes_core,
    routes_exceptions,
    routes_hosts,
    routes_notify,
    routes_policy,
    routes_registries,
    routes_risk,
    routes_users,
)

router = APIRouter()
router.include_router(routes_core.router)
router.include_router(routes_exceptions.router)
router.include_router(routes_hosts.router)
router.include_router(routes_registries.router)
router.include_router(routes_users.router)
router.include_router(routes_notify.router)
router.include_router(routes_policy.router)
router.include_router(routes_risk.router)

__all__ = ["router"]
