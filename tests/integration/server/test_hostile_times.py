"""Times from users and agents at the edges, through the API, on SQLite and PostgreSQL: an exception's expiry
given with any UTC offset (including one that moves it past the year 9999 in UTC) is stored, listed in UTC
and applied; an expiry a few seconds ahead, given in another time zone, lapses by itself at that instant;
time filters at the edges of the range answer instead of failing."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest


def _vuln(api, docs) -> tuple[str, str]:
    assert api.post("/scans", content=docs[0]).status_code == 201
    doc = json.loads(docs[0])
    return doc["image"]["id"], next(f["id"] for f in doc["findings"] if f["kind"] == "vulnerability")


def _marked(api, digest: str) -> set[str]:
    items = api.get(f"/images/{digest}/findings?limit=500").json()["items"]
    return {f["vuln_id"] for f in items if f["exception"]}


@pytest.mark.parametrize("given,stored", [
    ("9999-12-31T23:00:00-05:00", "9999-12-31T23:59:59.999999+00:00"),  # the year 10000 in UTC: the range's end
    ("9999-12-31T23:59:59.999999", "9999-12-31T23:59:59.999999+00:00"),
    ("2999-06-01T12:00:00+14:00", "2999-05-31T22:00:00+00:00"),
    ("2999-06-01T12:00:00-12:00", "2999-06-02T00:00:00+00:00"),
])
def test_an_expiry_with_any_offset_is_kept_in_utc_and_applied(api, docs, given, stored):
    digest, vuln = _vuln(api, docs)
    r = api.post("/exceptions", json={"vuln_id": vuln, "scope": "global", "kind": "risk_accepted", "reason": "r",
                                      "expires_at": given})
    assert r.status_code == 201, r.text
    listed = api.get("/exceptions").json()
    assert [e["expires_at"] for e in listed] == [stored]
    assert _marked(api, digest) == {vuln}
    assert api.get("/images").status_code == 200 and api.get("/risk").status_code == 200


def test_an_expiry_given_in_another_time_zone_lapses_at_that_instant(api, docs):
    digest, vuln = _vuln(api, docs)
    ahead = dt.datetime.now(dt.timezone(dt.timedelta(hours=-9, minutes=-30))) + dt.timedelta(seconds=4)
    r = api.post("/exceptions", json={"vuln_id": vuln, "scope": "global", "kind": "false_positive", "reason": "r",
                                      "expires_at": ahead.isoformat()})
    assert r.status_code == 201, r.text
    assert _marked(api, digest) == {vuln} and len(api.get("/exceptions").json()) == 1
    time.sleep(max(0.0, (ahead - dt.datetime.now(dt.UTC)).total_seconds()) + 0.5)
    assert _marked(api, digest) == set()
    assert api.get("/exceptions").json() == []
    # an expiry already past in its own zone is refused, though its wall-clock digits are in the future in UTC
    past = dt.datetime.now(dt.timezone(dt.timedelta(hours=5))) - dt.timedelta(minutes=1)
    bad = api.post("/exceptions", json={"vuln_id": vuln, "scope": "global", "kind": "false_positive", "reason": "r",
                                        "expires_at": past.replace(tzinfo=None).isoformat() + "+05:00"})
    assert bad.status_code == 422 and "past" in bad.text


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00"])
def test_time_filters_at_the_edges_answer(api, since):
    r = api.get("/policy/violations", params={"since": since})
    assert r.status_code == 200, r.text
