"""The /network/ sub-application: signed pushes and questions of networked lots' systems."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from config.settings import Settings
from core.errors import DomainError
from core.network_errors import english
from network_api import asks, pushes
from server.http import ApiRoutes, error_response
from server.openapi import ROUTES_KEY

ROUTE_TABLES: tuple[ApiRoutes, ...] = (pushes.routes, asks.routes)


@web.middleware
async def bilingual_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Errors as `{code, message, message_en}`: lot vendors' engineers read either language."""
    try:
        return await handler(request)
    except DomainError as exc:
        return error_response(exc.code, exc.message_zh, exc.status, message_en=english(exc))


def create_app(settings: Settings) -> web.Application:
    """Build the /network/ sub-application."""
    app = web.Application(middlewares=[bilingual_errors])
    for table in ROUTE_TABLES:
        table.install(app)
    app[ROUTES_KEY] = list(ROUTE_TABLES)
    return app
