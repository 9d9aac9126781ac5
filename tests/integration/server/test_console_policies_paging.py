"""The console's Policies page on a store with more violations than one screen (both backends): 50 a page,
newest first, a next page that carries on where the first stopped and keeps the filters, and the policy,
stage and action filters narrowing what is listed."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def _violation(n: int, policy: str, action: str) -> dict:
    return {"policy": policy, "name": f"policy {policy}", "severity": "high", "action": action,
            "subject": f"Pod/app-{n:03d}", "message": f"violation number {n:03d}"}


def _login(client: TestClient, token: str) -> None:
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post("/login", data={"csrf_token": csrf, "token": token, "next": "/policies"}, follow_redirects=False)
    assert r.status_code == 303


def _subjects(html: str) -> list[str]:
    table = html.split('<table id="violations">', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<td>Pod/(app-\d{3})</td>", table)


def test_violations_are_paged_and_filtered(api):
    ci = api.token("ci")
    # 70 deploy-stage blocks of CGT-A (one decision each, oldest first), then 10 build-stage warnings of CGT-B
    for n in range(70):
        r = api.post("/policy/decisions", ci, json={"stage": "deploy", "source": "admission", "image_name": "app:1",
                                                    "violations": [_violation(n, "CGT-A", "block")]})
        assert r.status_code == 201, r.text
    r = api.post("/policy/decisions", ci, json={"stage": "build", "source": "scan", "image_name": "app:1",
                                                "violations": [_violation(70 + n, "CGT-B", "warn") for n in range(10)]})
    assert r.status_code == 201, r.text
    client = api.client
    _login(client, api.admin)

    first = client.get("/policies")
    assert first.status_code == 200
    rows = _subjects(first.text)
    assert len(rows) == 50 and rows[0] == "app-079" and rows[-1] == "app-030"  # newest first, one screen
    assert 'rel="next"' in first.text and 'rel="prev"' not in first.text
    second = client.get("/policies?page=2")
    rows2 = _subjects(second.text)
    assert rows2 == [f"app-{n:03d}" for n in range(29, -1, -1)]  # the rest, nothing twice
    assert 'rel="next"' not in second.text and 'rel="prev"' in second.text

    blocks = client.get("/policies?policy=CGT-A&stage=deploy&action=block")
    listed = _subjects(blocks.text)
    assert len(listed) == 50 and all(int(s[4:]) < 70 for s in listed)
    nxt = re.search(r'href="\?([^"]*)" rel="next"', blocks.text).group(1).replace("&amp;", "&")
    assert "policy=CGT-A" in nxt and "action=block" in nxt and "stage=deploy" in nxt and "page=2" in nxt
    assert len(_subjects(client.get(f"/policies?{nxt}").text)) == 20
    assert _subjects(client.get("/policies?action=warn").text) == [f"app-{n:03d}" for n in range(79, 69, -1)]
    assert _subjects(client.get("/policies?stage=build&policy=CGT-A").text) == []
    assert _subjects(client.get("/policies?stage=nonsense").text)[:1] == ["app-079"]  # an unknown stage is no filter
