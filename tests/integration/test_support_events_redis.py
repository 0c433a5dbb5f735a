"""Support events through Redis pub/sub (db 15): a console on one worker sees another's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator

import pytest
import redis.asyncio as aioredis

from server.support_events import InProcessEvents, RedisEvents
from tests.conftest import service_missing

pytestmark = pytest.mark.redis
REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (OSError, aioredis.ConnectionError) as exc:
        await client.aclose()
        service_missing("Redis", exc)
    yield client
    await client.aclose()


async def test_an_event_published_by_one_worker_reaches_another(
    redis_client: aioredis.Redis,
) -> None:
    listening = RedisEvents(redis_client, "test-support:events")
    other_worker = RedisEvents(aioredis.from_url(REDIS_URL), "test-support:events")
    events = listening.listen()
    assert isinstance(events, AsyncGenerator)
    assert await anext(events) is None  # subscribed
    sent = {"type": "message", "conversation": 7, "message": {"body": "多扣了5元"}}
    await other_worker.publish(sent)
    assert await asyncio.wait_for(anext(events), 5) == sent
    await events.aclose()
    await other_worker.close()


async def test_in_process_events_reach_every_listener() -> None:
    broker = InProcessEvents()
    one, two = broker.listen(), broker.listen()
    assert isinstance(one, AsyncGenerator) and isinstance(two, AsyncGenerator)
    assert await anext(one) is None and await anext(two) is None
    await broker.publish({"type": "queued", "conversation": 1})
    assert await anext(one) == await anext(two) == {"type": "queued", "conversation": 1}
    await one.aclose()
    await broker.publish({"type": "claimed", "conversation": 1})  # a closed one is dropped
    assert (await anext(two))["type"] == "claimed"
    await two.aclose()
