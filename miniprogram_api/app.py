"""The mini-program API: what a driver's phone talks to."""

from __future__ import annotations

from aiohttp import web

from config.settings import Settings
from miniprogram_api import (
    appeals,
    arrears,
    auto_pay,
    availability,
    complaints,
    invoice_titles,
    invoices,
    lanes,
    my_stays,
    nearby,
    notices,
    passes,
    payments,
    prices,
    scan_codes,
    session,
    stays,
    validations,
    vehicles,
)
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
    vehicles.routes,
    my_stays.routes,
    notices.routes,
    nearby.routes,
    scan_codes.routes,
    passes.routes,
    appeals.routes,
    complaints.routes,
    auto_pay.routes,
    arrears.routes,
    invoices.routes,
    invoice_titles.routes,
)


def create_app(settings: Settings) -> web.Application:
    """Build the /mp/ sub-application."""
    app = web.Application(client_max_size=64 * 1024)
    for table in ROUTE_TABLES:
        table.install(app)
    app[ROUTES_KEY] = list(ROUTE_TABLES)
    availability.install_stream_shutdown(app)
    return app
