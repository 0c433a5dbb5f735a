"""Live support-console updates (in-process, or Redis pub/sub across workers) and the idle sweep."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

from bot.services import BOT_KEY
from core.services.support import return_idle
from core.store.unit_of_work import UnitOfWork
from core.support import SupportPorts
from server.resources import CLOCK_KEY, DATABASE_KEY, SETTINGS_KEY
from server.support_keys import SUPPORT_PORTS_KEY, SUPPORT_STREAM_KEY

log = logging.getLogger(__name__)

_QUEUE_SIZE = 1000


class InProcessEvents:
    """Events fan out to the consoles connected to this process."""

    def __init__(self) -> None:
        self._listeners: set[asyncio.Queue[dict[str, Any]]] = set()

    async def publish(self, event: dict[str, Any]) -> None:
        """Hand the event to every listener; a stalled one misses it."""
        for queue in list(self._listeners):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(event)

    async def listen(self) -> AsyncIterator[dict[str, Any] | None]:
        """None once subscribed, then events, until the caller stops."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(_QUEUE_SIZE)
        self._listeners.add(queue)
        try:
            yield None
            while True:
                yield await queue.get()
        finally:
            self._listeners.discard(queue)

    async def close(self) -> None:
        """Nothing to release."""


class RedisEvents:
    """Events published on a Redis channel, so a console on any worker sees every worker's."""

    def __init__(self, client: aioredis.Redis, channel: str) -> None:
        self._redis = client
        self._channel = channel

    async def publish(self, event: dict[str, Any]) -> None:
        """Publish the event as JSON."""
        await self._redis.publish(self._channel, json.dumps(event, ensure_ascii=False))

    async def listen(self) -> AsyncIterator[dict[str, Any] | None]:
        """None once subscribed, then events, until the caller stops."""
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(self._channel)
        try:
            yield None
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    found = json.loads(message["data"])
                    if isinstance(found, dict):
                        yield found
        finally:
            await pubsub.unsubscribe(self._channel)
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()


Events = InProcessEvents | RedisEvents


async def support_ctx(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context (after the bot's): the ports, the event broker and the idle sweep."""
    settings = app[SETTINGS_KEY]
    events: Events
    if settings.redis_url:
        events = RedisEvents(aioredis.from_url(settings.redis_url), settings.support_redis_channel)
    else:
        events = InProcessEvents()
    bot = app.get(BOT_KEY)
    ports = SupportPorts(
        events=events,
        sender=bot.client if bot is not None else None,
        idle_after=timedelta(minutes=settings.support_idle_minutes),
        minutes_per_chat=settings.support_minutes_per_chat,
        miniprogram_appid=bot.account.miniprogram_appid if bot is not None else None,
        wechat_customer_service=frozenset(settings.support_wechat_customer_service),
    )
    app[SUPPORT_PORTS_KEY] = ports
    app[SUPPORT_STREAM_KEY] = events
    task = None
    if settings.support_sweep_seconds > 0:
        task = asyncio.create_task(_sweep_forever(app, ports, settings.support_sweep_seconds))
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await events.close()


async def sweep_once(app: web.Application, ports: SupportPorts) -> int:
    """Return idle conversations to the bot once."""
    async with UnitOfWork(app[DATABASE_KEY].sessions) as uow:
        return await return_idle(uow, app[CLOCK_KEY], ports)


async def _sweep_forever(app: web.Application, ports: SupportPorts, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            if returned := await sweep_once(app, ports):
                log.info("%d idle support conversations returned to the bot", returned)
        except Exception:  # retried at the next tick
            log.exception("support idle sweep failed")
