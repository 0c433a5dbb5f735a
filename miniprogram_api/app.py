"""The mini-program API: what a driver's phone talks to."""

from __future__ import annotations

from aiohttp import web

from config.settings import Settings
from miniprogram_api import availability, lanes, payments, prices, session, stays, validations
from server.http import ApiRoutes
from server.openapi import ROUTES_KEY

ROUTE_TABLES: tuple[ApiRoutes, ...] = (
    stays.routes,
    prices.routes,
    availability.routes,
    session.routes,
    payments.routes,
    validations.routes,
    lanes.routes,
)


def create_app(settings: Settings) -> web.Application:
    """Build the /mp/ sub-application."""
    app = web.Application(client_max_size=64 * 1024)
    for table in ROUTE_TABLES:
        table.install(app)
    app[ROUTES_KEY] = list(ROUTE_TABLES)
    return app
