"""Pydantic models at the API edge (request bodies and documented responses)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from containerguard.model import Severity


class ImageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    digest: str = Field(description="config digest (the image ID), the image's identity")
    name: str
    os_family: str
    os_version: str
    architecture: str
    source: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    scanned_at: dt.datetime | None
    package_count: int
    critical: int
    high: int
    medium: int
    low: int
    other: int
    kev: int
    max_risk: float


class ImageList(BaseModel):
    total: int
    items: list[ImageOut]


class ImageNameOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    repository: str
    tag: str
    manifest_digest: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    index_digest: str = Field(default="", description="the multi-platform index the tag points at, if any")
    platform: str = Field(default="", description="os/arch[/variant] of this image in that index")


class ImageDetail(ImageOut):
    names: list[ImageNameOut]


class FindingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    image_id: int
    kind: str
    vuln_id: str
    title: str
    severity: str
    package_name: str
    package_version: str
    package_type: str
    purl: str
    path: str
    fixed_version: str
    status: str
    cvss_score: float | None
    epss: float | None
    kev: bool
    risk: float
    first_seen: dt.datetime
    exception: dict[str, Any] | None = None

    @classmethod
    def of(cls, row: Any, exception: dict[str, Any] | None = None) -> FindingOut:
        d = {k: getattr(row, k) for k in cls.model_fields if k not in ("severity", "exception")}
        return cls(**d, severity=Severity(row.severity).name, exception=exception)


class FindingList(BaseModel):
    total: int | None
    items: list[FindingOut]
    next: str | None = Field(default=None, description="cursor of the next page (pass it as ?cursor=); none on the last page")


class ScanAccepted(BaseModel):
    digest: str
    image_id: int
    created: bool
    findings: int
    new_findings: int
    matched_by_server: bool


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    role: Literal["admin", "analyst", "viewer", "agent", "ci", "enforcer"]
    host: str = Field(default="", max_length=255, description="agent tokens: the host it reports for (default: name)")


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: str
    prefix: str
    host: str
    created_by: str
    created_at: dt.datetime
    last_used: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="the secret, shown this once")


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: dt.datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    remote_addr: str
    detail: dict[str, Any]


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: dt.datetime
    type: str
    severity: int
    summary: str
    image_digest: str
    host: str
    detail: dict[str, Any]
