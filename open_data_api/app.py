"""The open data feed (/open/): read-only, cached, rate-limited per client address."""

from __future__ import annotations

from aiohttp import web

from config.settings import Settings
from open_data_api import feed
from server.openapi import ROUTES_KEY


def create_app(settings: Settings) -> web.Application:
    """Build the /open/ sub-application."""
    app = web.Application()
    feed.routes.install(app)
    app[feed.FEED_KEY] = feed.FeedCache(settings.open_data_cache_seconds)
    app[ROUTES_KEY] = [feed.routes]
    return app
