"""Wrong passwords lock one client out of one account; login and plate lookups answer 429."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from redis.exceptions import RedisError

from adapters.memory_counters import MemoryCounters
from adapters.redis_counters import RedisCounters
from config.settings import Settings
from core.clock import FrozenClock
from core.errors import AuthenticationError
from core.rate_limits import BackOff, LoginAttempts
from core.services.staff import LoginPolicy, log_in
from core.staff import DEMO_PASSWORD, AccountLockedError, LockoutPolicy
from core.store.unit_of_work import UnitOfWork
from server.app import create_app
from tests.conftest import service_missing

REDIS_URL = os.environ.get("PARKING_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POLICY = LoginPolicy("s" * 40, 30, LockoutPolicy(5, 15), max_lock_minutes=240)
GUESSER, OWNER = "203.0.113.7", "10.20.30.40"


async def _try(
    uow_factory: Callable[[], UnitOfWork],
    clock: FrozenClock,
    attempts: LoginAttempts,
    password: str,
    client: str,
) -> str:
    async with uow_factory() as uow:
        try:
            await log_in(
                uow, clock, POLICY, "demo-admin", password, client=client, attempts=attempts
            )
        except AccountLockedError as exc:
            return f"locked {exc.minutes_left}"
        except AuthenticationError:
            return "wrong"
    return "ok"


async def test_a_guesser_locks_itself_out_not_the_owner(
    uow_factory: Callable[[], UnitOfWork], clock: FrozenClock
) -> None:
    attempts = LoginAttempts(MemoryCounters())
    tries = [await _try(uow_factory, clock, attempts, "guess-123456", GUESSER) for _ in range(6)]
    assert tries == ["wrong"] * 4 + ["locked 15", "locked 15"]
    # Before the fix five guesses from anyone locked the account for everyone.
    assert await _try(uow_factory, clock, attempts, DEMO_PASSWORD, OWNER) == "ok"
    assert await _try(uow_factory, clock, attempts, DEMO_PASSWORD, GUESSER) == "locked 15"
    clock.advance(timedelta(minutes=15))
    assert await _try(uow_factory, clock, attempts, "guess-7", GUESSER) == "locked 30"  # back-off
    async with uow_factory() as uow:
        locks = await uow.audit.page(action="staff.lock")
    assert [link.details["client"] for link in locks] == [GUESSER, GUESSER]


async def test_unknown_usernames_lock_as_known_ones_do(
    uow_factory: Callable[[], UnitOfWork], clock: FrozenClock
) -> None:
    attempts = LoginAttempts(MemoryCounters())
    outcomes = []
    for _ in range(5):
        async with uow_factory() as uow:
            try:
                await log_in(
                    uow, clock, POLICY, "nobody-here", "x" * 12, client=GUESSER, attempts=attempts
                )
            except AccountLockedError:
                outcomes.append("locked")
            except AuthenticationError:
                outcomes.append("wrong")
    assert outcomes == ["wrong"] * 4 + ["locked"]


async def test_login_and_plate_lookup_answer_429_with_retry_after(
    settings: Settings, clock: FrozenClock, aiohttp_client: Callable[..., Any]
) -> None:
    limited = settings.model_copy(
        update={"login_rate_per_minute": 3, "plate_lookup_rate_per_minute": 2}
    )
    client: TestClient[Any, Any] = await aiohttp_client(create_app(limited, clock=clock))
    body = {"username": "demo-viewer", "password": DEMO_PASSWORD}
    statuses = []
    for _ in range(4):
        async with client.post("/ops/login", json=body) as response:
            statuses.append(response.status)
            last = (await response.json(), response.headers.get("Retry-After"))
    assert statuses == [200, 200, 200, 429]
    assert last == ({"code": "too_many_requests", "message": "请求过于频繁，请稍后再试"}, "60")
    looked = []
    for path in ("/mp/plates/浙B12345/stays", "/mp/plates/浙B12346/stays"):
        async with client.get(path) as response:
            looked.append(response.status)
    async with client.post("/mp/scan", json={"payload": "x"}) as response:
        assert (response.status, response.headers["Retry-After"]) == (429, "60")
    assert looked == [200, 200]
    clock.advance(timedelta(seconds=60))
    async with client.get("/mp/plates/浙B12345/stays") as response:
        assert response.status == 200


@pytest.fixture
async def redis_counters() -> AsyncIterator[RedisCounters]:
    client = aioredis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        service_missing("Redis", exc)
    prefix = f"test-limits-{os.getpid()}"
    yield RedisCounters(client, prefix=prefix)
    keys = [key async for key in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.mark.redis
async def test_redis_counters_are_shared_and_expire(
    redis_counters: RedisCounters, clock: FrozenClock
) -> None:
    now = clock.now()
    assert await redis_counters.increment("k", 30, now) == (1, 30)
    count, left = await redis_counters.increment("k", 30, now)
    assert count == 2 and 29 <= left <= 30
    attempts = LoginAttempts(redis_counters)
    policy = BackOff(max_failed=2, first_minutes=1, max_minutes=4)
    assert await attempts.failed("demo-admin", GUESSER, now, policy) == (1, 0)
    assert await attempts.failed("demo-admin", GUESSER, now, policy) == (2, 1)
    assert 59 <= await attempts.locked_seconds("demo-admin", GUESSER, now) <= 60
    assert await attempts.locked_seconds("demo-admin", OWNER, now) == 0
    await attempts.succeeded("demo-admin", GUESSER)
    assert await attempts.locked_seconds("demo-admin", GUESSER, now) == 0


@pytest.mark.redis
async def test_the_app_counts_in_redis_when_configured(
    settings: Settings, clock: FrozenClock, aiohttp_client: Callable[..., Any]
) -> None:
    client = aioredis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        service_missing("Redis", exc)
    await client.delete(
        *[k async for k in client.scan_iter("parking:limits:rate:plate_lookup:*")] or ["-"]
    )
    configured = settings.model_copy(
        update={"redis_url": REDIS_URL, "plate_lookup_rate_per_minute": 1}
    )
    first = await aiohttp_client(create_app(configured, clock=clock))
    second = await aiohttp_client(create_app(configured, clock=clock))  # another worker
    async with first.get("/mp/plates/浙B12345/stays") as response:
        assert response.status == 200
    async with second.get("/mp/plates/浙B12345/stays") as response:
        assert response.status == 429  # the count is shared through Redis
    stored = [k async for k in client.scan_iter("parking:limits:rate:plate_lookup:*")]
    assert stored
    await client.delete(*stored)
    await client.aclose()
