"""Expiring counters in Redis, shared by every worker; this process's own while Redis is away."""

from __future__ import annotations

import logging
from datetime import datetime

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from adapters.memory_counters import MemoryCounters

log = logging.getLogger(__name__)

# INCR, and the TTL set by the first increment only, in one round trip.
_INCREMENT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local left = redis.call('TTL', KEYS[1])
if left < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); left = tonumber(ARGV[1]) end
return {count, left}
"""


class RedisCounters:
    """Counters under a key prefix; Redis's own clock expires them."""

    def __init__(self, client: aioredis.Redis, prefix: str = "parking:limits") -> None:
        self._redis = client
        self._prefix = prefix
        self._increment = client.register_script(_INCREMENT)
        self._fallback = MemoryCounters()

    def _key(self, key: str) -> str:
        return f"{self._prefix}:{key}"

    async def increment(self, key: str, ttl_seconds: int, now: datetime) -> tuple[int, int]:
        """Add one; the count and the seconds left."""
        try:
            count, left = await self._increment(keys=[self._key(key)], args=[ttl_seconds])
            return int(count), int(left)
        except RedisError as exc:
            # Limits still hold, per worker, rather than opening the door while Redis is away.
            log.warning("rate limit counters: Redis unavailable (%r); this worker counts", exc)
            return await self._fallback.increment(key, ttl_seconds, now)

    async def hold(self, key: str, seconds: int, now: datetime) -> None:
        """Set a flag for `seconds`."""
        await self._fallback.hold(key, seconds, now)  # also here, should Redis go away
        try:
            await self._redis.set(self._key(key), 1, ex=seconds)
        except RedisError as exc:
            log.warning("rate limit counters: Redis unavailable (%r); lock kept here", exc)

    async def seconds_left(self, key: str, now: datetime) -> int:
        """Seconds until the key expires; 0 when absent."""
        local = await self._fallback.seconds_left(key, now)
        try:
            left = int(await self._redis.ttl(self._key(key)))
        except RedisError:
            return local
        return max(left, local, 0)

    async def clear(self, keys: list[str]) -> None:
        """Forget keys."""
        await self._fallback.clear(keys)
        try:
            await self._redis.delete(*(self._key(k) for k in keys))
        except RedisError as exc:
            log.warning("rate limit counters: Redis unavailable (%r)", exc)
