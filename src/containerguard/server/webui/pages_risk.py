"""The console's read-only Risk and Policies pages, on the same service functions as ``GET /api/v1/risk``
(services/risk.py) and ``GET /api/v1/policy/violations`` + ``/policy/summary`` (services/policies.py): the
console shows what the API answers, and never runs an analyzer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from containerguard.server.services import policies as policy_svc
from containerguard.server.services import risk as risk_svc
from containerguard.server.store import transaction
from containerguard.server.webui import views
from containerguard.server.webui.console import Console

#: ranked rows per page: one screen
RISK_ROWS = 25
#: latest violations shown under the per-policy counts
LATEST_VIOLATIONS = 50
RISK_TABS = (("images", "Images"), ("containers", "Running containers"), ("findings", "Findings"))


def build(router: APIRouter, console: Console) -> None:
    render = console.render

    @router.get("/risk", response_class=HTMLResponse)
    def risk_page(request: Request, kind: str = "images", page: str = "1") -> Response:
        viewer = console.viewer(request, "risk")
        kind = kind if kind in risk_svc.KINDS else "images"
        number = views.page_number(page)
        with transaction(request.app.state.cg.sessions) as s:
            # one row more than shown tells whether there is a next page (findings have no total)
            got = risk_svc.ranked(s, kind, limit=RISK_ROWS + 1, offset=(number - 1) * RISK_ROWS)
        items: list[dict[str, Any]] = got["items"]
        rows = views.Page(items[:RISK_ROWS], number, None, len(items) > RISK_ROWS)
        return render(request, "risk.html", viewer, "risk", title="Risk", kind=kind, tabs=RISK_TABS, page=rows,
                      total=got["total"], base_query=f"kind={kind}", sev_name=views.SEV_NAME)

    @router.get("/policies", response_class=HTMLResponse)
    def policies_page(request: Request, policy: str = "", stage: str = "") -> Response:
        viewer = console.viewer(request, "policies")
        policy, stage = policy[:64], stage[:16]
        with transaction(request.app.state.cg.sessions) as s:
            summary = policy_svc.summary(s)
            latest = [policy_svc.as_dict(v) for v in
                      policy_svc.listing(s, policy=policy, stage=stage, limit=LATEST_VIOLATIONS)]
            enforcers = policy_svc.enforcers(s)
        return render(request, "policies.html", viewer, "policies", title="Policies", summary=summary,
                      latest=latest, policy=policy, stage=stage, enforcers=enforcers)
