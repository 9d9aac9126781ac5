"""The ranked risk view (services/risk.py; the formula is in docs/server.md, "Risk view")."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from containerguard.server.api.deps import require, tx
from containerguard.server.api.strict import StrictRoute
from containerguard.server.services import risk as svc
from containerguard.server.services.audit import Actor

router = APIRouter(route_class=StrictRoute)


@router.get("/risk", summary="Images, running containers or findings ranked by risk in context, each with its why")
def ranked_risk(request: Request, _: Annotated[Actor, Depends(require("risk:read"))],
                kind: Literal["images", "containers", "findings"] = "images",
                limit: Annotated[int, Query(ge=1, le=1000)] = 50, offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
                alert_hours: Annotated[float, Query(gt=0, le=24 * 90)] = 24) -> dict[str, Any]:
    with tx(request) as s:
        return svc.ranked(s, kind, limit=limit, offset=offset, window=dt.timedelta(hours=alert_hours))
