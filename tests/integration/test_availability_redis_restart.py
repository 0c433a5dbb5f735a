"""Availability while Redis is killed and restarted empty: the database answers, Redis refills."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from config.settings import Settings
from core.clock import FrozenClock
from server.availability import AVAILABILITY_KEY
from server.availability_fallback import FallbackAvailability
from tests.conftest import service_missing
from tests.own_services import RedisServer, redis_available

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own."""
    if not redis_available():
        service_missing("redis-server", FileNotFoundError("redis-server"))
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


def sensor(event_id: str, berth: str, state: str, time: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "device": f"MAG-{berth}",
        "berth": berth,
        "state": state,
        "device_time": f"2026-11-25T{time}:00+08:00",
    }


async def taken(client: TestClient[Any, Any]) -> tuple[int, set[str]]:
    answer = await client.get("/mp/availability", params={"zone": "HS1", "berths": "true"})
    assert answer.status == 200, await answer.text()
    body = await answer.json()
    [zone] = body["zones"]
    return zone["free"], {b["code"] for b in body["berths"] if not b["free"]}


async def test_counts_stay_right_while_redis_is_killed_and_restarted_empty(
    settings: Settings,
    clock: FrozenClock,
    aiohttp_client: Callable[..., Any],
    redis_server: RedisServer,
) -> None:
    from server.app import create_app

    configured = settings.model_copy(
        update={"redis_url": redis_server.url, "availability_refresh_seconds": 3600}
    )
    client: TestClient[Any, Any] = await aiohttp_client(create_app(configured, clock=clock))
    post = client.post
    body = sensor("r1", "HS1-001", "occupied", "08:00")
    assert (await post("/devices/sensors/events", json=body)).status == 200
    assert await taken(client) == (19, {"HS1-001"})
    store = client.app[AVAILABILITY_KEY]
    assert isinstance(store, FallbackAvailability) and store.fallbacks == 0

    redis_server.kill()
    assert await taken(client) == (19, {"HS1-001"})  # the database answers
    body = sensor("r2", "HS1-002", "occupied", "08:10")
    assert (await post("/devices/sensors/events", json=body)).status == 200
    await asyncio.sleep(1.1)  # past the fallback's one-second cache
    assert await taken(client) == (18, {"HS1-001", "HS1-002"})

    redis_server.start()  # empty: no dump
    assert await taken(client) == (18, {"HS1-001", "HS1-002"})  # cold: still the database
    before = store.fallbacks
    for _ in range(50):  # the refill the cold read started
        await asyncio.sleep(0.1)
        await taken(client)
        if store.fallbacks == before:
            break
        before = store.fallbacks
    assert store.fallbacks == before, "Redis was never refilled"
    body = sensor("r3", "HS1-001", "vacated", "08:30")
    assert (await post("/devices/sensors/events", json=body)).status == 200
    assert await taken(client) == (19, {"HS1-002"})  # from Redis again, current


async def test_an_availability_stream_outlives_a_redis_restart(
    settings: Settings,
    clock: FrozenClock,
    aiohttp_client: Callable[..., Any],
    redis_server: RedisServer,
) -> None:
    from server.app import create_app

    configured = settings.model_copy(update={"redis_url": redis_server.url})
    client: TestClient[Any, Any] = await aiohttp_client(create_app(configured, clock=clock))
    store = client.app[AVAILABILITY_KEY]
    changes = store.changes()
    assert isinstance(changes, AsyncGenerator)
    try:
        assert await anext(changes) is None
        redis_server.kill()
        redis_server.start()
        body = sensor("s1", "HS1-004", "occupied", "08:00")
        assert (await client.post("/devices/sensors/events", json=body)).status == 200
        seen: set[str] = set()
        pending = asyncio.ensure_future(anext(changes))
        async with asyncio.timeout(15):
            # The change, or every berth again once the stream has resubscribed.
            while "HS1-004" not in seen:
                berth = await pending
                pending = asyncio.ensure_future(anext(changes))
                if berth is not None and berth.occupied:
                    seen.add(berth.code)
        pending.cancel()
        with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
            await pending
    finally:
        await changes.aclose()
    assert "HS1-004" in seen
