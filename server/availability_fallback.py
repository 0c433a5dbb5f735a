"""Live availability that survives Redis: the database answers while Redis is away or cold."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable
from typing import Protocol

from redis.exceptions import RedisError

from core.availability import BerthLive, OccupancyChange

log = logging.getLogger(__name__)

Load = Callable[[], Awaitable[list[BerthLive]]]
_FAILURES = (RedisError, OSError, TimeoutError)
_CACHE_SECONDS = 1.0  # one database read serves the requests of a second while Redis is away
_RESUBSCRIBE_SECONDS = (0.5, 1.0, 2.0, 5.0)


class WarmStore(Protocol):
    """What the fallback needs of the Redis store."""

    async def load(self, berths: Iterable[BerthLive]) -> None: ...
    async def apply(self, change: OccupancyChange) -> bool: ...
    async def set_closed(self, code: str, closed: bool) -> bool: ...
    async def berths(self, zone: str | None = None) -> list[BerthLive]: ...
    async def warm_berths(self, zone: str | None = None) -> list[BerthLive] | None: ...
    @property
    def unknown_berths(self) -> int: ...
    def changes(self) -> AsyncIterator[BerthLive | None]: ...


class FallbackAvailability:
    """Reads Redis while it is up and filled; otherwise the database, and refills Redis."""

    def __init__(self, store: WarmStore, from_database: Load) -> None:
        self._store = store
        self._from_database = from_database
        self._cached: tuple[float, list[BerthLive]] | None = None
        self._rebuild: asyncio.Task[None] | None = None
        self._again = False
        self.fallbacks = 0  # reads the database answered, for tests and health checks

    async def load(self, berths: Iterable[BerthLive]) -> None:
        """Fill Redis; while it is away there is nothing to fill."""
        try:
            await self._store.load(list(berths))
        except _FAILURES as exc:
            log.warning("availability not loaded into Redis (%s); the database answers", exc)

    async def apply(self, change: OccupancyChange) -> bool:
        """Apply a change in Redis; a lost one is repaired by the rebuild that follows."""
        unknown = self._store.unknown_berths
        try:
            applied = await self._store.apply(change)
        except _FAILURES as exc:
            log.warning("berth %s occupancy not applied in Redis: %s", change.code, exc)
            return False
        if self._store.unknown_berths != unknown:
            self._refill_soon()  # Redis came back empty: this change is in the database only
        return applied

    async def set_closed(self, code: str, closed: bool) -> bool:
        """Mark a berth closed or reopened in Redis."""
        try:
            return await self._store.set_closed(code, closed)
        except _FAILURES as exc:
            log.warning("berth %s closure not applied in Redis: %s", code, exc)
            return False

    async def berths(self, zone: str | None = None) -> list[BerthLive]:
        """Every berth, or one zone's: from Redis when it is up and warm, else the database."""
        try:
            found = await self._store.warm_berths(zone)
            if found is not None:
                return found
            reason = "empty (restarted?)"
        except _FAILURES as exc:
            reason = f"unreachable ({exc})"
        self.fallbacks += 1
        if self._rebuild is None or self._rebuild.done():
            log.warning(
                "availability: Redis %s; the database answers and Redis is refilled", reason
            )
            self._rebuild = asyncio.create_task(self._refill())
        stored = await self._database_berths()
        return [b for b in stored if not zone or b.zone == zone]

    async def _database_berths(self) -> list[BerthLive]:
        now = time.monotonic()
        if self._cached is None or now - self._cached[0] > _CACHE_SECONDS:
            self._cached = (now, await self._from_database())
        return self._cached[1]

    def _refill_soon(self) -> None:
        """Refill Redis from the database; once more after a refill under way, which may have
        read the database before the change that asked for it."""
        if self._rebuild is not None and not self._rebuild.done():
            self._again = True
            return
        self._rebuild = asyncio.create_task(self._refill())

    async def _refill(self) -> None:
        self._again = True
        while self._again:
            self._again = False
            await self._refill_once()

    async def _refill_once(self) -> None:
        try:
            await self._store.load(await self._from_database())
        except _FAILURES as exc:
            log.info("availability: Redis not refilled yet: %s", exc)
        except Exception:  # the database away too: the next read tries again
            log.exception("availability: Redis refill failed")

    async def changes(self) -> AsyncIterator[BerthLive | None]:
        """None once subscribed, then changes; after a Redis outage every berth, then changes."""
        attempt = 0
        subscribed_once = False
        while True:
            stream = self._store.changes()
            assert isinstance(stream, AsyncGenerator)
            try:
                async for change in stream:
                    if change is not None:
                        yield change
                        continue
                    attempt = 0
                    if not subscribed_once:
                        subscribed_once = True
                        yield None
                        continue
                    # Changes made while unsubscribed were missed: send every berth again.
                    # Shielded: a database read cancelled midway loses its pooled connection.
                    for berth in await asyncio.shield(self.berths()):
                        yield berth
            except _FAILURES as exc:
                delay = _RESUBSCRIBE_SECONDS[min(attempt, len(_RESUBSCRIBE_SECONDS) - 1)]
                attempt += 1
                log.warning("availability stream lost Redis (%s); again in %.1fs", exc, delay)
                if not subscribed_once:
                    subscribed_once = True
                    yield None
                await asyncio.sleep(delay)
            finally:
                with contextlib.suppress(*_FAILURES):
                    await stream.aclose()

    async def close(self) -> None:
        """Let a refill under way finish (its reads are short), then stop."""
        if self._rebuild is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._rebuild), 5)
            if not self._rebuild.done():
                self._rebuild.cancel()
