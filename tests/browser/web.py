"""Plain HTTP sessions against the console (httpx), for the checks that need no browser: the role x page
matrix, CSRF, redirects, cookies. They log in through the same login form a browser uses."""

from __future__ import annotations

import re
from typing import Any

import httpx

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, "no CSRF field on the page"
    return m.group(1)


def login(url: str, token: str | None = None, *, username: str = "", password: str = "",
          verify: bool = True) -> tuple[httpx.Client, httpx.Response]:
    """A client that went through GET /login + POST /login; returns it and the POST's response."""
    c = httpx.Client(base_url=url, follow_redirects=False, timeout=30, verify=verify)
    page = c.get("/login")
    assert page.status_code == 200
    data: dict[str, Any] = {"csrf_token": csrf_of(page.text), "next": "/"}
    if token is not None:
        data["token"] = token
    else:
        data.update(username=username, password=password)
    return c, c.post("/login", data=data, headers={"Origin": url})
