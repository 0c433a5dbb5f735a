"""The staff API: consoles of operators, cashiers, officers, agents and attendants."""

from __future__ import annotations

from aiohttp import web

from adapters.traffic_police import RecordingTrafficPolice
from config.settings import Settings
from miniprogram_api.availability import install_stream_shutdown
from ops_api import (
    appeals,
    arrears,
    auto_pay,
    cashier,
    complaints,
    handovers,
    invoices,
    lanes,
    late_fees,
    ledger,
    lot_review,
    lot_rights,
    lot_rules,
    merchants,
    network_lots,
    onstreet,
    payments,
    reports,
    review,
    scan_codes,
    settlement,
    signs,
    staff,
    support,
    support_stream,
    tariffs,
    write_offs,
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
    auto_pay.routes,
    invoices.routes,
    scan_codes.routes,
    support.routes,
    support_stream.routes,
    appeals.routes,
    complaints.routes,
    signs.routes,
    settlement.routes,
    write_offs.routes,
    late_fees.routes,
    handovers.routes,
    network_lots.routes,
    reports.routes,
)


def create_app(settings: Settings) -> web.Application:
    """Build the /ops/ sub-application."""
    app = web.Application()
    for table in ROUTE_TABLES:
        table.install(app)
    app[ROUTES_KEY] = list(ROUTE_TABLES)
    app[handovers.TRAFFIC_POLICE_KEY] = RecordingTrafficPolice()
    install_stream_shutdown(app)  # the support console's stream ends with the server
    return app
