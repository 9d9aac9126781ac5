"""The console's read-only Risk and Policies pages, on the same service functions as ``GET /api/v1/risk``
(services/risk.py) and ``GET /api/v1/policy/violations`` + ``/policy/summary`` (services/policies.py): the
console shows what the API answers, and never runs an analyzer."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from containerguard.server.services import policies as policy_svc
from containerguard.server.services import risk as risk_svc
from containerguard.server.store import transaction
from containerguard.server.webui import views
from containerguard.server.webui.console import Console

#: ranked rows per page: one screen
RISK_ROWS = 25
#: policies listed with their counts (the default set has 39)
POLICY_ROWS = 50
#: violations per page: one screen
VIOLATION_ROWS = 50
RISK_TABS = (("images", "Images"), ("containers", "Running containers"), ("findings", "Findings"))


def build(router: APIRouter, console: Console) -> None:
    render = console.render

    @router.get("/risk", response_class=HTMLResponse)
    def risk_page(request: Request, kind: str = "images", page: str = "1") -> Response:
        viewer = console.viewer(request, "risk")
        kind = kind if kind in risk_svc.KINDS else "images"
        number = views.page_number(page)
        with transaction(request.app.state.cg.reads or request.app.state.cg.sessions) as s:
            # one row more than shown tells whether there is a next page (findings have no total)
            got = risk_svc.ranked(s, kind, limit=RISK_ROWS + 1, offset=(number - 1) * RISK_ROWS)
        items: list[dict[str, Any]] = got["items"]
        rows = views.Page(items[:RISK_ROWS], number, None, len(items) > RISK_ROWS)
        return render(request, "risk.html", viewer, "risk", title="Risk", kind=kind, tabs=RISK_TABS, page=rows,
                      total=got["total"], base_query=f"kind={kind}", sev_name=views.SEV_NAME)

    @router.get("/policies", response_class=HTMLResponse)
    def policies_page(request: Request, policy: str = "", stage: str = "", action: str = "",
                      page: str = "1") -> Response:
        viewer = console.viewer(request, "policies")
        policy, action = policy[:64], action[:24]
        stage = stage if stage in policy_svc.STAGES else ""
        number = views.page_number(page)
        with transaction(request.app.state.cg.reads or request.app.state.cg.sessions) as s:
            summary = policy_svc.summary(s)[:POLICY_ROWS]
            actions = policy_svc.actions(s)
            # one row more than shown tells whether there is a next page
            got = [policy_svc.as_dict(v) for v in policy_svc.listing(
                s, filters=policy_svc.Filters(policy=policy, stage=stage, action=action), limit=VIOLATION_ROWS + 1,
                offset=(number - 1) * VIOLATION_ROWS)]
            enforcers = policy_svc.enforcers(s)
        rows = views.Page(got[:VIOLATION_ROWS], number, None, len(got) > VIOLATION_ROWS)
        query = urlencode([(k, v) for k, v in (("policy", policy), ("stage", stage), ("action", action)) if v])
        return render(request, "policies.html", viewer, "policies", title="Policies", summary=summary,
                      page=rows, latest=rows.rows, policy=policy, stage=stage, action=action, actions=actions,
                      stages=policy_svc.STAGES, policy_ids=sorted({p["policy"] for p in summary}), base_query=query,
                      enforcers=enforcers)
