"""The API suite runs on both backends: SQLite (the default) and PostgreSQL (the machine's cluster)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from fastapi.testclient import TestClient
from tests.fixtures import server as srv

from containerguard.server.app import create_app, prepare
from containerguard.server.settings import Settings


@dataclass
class Api:
    client: TestClient
    admin: str
    settings: Settings
    app: Any

    def h(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.admin}"}

    def get(self, path: str, token: str | None = None, **kw: Any) -> Any:
        return self.client.get(f"/api/v1{path}", headers=self.h(token), **kw)

    def post(self, path: str, token: str | None = None, **kw: Any) -> Any:
        return self.client.post(f"/api/v1{path}", headers={**self.h(token), **kw.pop("headers", {})}, **kw)

    def delete(self, path: str, token: str | None = None) -> Any:
        return self.client.delete(f"/api/v1{path}", headers=self.h(token))

    def token(self, role: str, name: str | None = None, host: str = "") -> str:
        r = self.post("/tokens", json={"name": name or f"{role}-token", "role": role, "host": host})
        assert r.status_code == 201, r.text
        return str(r.json()["token"])

    def wait_jobs(self, timeout: float = 60) -> None:
        assert self.app.state.cg.jobs.join(timeout)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "server.sqlite")
        return
    if not srv.postgres_available():
        pytest.skip("PostgreSQL is not running: scripts/services starts it (pg_ctlcluster 15 main start)")
    url = srv.postgres_url()
    try:
        yield url
    finally:
        srv.drop_postgres(url)


def make_api(db: str, tmp_path: Path, **kw: Any) -> Iterator[Api]:
    settings = Settings(db=db, data_dir=tmp_path, vulndb=str(srv.vulndb()), inprocess_jobs=True, scheduler=False, **kw)
    prepared = prepare(settings)
    assert prepared.admin_token
    app = create_app(settings, engine=prepared.engine)
    with TestClient(app, client=("203.0.113.7", 50000)) as client:
        yield Api(client, prepared.admin_token, settings, app)
    prepared.engine.dispose()


@pytest.fixture
def api(backend: str, tmp_path: Path) -> Iterator[Api]:
    yield from make_api(backend, tmp_path)


@pytest.fixture(scope="session")
def docs() -> list[bytes]:
    return srv.scan_documents(6)
