"""Resources of the lot networking API: the nonce store, the webhook sender and its loops."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import redis.asyncio as aioredis
from aiohttp import web

from adapters.http_webhooks import HttpWebhookSender
from adapters.redis_nonces import RedisNonces
from core.services import network_lots, network_notices
from core.services.network_intake import DatabaseNonces, NonceStore
from core.services.network_notices import WebhookSender
from core.store.unit_of_work import UnitOfWork
from server.driver_features import in_background, run_forever
from server.resources import CLOCK_KEY, DATABASE_KEY, SETTINGS_KEY

WEBHOOK_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class NetworkPorts:
    """What the networking routes and loops need beyond the database."""

    nonces: NonceStore
    sender: WebhookSender


NETWORK_PORTS_KEY = web.AppKey("network_ports", NetworkPorts)


async def network_ctx(app: web.Application) -> AsyncIterator[None]:
    """Build the ports and run the webhook outbox and the silence check in the background."""
    settings = app[SETTINGS_KEY]
    redis_nonces = (
        RedisNonces(aioredis.from_url(settings.redis_url)) if settings.redis_url else None
    )
    timeout = aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_SECONDS)
    session = aiohttp.ClientSession(timeout=timeout)
    ports = NetworkPorts(redis_nonces or DatabaseNonces(), HttpWebhookSender(session))
    app[NETWORK_PORTS_KEY] = ports
    tasks = []
    if settings.network_webhook_poll_seconds > 0:
        every = settings.network_webhook_poll_seconds
        tasks.append(run_forever(every, lambda: deliver_notices(app), "network webhooks"))
    if settings.network_silence_check_seconds > 0:
        every = settings.network_silence_check_seconds
        tasks.append(run_forever(every, lambda: flag_silent(app), "network silence check"))
    try:
        async with in_background(tasks):
            yield
    finally:
        await session.close()
        if redis_nonces is not None:
            await redis_nonces.close()


async def deliver_notices(app: web.Application) -> int:
    """Send the due webhooks once; how many were delivered."""
    database = app[DATABASE_KEY]
    secret = app[SETTINGS_KEY].secret_key.get_secret_value()
    return await network_notices.deliver_due(
        lambda: UnitOfWork(database.sessions), app[CLOCK_KEY], secret, app[NETWORK_PORTS_KEY].sender
    )


async def flag_silent(app: web.Application) -> list[str]:
    """Flag the lots gone silent once; the codes newly flagged."""
    async with UnitOfWork(app[DATABASE_KEY].sessions) as uow:
        return await network_lots.flag_silent_lots(uow, app[CLOCK_KEY])
