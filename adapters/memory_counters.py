"""Expiring counters in this process: the rate limits of one worker without Redis."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

_SWEEP_EVERY = 1024  # increments between sweeps of expired keys


class MemoryCounters:
    """Counters and flags expiring on the injected clock; each worker keeps its own."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[int, datetime]] = {}
        self._writes = 0

    def _live(self, key: str, now: datetime) -> tuple[int, datetime] | None:
        found = self._entries.get(key)
        if found is not None and found[1] <= now:
            del self._entries[key]
            return None
        return found

    async def increment(self, key: str, ttl_seconds: int, now: datetime) -> tuple[int, int]:
        """Add one; the count and the seconds left."""
        self._sweep(now)
        found = self._live(key, now)
        count, expires = (
            (found[0] + 1, found[1]) if found else (1, now + timedelta(seconds=ttl_seconds))
        )
        self._entries[key] = (count, expires)
        return count, math.ceil((expires - now).total_seconds())

    async def hold(self, key: str, seconds: int, now: datetime) -> None:
        """Set a flag for `seconds`."""
        self._entries[key] = (1, now + timedelta(seconds=seconds))

    async def seconds_left(self, key: str, now: datetime) -> int:
        """Seconds until the key expires; 0 when absent."""
        found = self._live(key, now)
        return math.ceil((found[1] - now).total_seconds()) if found else 0

    async def clear(self, keys: list[str]) -> None:
        """Forget keys."""
        for key in keys:
            self._entries.pop(key, None)

    def _sweep(self, now: datetime) -> None:
        # Clients that came once would otherwise stay in memory for good.
        self._writes += 1
        if self._writes % _SWEEP_EVERY == 0:
            self._entries = {k: v for k, v in self._entries.items() if v[1] > now}
