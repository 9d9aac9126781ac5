"""The web console served by ``containerguard server``: server-rendered pages (Jinja2) over the server's
service layer, vendored static assets (no CDN), sessions by token or by user name and password.

``mount(app)`` adds it to the server's FastAPI app: the pages at ``/``, static files under
``/static/console/``, the security headers on every non-API response, and the login/403 handling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI


def mount(app: FastAPI) -> Any:
    """Mount the console on the server's app (whose ``app.state.cg`` holds the sessions); returns it."""
    from fastapi import Request
    from fastapi.responses import HTMLResponse, RedirectResponse, Response

    from containerguard.server.webui import pages
    from containerguard.server.webui.console import (
        BadForm,
        Console,
        LoginRequired,
        NotAllowed,
        SecurityHeaders,
    )
    from containerguard.server.webui.sessions import StoreSessions, console_secret

    st = app.state.cg
    console = Console(StoreSessions(st.sessions), secret_loader=lambda: console_secret(st.sessions),
                      limiter=st.failures)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        if request.headers.get("hx-request") == "true":
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        if request.url.path == "/runtime/stream":
            return Response("event: logout\ndata: session ended\n\n", status_code=401,
                            media_type="text/event-stream")
        return console.login_redirect(exc.next_path)

    @app.exception_handler(NotAllowed)
    async def _forbidden(request: Request, exc: Exception) -> Response:
        viewer = console.current(request)
        if request.headers.get("hx-request") == "true":
            return HTMLResponse('<p id="live" class="flash error" role="alert" hx-swap-oob="true">'
                                "Not allowed.</p>", status_code=403, headers={"HX-Reswap": "none"})
        return console.render(request, "error.html", viewer, "", 403, title="Not allowed",
                              message="Your role may not open this page or do this.")

    @app.exception_handler(BadForm)
    async def _bad_form(request: Request, exc: Exception) -> Response:
        if request.headers.get("hx-request") == "true":
            return HTMLResponse('<p id="live" class="flash error" role="alert" hx-swap-oob="true">'
                                "Not done: a form field holds a NUL character.</p>", status_code=400,
                                headers={"HX-Reswap": "none"})
        return console.render(request, "error.html", console.current(request), "", 400, title="Not done",
                              message="A form field holds a NUL character; nothing was changed.")

    @app.exception_handler(pages.ActionFailed)
    async def _failed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, pages.ActionFailed)
        return exc.response

    app.mount("/static/console", console.static_app(), name="console-static")
    app.include_router(console.router())
    app.include_router(pages.build(console))
    app.add_middleware(SecurityHeaders)
    app.state.console = console
    del RedirectResponse
    return console
