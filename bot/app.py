"""The Official Account chatbot sub-application."""

from __future__ import annotations

from aiohttp import web

from bot import routes
from config.settings import Settings


def create_app(settings: Settings) -> web.Application:
    """Build the /wechat/ sub-application."""
    app = web.Application(client_max_size=64 * 1024)
    routes.install(app)
    return app
