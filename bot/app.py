"""The Official Account chatbot sub-application."""

from __future__ import annotations

from aiohttp import web

from bot import routes
from config.settings import Settings

MAX_BODY = routes.MAX_BODY


def create_app(settings: Settings) -> web.Application:
    """Build the /wechat/ sub-application (its parts come from bot.services.bot_ctx)."""
    app = web.Application(client_max_size=MAX_BODY)
    routes.install(app)
    return app
