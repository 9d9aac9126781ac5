"""Images, findings, scan uploads, tokens, audit log, events."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from containerguard.server.api import schemas as S
from containerguard.server.api.deps import read, require, state, tx
from containerguard.server.api.strict import StrictRoute
from containerguard.server.services import audit, events, images, tokens, trend
from containerguard.server.services import exceptions as exc_svc
from containerguard.server.services.audit import Actor

router = APIRouter(route_class=StrictRoute)

Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
#: keyset pagination: the ``next`` of the previous page (reads only the page, however deep)
Cursor = Annotated[str | None, Query(max_length=64, description="the `next` value of the previous page")]


@router.get("/images", response_model=S.ImageList, summary="Images with their digests and finding counts")
def list_images(request: Request, _: Annotated[Actor, Depends(require("images:read"))], limit: Limit = 50,
                offset: Offset = 0, sort: str = "risk", name: str | None = None) -> S.ImageList:
    with read(request) as s:
        rows, total = images.list_images(s, limit=limit, offset=offset, sort=sort, name=name)
        return S.ImageList(total=total, items=[S.ImageOut.model_validate(r) for r in rows])


@router.get("/images/{ref}", response_model=S.ImageDetail, summary="One image by config digest or id")
def get_image(request: Request, ref: str, _: Annotated[Actor, Depends(require("images:read"))]) -> S.ImageDetail:
    with read(request) as s:
        img = images.get_image(s, ref)
        names = [S.ImageNameOut.model_validate(n) for n in images.image_names(s, img.id)]
        return S.ImageDetail(**S.ImageOut.model_validate(img).model_dump(), names=names)


@router.get("/images/{ref}/findings", response_model=S.FindingList)
def image_findings(request: Request, ref: str, _: Annotated[Actor, Depends(require("findings:read"))],
                   limit: Limit = 100, offset: Offset = 0, min_severity: str | None = None,
                   kev: bool | None = None, kind: str | None = None, cursor: Cursor = None) -> S.FindingList:
    after = images.parse_finding_cursor(cursor) if cursor else None
    with read(request) as s:
        img = images.get_image(s, ref)
        rows, total = images.list_findings(s, image_id=img.id, limit=limit, offset=offset,
                                           min_severity=_sev(min_severity), kev=kev, kind=kind, after=after)
        active = exc_svc.matcher(s)
        return S.FindingList(total=total, items=[S.FindingOut.of(r, active.match(r, img)) for r in rows],
                             next=_next(rows, limit))


@router.get("/images/{ref}/sbom", summary="The stored inventory (native JSON)")
def image_sbom(request: Request, ref: str, _: Annotated[Actor, Depends(require("images:read"))]) -> Response:
    with read(request) as s:
        img = images.get_image(s, ref)
        data = images.stored_document(s, img.id)
    return Response(content=data, media_type="application/json")


@router.get("/findings", response_model=S.FindingList, summary="Findings across images, highest risk first")
def list_findings(request: Request, _: Annotated[Actor, Depends(require("findings:read"))], limit: Limit = 100,
                  offset: Offset = 0, min_severity: str | None = None, kev: bool | None = None,
                  vuln_id: str | None = None, kind: str | None = None, cursor: Cursor = None) -> S.FindingList:
    after = images.parse_finding_cursor(cursor) if cursor else None
    with read(request) as s:
        rows, total = images.list_findings(s, limit=limit, offset=offset, min_severity=_sev(min_severity),
                                           kev=kev, vuln_id=vuln_id, kind=kind, after=after)
        return S.FindingList(total=total, items=[S.FindingOut.of(r) for r in rows], next=_next(rows, limit))


def _next(rows: list[Any], limit: int) -> str | None:
    return images.finding_cursor(rows[-1]) if len(rows) == limit else None


def _sev(text: str | None) -> int | None:
    if text is None:
        return None
    from containerguard.model import Severity

    try:
        return int(Severity[text.strip().upper()])
    except KeyError:
        raise HTTPException(422, f"unknown severity {text[:40]!r}") from None


@router.post("/scans", response_model=S.ScanAccepted, status_code=201,
             summary="Upload a scan (native JSON of `scan --format json`) or an SBOM (CycloneDX, SPDX, native)",
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}})
async def upload_scan(request: Request, actor: Annotated[Actor, Depends(require("scans:write"))],
                      digest: str | None = None, name: str | None = None) -> S.ScanAccepted:
    body = await request.body()
    if not body.strip():
        raise HTTPException(400, "empty body: send the JSON document of `containerguard scan --format json`")
    st = state(request)

    def work() -> S.ScanAccepted:
        parsed = images.parse_upload(body, digest=digest, name=name)
        with tx(request) as s:
            res = images.ingest(s, actor, parsed, source="ci")
            out = S.ScanAccepted(digest=res.image.digest, image_id=res.image.id, created=res.created,
                                 findings=res.findings, new_findings=res.new_findings,
                                 matched_by_server=res.needs_match)
        trend.record_today(lambda: tx(request))
        if res.needs_match:
            st.jobs.defer("rescan_image", image_id=out.image_id)
        return out

    return await run_in_threadpool(work)


# --------------------------------------------------------------------------- tokens


@router.get("/tokens", response_model=list[S.TokenOut])
def list_tokens(request: Request, _: Annotated[Actor, Depends(require("tokens:admin"))]) -> list[S.TokenOut]:
    with read(request) as s:
        return [S.TokenOut.model_validate(t) for t in tokens.list_tokens(s)]


@router.post("/tokens", response_model=S.TokenCreated, status_code=201)
def create_token(request: Request, body: S.TokenIn, actor: Annotated[Actor, Depends(require("tokens:admin"))]) -> S.TokenCreated:
    with tx(request) as s:
        row, secret = tokens.create(s, actor, name=body.name, role=body.role, host=body.host)
        return S.TokenCreated(**S.TokenOut.model_validate(row).model_dump(), token=secret)


@router.delete("/tokens/{token_id}", response_model=S.TokenOut)
def revoke_token(request: Request, token_id: int, actor: Annotated[Actor, Depends(require("tokens:admin"))]) -> S.TokenOut:
    with tx(request) as s:
        return S.TokenOut.model_validate(tokens.revoke(s, actor, token_id))


# --------------------------------------------------------------------------- audit and events


@router.get("/audit", response_model=list[S.AuditOut])
def list_audit(request: Request, _: Annotated[Actor, Depends(require("audit:read"))], limit: Limit = 100,
               before_id: int | None = None, action: str | None = None) -> list[S.AuditOut]:
    with read(request) as s:
        return [S.AuditOut.model_validate(e) for e in audit.list_entries(s, limit=limit, before_id=before_id, action=action)]


@router.get("/events", response_model=list[S.EventOut])
def list_events(request: Request, _: Annotated[Actor, Depends(require("events:read"))], limit: Limit = 100,
                before_id: int | None = None, type: str | None = None) -> list[S.EventOut]:
    with read(request) as s:
        return [S.EventOut.model_validate(e) for e in events.list_events(s, limit=limit, before_id=before_id, type_=type)]
