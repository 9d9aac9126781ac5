"""The central server: a thin adapter over the library (``containerguard.scanner``, ``vulndb``, ``detect``).

    app.py        create_app(settings) -> FastAPI; prepare() migrates and bootstraps the first admin token
    settings.py   Settings (database URL, data dir, limits)
    store/        SQLAlchemy 2 models (models.py), engine/sessions, Alembic migrations (migrations/)
    services/     the service layer: functions taking a Session that the API, the web console and the jobs
                  call (images, exceptions, tokens, audit, events, hosts, registries, notify, rescans, risk)
    api/          REST routes under /api/v1 (deps.py: authentication and role checks; schemas.py: bodies)
    jobs.py       job functions and their queues (in-process threads with SQLite; procrastinate on PostgreSQL)
    auth.py       roles and permissions, token hashing
    crypto.py     registry credentials encrypted at rest (Fernet, key from CONTAINERGUARD_SECRET_KEY)
    metrics.py    Prometheus metrics

Service functions never commit: wrap calls in ``store.transaction(sessions)`` (one transaction per request,
so a failure writes nothing). They raise ``services.NotFound`` / ``Conflict`` / ``Invalid`` / ``Forbidden``
(all ``ServerError``), which the API maps to 404 / 409 / 422 / 403. See docs/server.md.
"""
