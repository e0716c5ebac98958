"""`Console`: the operator console as one ASGI app, which the ingress mounts at `/console`.

This module owns the route table, who may see what, and the headers every answer
carries; the pages themselves are `deployments.console.views`.

Who may see what (DESIGN.md "Analytics and console"):
- `GET /login`, `POST /login` (form field `token`: the API token; 303 to the console
  with the session cookie, or 401 with the login page), `POST /logout` and the static
  files are open: the static files are the vendored libraries and the console's own
  script and style, nothing about any call;
- pages (full HTML documents) answer 303 to the login page without a valid session;
- data calls (the fragments htmx polls and the pause/resume buttons post to) answer
  401 without one, and the console's script then takes the operator to the login page.

The console answers under whatever prefix it is mounted at (`/console`, or a canary's
`/canary/console`): links and redirects are built from the request's `root_path`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import Enum
from pathlib import Path

import asyncpg
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from actors.registry import CallRegistry
from deployments.api_errors import api_error
from deployments.console.rendering import console_root, console_templates
from deployments.console.sessions import COOKIE_NAME, ConsoleSessions
from deployments.console.views import ConsoleViews

STATIC_DIR = Path(__file__).with_name("static")

Handler = Callable[[Request], Awaitable[Response]]


class Access(Enum):
    """What a request without a valid session gets."""

    PAGE = "page"  # 303 to the login page
    DATA = "data"  # 401


# Every answer: no framing by other sites, no referrer leaking a CallSid elsewhere, and
# scripts and styles from the console itself only (no CDN, nothing inline but the
# styles Chart.js sets on its canvas).
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


class _SecurityHeaders:
    """Adds `SECURITY_HEADERS` to every answer, and `Cache-Control: no-store` to all but
    the static files (pages hold callers' words and numbers)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        static = scope["path"].startswith(f"{scope.get('root_path', '')}/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await self._app(scope, receive, send_with_headers)


class Console:
    """The console's ASGI app. `database` gives the shared pool; `registry` is the call
    registry live calls are listed from."""

    def __init__(
        self,
        *,
        api_token: str,
        public_url: str,
        database: Callable[[], Awaitable[asyncpg.Pool]],
        registry: CallRegistry,
    ) -> None:
        # Secure only over https: a loopback development server is plain http, and a
        # Secure cookie would never come back from it.
        self._sessions = ConsoleSessions(
            api_token, secure=public_url.lower().startswith("https://")
        )
        templates = console_templates()
        self._views = ConsoleViews(database=database, registry=registry, templates=templates)
        self._app = Starlette(
            routes=self._routes(),
            middleware=[
                Middleware(_SecurityHeaders),
                # Chart.js is most of a page's weight, and compresses to a third.
                Middleware(GZipMiddleware, minimum_size=1024),
            ],
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)

    def _routes(self) -> list[BaseRoute]:
        views, page, data = self._views, Access.PAGE, Access.DATA
        return [
            Route("/login", views.login_page, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/", self._guard(page, views.live_page), methods=["GET"]),
            Route("/live/rows", self._guard(data, views.live_rows), methods=["GET"]),
            Route("/calls", self._guard(page, views.calls_page), methods=["GET"]),
            Route("/calls/{call_sid}", self._guard(page, views.call_page), methods=["GET"]),
            Route(
                "/calls/{call_sid}/detail",
                self._guard(data, views.call_detail),
                methods=["GET"],
            ),
            Route("/campaigns", self._guard(page, views.campaigns_page), methods=["GET"]),
            Route("/campaigns/rows", self._guard(data, views.campaign_rows), methods=["GET"]),
            Route(
                "/campaigns/{campaign_id}/pause",
                self._guard(data, views.pause_campaign),
                methods=["POST"],
            ),
            Route(
                "/campaigns/{campaign_id}/resume",
                self._guard(data, views.resume_campaign),
                methods=["POST"],
            ),
            Route("/experiments", self._guard(page, views.experiments_page), methods=["GET"]),
            Route("/analytics", self._guard(page, views.analytics_page), methods=["GET"]),
            Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
        ]

    def _guard(self, access: Access, handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            if self._sessions.valid(request.cookies.get(COOKIE_NAME)):
                return await handler(request)
            if access is Access.PAGE:
                return RedirectResponse(f"{console_root(request)}/login", status_code=303)
            return api_error("log in to the console first", 401)

        return guarded

    # Logging in and out

    async def login(self, request: Request) -> Response:
        form = await request.form()
        token = form.get("token")
        if not isinstance(token, str) or not self._sessions.token_matches(token):
            return self._views.login_form(request, error="That is not the API token.",
                                          status_code=401)
        root = console_root(request)
        response = RedirectResponse(root, status_code=303)
        self._sessions.set_cookie(response, path=root)
        return response

    async def logout(self, request: Request) -> Response:
        root = console_root(request)
        response = RedirectResponse(f"{root}/login", status_code=303)
        self._sessions.clear_cookie(response, path=root)
        return response
