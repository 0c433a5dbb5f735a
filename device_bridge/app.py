"""The device bridge: webhooks (and later MQTT) of sensors, cameras and gates."""

from __future__ import annotations

from aiohttp import web

from config.settings import Settings
from device_bridge import lanes, routes
from server.openapi import ROUTES_KEY


def create_app(settings: Settings) -> web.Application:
    """Build the /devices/ sub-application."""
    # Vzenith pushes carry base64 plate and scene images of a few hundred kB each.
    app = web.Application(client_max_size=4 * 1024 * 1024)
    routes.routes.install(app)
    lanes.routes.install(app)
    app[ROUTES_KEY] = [routes.routes, lanes.routes]
    return app
