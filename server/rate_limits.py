"""The rate-limit counters of the app (Redis when configured) and the checks routes call."""

from __future__ import annotations

from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from aiohttp import web

from adapters.memory_counters import MemoryCounters
from adapters.redis_counters import RedisCounters
from core.rate_limits import Counters, Limit, LoginAttempts, check_rate
from server.resources import SETTINGS_KEY, clock

COUNTERS_KEY = web.AppKey("rate_limit_counters", Counters)


async def rate_limits_ctx(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: shared counters in Redis, or this worker's own without it."""
    settings = app[SETTINGS_KEY]
    client = None
    if settings.redis_url:
        client = aioredis.from_url(settings.redis_url)
        app[COUNTERS_KEY] = RedisCounters(client)
    else:
        app[COUNTERS_KEY] = MemoryCounters()
    yield
    if client is not None:
        await client.aclose()


def counters(request: web.Request) -> Counters:
    """The app's counters."""
    return request.config_dict[COUNTERS_KEY]


def client_address(request: web.Request) -> str:
    """The peer address a limit is counted for (a proxy must not be trusted blindly)."""
    return request.remote or "unknown"


async def limit_rate(request: web.Request, scope: str, per_minute: int) -> None:
    """Count this request of its client in `scope`; 429 with Retry-After beyond the limit."""
    await check_rate(
        counters(request),
        scope,
        client_address(request),
        Limit(per_minute, 60),
        clock(request).now(),
    )


async def limit_plate_lookups(request: web.Request) -> None:
    """The limit shared by the public routes that answer about a typed or scanned plate."""
    per_minute = request.config_dict[SETTINGS_KEY].plate_lookup_rate_per_minute
    await limit_rate(request, "plate_lookup", per_minute)


def login_attempts(request: web.Request) -> LoginAttempts:
    """Failed logins counted per (account, client address)."""
    return LoginAttempts(counters(request))
