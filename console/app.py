"""The staff console in the browser: server-rendered pages under /console/ (docs/console.md)."""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web

from config.settings import Settings
from console import admin, cashier, finance, lanes, login, officer, support
from console.rendering import render, see_other, setup_templates
from console.security import stamp_headers
from console.session import LOGIN_PATH, PageHandler, session_middleware
from core.errors import AuthenticationError, DomainError, PermissionDeniedError

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
PAGE_TABLES: tuple[web.RouteTableDef, ...] = (
    login.routes,
    officer.routes,
    support.routes,
    cashier.routes,
    finance.routes,
    admin.routes,
    lanes.routes,
)


def create_app(settings: Settings) -> web.Application:
    """Build the /console/ sub-application."""
    app = web.Application(middlewares=[page_errors, session_middleware])
    setup_templates(app)
    app.on_response_prepare.append(stamp_headers)
    for table in PAGE_TABLES:
        app.router.add_routes(table)
    app.router.add_static("/static/", STATIC, append_version=True)
    return app


def is_htmx(request: web.Request) -> bool:
    """Whether htmx sent the request (it swaps a fragment rather than loading a page)."""
    return request.headers.get("HX-Request") == "true"


@web.middleware
async def page_errors(request: web.Request, handler: PageHandler) -> web.StreamResponse:
    """Domain errors as a Chinese page (or fragment); no session sends to the login page."""
    try:
        return await handler(request)
    except AuthenticationError:
        if is_htmx(request):
            return web.Response(status=204, headers={"HX-Redirect": LOGIN_PATH})
        return see_other(LOGIN_PATH)
    except DomainError as exc:
        if isinstance(exc, PermissionDeniedError):
            log.info("console refused %s %s: %s", request.method, request.path, exc.detail)
        template = "_error.html" if is_htmx(request) else "error.html"
        context = {"message": exc.message_zh, "code": exc.code, "status": exc.status}
        return render(request, template, context, status=exc.status)
