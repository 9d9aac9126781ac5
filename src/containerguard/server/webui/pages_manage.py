"""Manage from the console: add, edit and remove registries (URL, credentials, repository filters, poll schedule)
and notification targets with their rules (webhook, Slack, syslog CEF), and send a target a test
notification. An edit page (``/manage/registries/ID/edit``, ``/manage/targets/ID/edit``) shows what is
stored except secrets; a secret field left empty keeps the stored one. Admin only (``registries:write`` / ``notifications:write``, as in the API); every form is
CSRF-checked (``Console.acting``) and goes through the same service function as the API, which writes the
audit log.

A form that does not validate comes back with its errors beside the fields (``aria-invalid`` +
``aria-describedby``) and with what was typed -- except secrets: a password, a webhook secret and a
webhook or Slack URL (which carries its token) are never written back into a page. With JavaScript, htmx
posts the form and swaps only its panel; without, the page is re-rendered (422) or, on success, redirected.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from containerguard.errors import ContainerGuardError
from containerguard.model import Priority, Severity
from containerguard.server.services import NotFound
from containerguard.server.services import notify as notify_svc
from containerguard.server.services import registries as registry_svc
from containerguard.server.store import transaction
from containerguard.server.webui.console import Console, Viewer

NAME_MAX = 200
MAX_FILTERS = 100
SEVERITY_CHOICES = tuple(s.name.lower() for s in sorted(Severity))
TARGET_KINDS = notify_svc.KINDS
EVENT_TYPES = notify_svc.EVENT_TYPES
PRIORITY_CHOICES = tuple(p.name.lower() for p in sorted(Priority))


@dataclass
class FormState:
    """What a manage form shows: the values typed (never a secret), the errors by field ("" for the whole
    form) and a status line after a success."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    message: str = ""


RenderManage = Callable[..., Response]


def _interval(raw: str, errors: dict[str, str]) -> int:
    try:
        minutes = int(raw.strip() or "60")
    except ValueError:
        errors["interval"] = "Minutes between polls: a whole number (0: never poll, push notifications only)."
        return 0
    if minutes < 0 or minutes > 7 * 24 * 60:
        errors["interval"] = "Minutes between polls: from 1 to 10080 (a week), or 0 for push notifications only."
    return minutes * 60


def parse_registry(form: Mapping[str, str]) -> tuple[dict[str, Any], FormState]:
    """The service's keyword arguments and the form's state (values without the secrets, errors)."""
    name = form.get("name", "").strip()
    url = form.get("url", "").strip()
    filters = [f.strip() for f in form.get("repositories", "").replace(",", "\n").splitlines() if f.strip()]
    state = FormState(values={"name": name, "url": url, "username": form.get("username", "").strip(),
                              "repositories": "\n".join(filters), "interval": form.get("interval", "60").strip()})
    errors = state.errors
    if not name:
        errors["name"] = "A name is required."
    elif len(name) > NAME_MAX or any(not c.isprintable() for c in name):
        errors["name"] = f"A name is at most {NAME_MAX} printable characters."
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.path not in ("", "/") or parts.query:
        errors["url"] = "The registry's URL: https://HOST[:PORT] (http:// for a plain-HTTP registry)."
    elif "@" in parts.netloc:
        errors["url"] = "No credentials in the URL: give the username and password in their own fields."
    if len(filters) > MAX_FILTERS or any(len(f) > 255 or any(not c.isprintable() for c in f) for f in filters):
        errors["repositories"] = f"At most {MAX_FILTERS} repository patterns of at most 255 printable characters."
    interval = _interval(form.get("interval", "60"), errors)
    kwargs = {"name": name, "url": url, "username": state.values["username"], "password": form.get("password", ""),
              "repositories": filters, "interval": interval, "webhook_secret": form.get("webhook_secret", "")}
    return kwargs, state


def _kept_secret(form: Mapping[str, str], name: str, clear: str) -> str | None:
    """An edit form's secret: the new one typed, "" when its "remove" box is ticked, None (keep) when empty."""
    typed = form.get(name, "")
    return typed if typed else ("" if form.get(clear) == "1" else None)


def parse_registry_edit(form: Mapping[str, str], stored: Mapping[str, Any]) -> tuple[dict[str, Any], FormState]:
    """An edit of a registry: the add form's checks; an empty password or webhook secret keeps the stored one.
    ``stored``: whether a password and a webhook secret are stored (the form says so, never what they are)."""
    kwargs, state = parse_registry(form)
    state.values.update(has_password=stored.get("has_password"), webhook=stored.get("webhook"))
    kwargs["new_name"] = kwargs.pop("name")
    kwargs["password"] = _kept_secret(form, "password", "clear_password")
    kwargs["webhook_secret"] = _kept_secret(form, "webhook_secret", "clear_webhook_secret")
    return kwargs, state


def registry_values(r: Any) -> dict[str, Any]:
    """An edit form's first values: what is stored, the secrets only as "is there one"."""
    return {"name": r.name, "url": r.url, "username": r.username, "repositories": "\n".join(r.repositories or []),
            "interval": str(r.interval // 60), "has_password": bool(r.password_enc), "webhook": bool(r.webhook_secret_hash)}


def parse_target(form: Mapping[str, str], event_types: list[str], *,
                 editing: bool = False) -> tuple[dict[str, Any], FormState]:
    """The service's keyword arguments and the form's state. ``editing``: an empty URL keeps the stored one
    (``url`` None) and the "enabled" box counts."""
    name = form.get("name", "").strip()
    kind = form.get("kind", "")
    url = form.get("url", "").strip()
    sev = form.get("min_severity", "unknown")
    prio = form.get("min_priority", "debug")
    state = FormState(values={"name": name, "kind": kind, "event_types": event_types, "min_severity": sev,
                              "min_priority": prio, "running_only": form.get("running_only") == "1",
                              # a syslog address is no secret; a webhook or Slack URL carries its token
                              "url": url if kind == "syslog" else ""})
    errors = state.errors
    if not name:
        errors["name"] = "A name is required."
    elif len(name) > NAME_MAX or any(not c.isprintable() for c in name):
        errors["name"] = f"A name is at most {NAME_MAX} printable characters."
    if kind not in notify_svc.KINDS:
        errors["kind"] = f"Kind: one of {', '.join(notify_svc.KINDS)}."
    if not url and not editing:
        errors["url"] = "A URL is required (syslog: udp://HOST:PORT or tcp://HOST:PORT)."
    elif len(url) > 1000:
        errors["url"] = "The URL is at most 1,000 characters."
    bad = sorted(set(event_types) - set(notify_svc.EVENT_TYPES))
    if bad:
        errors["event_types"] = f"Unknown event type {bad[0][:40]!r}."
    if sev not in SEVERITY_CHOICES:
        errors["min_severity"] = "Choose a severity."
    if prio not in PRIORITY_CHOICES:
        errors["min_priority"] = "Choose a priority."
    kwargs = {"name": name, "kind": kind, "url": url, "event_types": event_types,
              "min_severity": int(Severity[sev.upper()]) if sev in SEVERITY_CHOICES else 0,
              "min_priority": int(Priority[prio.upper()]) if prio in PRIORITY_CHOICES else 0,
              "running_only": state.values["running_only"]}
    if editing:
        kwargs["url"] = url or None
        kwargs["enabled"] = state.values["enabled"] = form.get("enabled") == "1"
    return kwargs, state


def target_values(t: Any) -> dict[str, Any]:
    return {"name": t.name, "kind": t.kind, "url": t.url if t.kind == "syslog" else "", "stored_url": t.url,
            "event_types": list(t.event_types or []),
            "min_severity": Severity(t.min_severity).name.lower() if t.min_severity in Severity._value2member_map_ else "unknown",
            "min_priority": Priority(t.min_priority).name.lower() if t.min_priority in Priority._value2member_map_ else "debug",
            "running_only": t.running_only, "enabled": t.enabled}


T = TypeVar("T")


async def _attempt(work: Callable[[], T]) -> tuple[T | None, str]:
    """Run a service call in the thread pool: (its result, "") or (None, its one-line refusal)."""
    from sqlalchemy.exc import DataError, IntegrityError

    from containerguard.server.services import refused_by_database

    try:
        return await run_in_threadpool(work), ""
    except (IntegrityError, DataError, OverflowError) as db_exc:  # a name taken by a request at the same moment
        exc: BaseException = refused_by_database(db_exc) or db_exc
        return None, str(exc).splitlines()[0][:300]
    except ContainerGuardError as exc:
        return None, (str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__)


class _Manage:
    def __init__(self, console: Console, render_manage: RenderManage,
                 actor_of: Callable[[Request, Viewer], Any]) -> None:
        self.console, self.render_manage, self.actor_of = console, render_manage, actor_of

    def answer(self, request: Request, viewer: Viewer, panel: str, state: FormState) -> Response:
        """After a form: the panel again (htmx swaps it; errors answer 422), or back to /manage (no JS)."""
        if state.errors or request.headers.get("hx-request") == "true":
            return self.render_manage(request, viewer, status=422 if state.errors else 200, **{panel: state})
        anchor = "registries" if panel == "registry_form" else "targets"
        return self.console.flash_redirect(request, f"/manage#{anchor}", state.message)

    def done(self, request: Request, viewer: Viewer, panel: str, message: str | None, error: str) -> Response:
        return self.answer(request, viewer, panel, FormState(errors={"": error}) if error else
                           FormState(message=message or ""))


def build(router: APIRouter, console: Console, render_manage: RenderManage,
          actor_of: Callable[[Request, Viewer], Any]) -> None:
    m = _Manage(console, render_manage, actor_of)
    _registry_edit_routes(router, m)
    _target_edit_routes(router, m)  # before /manage/targets/{id}/{op}, which would take "edit" as an op
    _registry_routes(router, m)
    _target_routes(router, m)


def _edit_page(m: _Manage, request: Request, viewer: Viewer, kind: str, item_id: int, state: FormState,
               status: int = 200) -> Response:
    noun = "registry" if kind == "registry" else "notification target"
    return m.console.render(request, "manage_edit.html", viewer, "manage", status,
                            title=f"Edit {noun} {state.values.get('heading_name', '')}".strip(),
                            heading=f"Edit {noun}", kind=kind, item_id=item_id, f=state,
                            event_types=EVENT_TYPES, severity_choices=SEVERITY_CHOICES,
                            priority_choices=PRIORITY_CHOICES, target_kinds=TARGET_KINDS)


async def _stored(m: _Manage, request: Request, viewer: Viewer, read: Callable[[], dict[str, Any]]) -> dict[str, Any] | Response:
    """What an edit page starts from, or the console's 404 page when it is gone."""
    try:
        return await run_in_threadpool(read)
    except NotFound as exc:
        return m.console.render(request, "error.html", viewer, "manage", 404, title="Not found", message=str(exc))


def _may_edit(m: _Manage, request: Request, action: str) -> Viewer:
    """The viewer of an edit page: may open Manage and do ``action`` (else NotAllowed, 403)."""
    from containerguard.server.webui.console import NotAllowed

    viewer = m.console.viewer(request, "manage")
    if not viewer.may(action):
        raise NotAllowed(action)
    return viewer


async def _edit_form(m: _Manage, request: Request, kind: str, item_id: int, action: str,
                     read: Callable[[], dict[str, Any]]) -> Response:
    """The edit page of a stored registry or target, filled with its values (secrets never among them)."""
    viewer = _may_edit(m, request, action)
    values = await _stored(m, request, viewer, read)
    if isinstance(values, Response):
        return values
    return _edit_page(m, request, viewer, kind, item_id, FormState(values=values | {"heading_name": values["name"]}))


def _registry_edit_routes(router: APIRouter, m: _Manage) -> None:
    from containerguard.server.store.models import Registry

    def stored(request: Request, registry_id: int) -> dict[str, Any]:
        with _tx(request) as s:
            row = s.get(Registry, registry_id)
            if row is None:
                raise NotFound(f"no registry {registry_id}")
            return registry_values(row)

    @router.get("/manage/registries/{registry_id}/edit")
    async def registry_edit_form(request: Request, registry_id: int) -> Response:
        return await _edit_form(m, request, "registry", registry_id, "registries-write",
                                lambda: stored(request, registry_id))

    @router.post("/manage/registries/{registry_id}/edit")
    async def registry_edit(request: Request, registry_id: int) -> Response:
        viewer, form = await m.console.acting(request, "registries-write", "manage")
        before = await _stored(m, request, viewer, lambda: stored(request, registry_id))
        if isinstance(before, Response):
            return before
        kwargs, state = parse_registry_edit(form, before)
        state.values["heading_name"] = before["name"]
        if state.errors:
            return _edit_page(m, request, viewer, "registry", registry_id, state, 422)

        def work() -> tuple[int, list[str]]:
            with _tx(request) as s:
                row, changed = registry_svc.update(s, m.actor_of(request, viewer), before["name"], **kwargs)
                return int(row.id), changed

        done, error = await _attempt(work)
        if done is None:
            state.errors[""] = error
            return _edit_page(m, request, viewer, "registry", registry_id, state, 422)
        rid, changed = done
        if registry_svc.RESYNC & set(changed):
            request.app.state.cg.jobs.defer("poll_registry", registry_id=rid, _lock=f"poll-{rid}")
        what = f"changed: {', '.join(c.replace('_', ' ') for c in changed)}" if changed else "nothing changed"
        sync = "; a sync is queued" if registry_svc.RESYNC & set(changed) else ""
        return m.console.flash_redirect(request, "/manage#registries",
                                        f"Registry {kwargs['new_name']} saved ({what}){sync}.")


def _target_edit_routes(router: APIRouter, m: _Manage) -> None:
    def stored(request: Request, target_id: int) -> dict[str, Any]:
        with _tx(request) as s:
            return target_values(notify_svc.get_target(s, target_id))

    @router.get("/manage/targets/{target_id}/edit")
    async def target_edit_form(request: Request, target_id: int) -> Response:
        return await _edit_form(m, request, "target", target_id, "notifications-write",
                                lambda: stored(request, target_id))

    @router.post("/manage/targets/{target_id}/edit")
    async def target_edit(request: Request, target_id: int) -> Response:
        viewer, form = await m.console.acting(request, "notifications-write", "manage")
        raw = await request.form()
        types = [str(v) for v in raw.getlist("event_types") if isinstance(v, str)][:20]
        before = await _stored(m, request, viewer, lambda: stored(request, target_id))
        if isinstance(before, Response):
            return before
        kwargs, state = parse_target(form, types, editing=True)
        state.values.update(stored_url=before["stored_url"], heading_name=before["name"])
        if state.errors:
            return _edit_page(m, request, viewer, "target", target_id, state, 422)

        def work() -> list[str]:
            with _tx(request) as s:
                return notify_svc.update_target(s, m.actor_of(request, viewer), target_id, **kwargs)[1]

        changed, error = await _attempt(work)
        if changed is None:
            state.errors[""] = error
            return _edit_page(m, request, viewer, "target", target_id, state, 422)
        what = f"changed: {', '.join(c.replace('_', ' ') for c in changed)}" if changed else "nothing changed"
        return m.console.flash_redirect(request, "/manage#targets", f"Notification target {kwargs['name']} saved ({what}).")


def _tx(request: Request) -> Any:
    return transaction(request.app.state.cg.sessions)


def _registry_routes(router: APIRouter, m: _Manage) -> None:
    @router.post("/manage/registries")
    async def registry_add(request: Request) -> Response:
        viewer, form = await m.console.acting(request, "registries-write", "manage")
        kwargs, state = parse_registry(form)
        if state.errors:
            return m.answer(request, viewer, "registry_form", state)

        def work() -> int:
            with _tx(request) as s:
                return int(registry_svc.add(s, m.actor_of(request, viewer), **kwargs).id)

        rid, error = await _attempt(work)
        if rid is None:
            state.errors[""] = error
            return m.answer(request, viewer, "registry_form", state)
        request.app.state.cg.jobs.defer("poll_registry", registry_id=rid, _lock=f"poll-{rid}")
        return m.done(request, viewer, "registry_form", f"Registry {kwargs['name']} added; its first sync is queued.", "")

    @router.post("/manage/registries/{registry_id}/remove")
    async def registry_remove(request: Request, registry_id: int) -> Response:
        viewer, _ = await m.console.acting(request, "registries-write", "manage")

        def work() -> str:
            from containerguard.server.store.models import Registry

            with _tx(request) as s:
                row = s.get(Registry, registry_id)
                if row is None:
                    raise NotFound(f"no registry {registry_id}")
                registry_svc.remove(s, m.actor_of(request, viewer), row.name)
                return f"Registry {row.name} removed."

        message, error = await _attempt(work)
        return m.done(request, viewer, "registry_form", message, error)


def _target_routes(router: APIRouter, m: _Manage) -> None:
    @router.post("/manage/targets")
    async def target_add(request: Request) -> Response:
        viewer, form = await m.console.acting(request, "notifications-write", "manage")
        raw = await request.form()  # the parsed form again (cached): event types are a multi-valued field
        types = [str(v) for v in raw.getlist("event_types") if isinstance(v, str)][:20]
        kwargs, state = parse_target(form, types)
        if state.errors:
            return m.answer(request, viewer, "target_form", state)

        def work() -> str:
            with _tx(request) as s:
                notify_svc.create_target(s, m.actor_of(request, viewer), **kwargs)
            return f"Notification target {kwargs['name']} added."

        message, error = await _attempt(work)
        if error:
            state.errors[""] = error
            return m.answer(request, viewer, "target_form", state)
        return m.done(request, viewer, "target_form", message, "")

    @router.post("/manage/targets/{target_id}/{op}")
    async def target_act(request: Request, target_id: int, op: str) -> Response:
        if op not in ("remove", "test"):
            raise NotFound(f"no action {op[:20]!r}")
        viewer, _ = await m.console.acting(request, "notifications-write", "manage")

        def work() -> str:
            with _tx(request) as s:
                actor = m.actor_of(request, viewer)
                if op == "test":
                    name = notify_svc.get_target(s, target_id).name
                    notify_svc.test_event(s, actor, target_id)
                    return f"Test notification queued for {name}."
                return f"Notification target {notify_svc.delete_target(s, actor, target_id).name} removed."

        message, error = await _attempt(work)
        if not error and op == "test":
            request.app.state.cg.jobs.defer("deliver", _lock="deliver")
        return m.done(request, viewer, "target_form", message, error)
