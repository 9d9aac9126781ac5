"""The CLI's HTTP client for the central server: ``--server URL --token T`` (or CONTAINERGUARD_SERVER /
CONTAINERGUARD_TOKEN), retries with backoff on connection errors and 5xx, one-line errors."""

from __future__ import annotations

import os
import time
from typing import Any

import httpx

from containerguard.errors import ServerError, UsageError
from containerguard.tls import client_verify

SERVER_ENV = "CONTAINERGUARD_SERVER"
TOKEN_ENV = "CONTAINERGUARD_TOKEN"  # noqa: S105 - the variable name


class Client:
    def __init__(self, server: str | None, token: str | None, *, retries: int = 4, timeout: float = 60.0,
                 verify: bool | str = True) -> None:
        server = server or os.environ.get(SERVER_ENV)
        token = token or os.environ.get(TOKEN_ENV)
        if not server:
            raise UsageError(f"no server: pass --server URL or set {SERVER_ENV}")
        if not token:
            raise UsageError(f"no token: pass --token T or set {TOKEN_ENV}")
        if not server.startswith(("http://", "https://")):
            raise UsageError(f"--server {server!r}: expected http(s)://HOST:PORT")
        self.base = server.rstrip("/")
        self.retries = retries
        self.http = httpx.Client(base_url=self.base, timeout=timeout, verify=client_verify(verify),
                                 headers={"Authorization": f"Bearer {token}"})

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kw: Any) -> Any:
        delay = 0.5
        for attempt in range(self.retries + 1):
            try:
                resp = self.http.request(method, "/api/v1" + path, **kw)
            except httpx.HTTPError as exc:
                if attempt == self.retries:
                    raise ServerError(f"{self.base}: {exc.__class__.__name__}: {exc}") from exc
            else:
                if resp.status_code < 500 or attempt == self.retries:
                    return self._result(resp)
            time.sleep(delay)
            delay = min(delay * 2, 8.0)
        raise ServerError(f"{self.base}: no answer")  # pragma: no cover

    @staticmethod
    def _result(resp: httpx.Response) -> Any:
        if resp.status_code >= 400:
            try:
                detail = resp.json().get("detail")
            except ValueError:
                detail = resp.text[:200]
            if isinstance(detail, list):  # pydantic validation errors
                detail = "; ".join(str(d.get("msg", d)) for d in detail[:3])
            raise ServerError(f"server answered {resp.status_code}: {detail}")
        if not resp.content:
            return None
        return resp.json()
