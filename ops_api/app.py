"""The staff API: consoles of operators, cashiers, officers, agents and attendants."""

from __future__ import annotations

from aiohttp import web

from config.settings import Settings
from ops_api import (
    arrears,
    cashier,
    invoices,
    lanes,
    ledger,
    lot_review,
    lot_rights,
    lot_rules,
    merchants,
    onstreet,
    payments,
    review,
    scan_codes,
    staff,
    tariffs,
)
from server.http import ApiRoutes
from server.openapi import ROUTES_KEY

ROUTE_TABLES: tuple[ApiRoutes, ...] = (
    staff.routes,
    ledger.routes,
    tariffs.routes,
    onstreet.routes,
    arrears.routes,
    review.routes,
    lanes.routes,
    cashier.routes,
    merchants.routes,
    lot_rights.routes,
    lot_rules.routes,
    lot_review.routes,
    payments.routes,
    invoices.routes,
    scan_codes.routes,
)


def create_app(settings: Settings) -> web.Application:
    """Build the /ops/ sub-application."""
    app = web.Application()
    for table in ROUTE_TABLES:
        table.install(app)
    app[ROUTES_KEY] = list(ROUTE_TABLES)
    return app
