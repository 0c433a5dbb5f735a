"""The chat state in Redis (db 15): shared by workers, expiring by itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from bot.state import ChatState, LastPlace, RedisStateStore
from tests.conftest import service_missing

pytestmark = pytest.mark.redis
REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
async def client() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (OSError, aioredis.ConnectionError) as exc:
        await client.aclose()
        service_missing("Redis", exc)
    await client.delete(*[k async for k in client.scan_iter("test-chat:*")] or ["test-chat:none"])
    yield client
    await client.aclose()


async def test_two_workers_share_a_state_until_it_expires(client: aioredis.Redis) -> None:
    one = RedisStateStore(client, timedelta(seconds=1), prefix="test-chat")
    other = RedisStateStore(aioredis.from_url(REDIS_URL), timedelta(seconds=1), prefix="test-chat")
    state = ChatState(
        awaiting="arrears", misses=1, place=LastPlace("老外滩", 29.883, 121.56, zone="JB3")
    )
    await one.save("wx:o-1", state)
    assert await other.load("wx:o-1") == state
    assert 0 < await client.ttl("test-chat:wx:o-1") <= 1
    await asyncio.sleep(1.2)
    assert await other.load("wx:o-1") == ChatState()
    await other.close()
