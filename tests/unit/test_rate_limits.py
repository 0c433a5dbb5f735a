"""Rate limits and login locks: fixed windows and a doubling back-off, on the injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.memory_counters import MemoryCounters
from core.rate_limits import (
    BackOff,
    Limit,
    LoginAttempts,
    TooManyRequestsError,
    check_rate,
    lock_minutes,
)

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
POLICY = BackOff(max_failed=5, first_minutes=15, max_minutes=240)


@pytest.mark.parametrize(
    ("failures", "minutes"),
    [(1, 0), (4, 0), (5, 15), (6, 30), (7, 60), (8, 120), (9, 240), (40, 240)],
)
def test_the_lock_doubles_with_each_failure_past_the_limit(failures: int, minutes: int) -> None:
    assert lock_minutes(failures, POLICY) == minutes


async def test_the_limit_counts_per_client_and_window() -> None:
    counters = MemoryCounters()
    limit = Limit(3, 60)
    for _ in range(3):
        await check_rate(counters, "plate_lookup", "10.0.0.1", limit, NOW)
    with pytest.raises(TooManyRequestsError) as refused:
        await check_rate(counters, "plate_lookup", "10.0.0.1", limit, NOW + timedelta(seconds=20))
    assert (refused.value.status, refused.value.code, refused.value.retry_after_seconds) == (
        429,
        "too_many_requests",
        40,
    )
    assert refused.value.message_zh == "请求过于频繁，请稍后再试"
    await check_rate(counters, "plate_lookup", "10.0.0.2", limit, NOW)  # another client
    await check_rate(counters, "login", "10.0.0.1", limit, NOW)  # another scope
    await check_rate(counters, "plate_lookup", "10.0.0.1", limit, NOW + timedelta(seconds=60))


async def test_a_lock_binds_one_client_and_one_account_and_a_success_clears_it() -> None:
    attempts = LoginAttempts(MemoryCounters())
    for n in range(1, 5):
        assert await attempts.failed("demo-admin", "10.0.0.9", NOW, POLICY) == (n, 0)
    assert await attempts.failed("demo-admin", "10.0.0.9", NOW, POLICY) == (5, 15)
    assert await attempts.locked_seconds("demo-admin", "10.0.0.9", NOW) == 900
    assert await attempts.locked_seconds("demo-admin", "10.0.0.1", NOW) == 0  # the owner
    assert await attempts.locked_seconds("demo-finance", "10.0.0.9", NOW) == 0
    later = NOW + timedelta(minutes=15)
    assert await attempts.locked_seconds("demo-admin", "10.0.0.9", later) == 0
    assert await attempts.failed("demo-admin", "10.0.0.9", later, POLICY) == (6, 30)
    await attempts.succeeded("demo-admin", "10.0.0.9")
    assert await attempts.locked_seconds("demo-admin", "10.0.0.9", later) == 0
    assert await attempts.failed("demo-admin", "10.0.0.9", later, POLICY) == (1, 0)


async def test_memory_counters_forget_expired_keys() -> None:
    counters = MemoryCounters()
    assert await counters.increment("k", 10, NOW) == (1, 10)
    assert await counters.increment("k", 10, NOW + timedelta(seconds=4)) == (2, 6)
    assert await counters.seconds_left("k", NOW + timedelta(seconds=10)) == 0
    assert await counters.increment("k", 10, NOW + timedelta(seconds=10)) == (1, 10)
