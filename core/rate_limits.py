"""Request rate limits and per-(account, address) login locks, over a counter-store port."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.errors import DomainError


class TooManyRequestsError(DomainError):
    """A client asked more often than the limit allows; it may retry after a while."""

    code = "too_many_requests"
    status = 429
    message_zh = "请求过于频繁，请稍后再试"

    def __init__(self, retry_after_seconds: int, *, detail: str = "") -> None:
        super().__init__(detail=detail)
        self.retry_after_seconds = max(1, retry_after_seconds)


class Counters(Protocol):
    """Expiring counters shared by the workers (Redis) or kept by this process."""

    async def increment(self, key: str, ttl_seconds: int, now: datetime) -> tuple[int, int]:
        """Add one; the count and the seconds left (the TTL starts on the first increment)."""
        ...

    async def hold(self, key: str, seconds: int, now: datetime) -> None:
        """Set a flag that expires after `seconds`."""
        ...

    async def seconds_left(self, key: str, now: datetime) -> int:
        """Seconds until a key expires; 0 when it does not exist."""
        ...

    async def clear(self, keys: list[str]) -> None:
        """Forget keys."""
        ...


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `count` requests per `window_seconds` from one client."""

    count: int
    window_seconds: int


async def check_rate(
    counters: Counters, scope: str, client: str, limit: Limit, now: datetime
) -> None:
    """Count one request of a client; TooManyRequestsError beyond the limit."""
    count, left = await counters.increment(f"rate:{scope}:{client}", limit.window_seconds, now)
    if count > limit.count:
        raise TooManyRequestsError(left, detail=f"{scope} {count} in {limit.window_seconds}s")


@dataclass(frozen=True, slots=True)
class BackOff:
    """After `max_failed` wrong passwords a lock of `first_minutes`, doubling up to a cap."""

    max_failed: int
    first_minutes: int
    max_minutes: int
    memory_seconds: int = 24 * 3600  # how long failures are remembered


def lock_minutes(failures: int, policy: BackOff) -> int:
    """The lock a failure count earns: none below the limit, then doubling with each failure."""
    if failures < policy.max_failed:
        return 0
    doubled = policy.first_minutes * (1 << min(failures - policy.max_failed, 16))
    return min(doubled, policy.max_minutes)


def minutes_of(seconds: int) -> int:
    """Whole minutes, rounded up, for a message."""
    return max(1, math.ceil(seconds / 60))


class LoginAttempts:
    """Wrong passwords counted per (account, client address): one guesser locks only itself."""

    def __init__(self, counters: Counters) -> None:
        self._counters = counters

    @staticmethod
    def _keys(username: str, client: str) -> tuple[str, str]:
        return f"login:fail:{username}:{client}", f"login:lock:{username}:{client}"

    async def locked_seconds(self, username: str, client: str, now: datetime) -> int:
        """Seconds this client must still wait before trying this account again."""
        return await self._counters.seconds_left(self._keys(username, client)[1], now)

    async def failed(
        self, username: str, client: str, now: datetime, policy: BackOff
    ) -> tuple[int, int]:
        """Count a wrong password; the failures so far and the lock (minutes) it earns."""
        fails, lock = self._keys(username, client)
        count, _ = await self._counters.increment(fails, policy.memory_seconds, now)
        minutes = lock_minutes(count, policy)
        if minutes:
            await self._counters.hold(lock, minutes * 60, now)
        return count, minutes

    async def succeeded(self, username: str, client: str) -> None:
        """A right password: this client starts afresh on this account."""
        await self._counters.clear(list(self._keys(username, client)))
