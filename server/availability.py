"""Live availability stores (in-process or Redis) and the background task that feeds them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

from core.availability import AvailabilityStore, BerthLive, OccupancyChange
from core.store.unit_of_work import UnitOfWork
from server.availability_fallback import FallbackAvailability
from server.resources import CLOCK_KEY, DATABASE_KEY, SETTINGS_KEY

log = logging.getLogger(__name__)

AVAILABILITY_KEY: web.AppKey[AvailabilityStore] = web.AppKey("availability")

_QUEUE_SIZE = 1000
_REDIS_TIMEOUT = 2.0


class InProcessAvailability:
    """Berth states in a dict; changes fan out to the streams of this process."""

    def __init__(self) -> None:
        self._berths: dict[str, BerthLive] = {}
        self._listeners: set[asyncio.Queue[BerthLive]] = set()

    async def load(self, berths: Iterable[BerthLive]) -> None:
        """Add or refresh berths, keeping a newer occupancy already stored."""
        for berth in berths:
            known = self._berths.get(berth.code)
            if known is not None:
                # Closures change through set_closed, which tells the streams.
                berth = replace(berth, closed=known.closed)
                if known.version > berth.version:
                    berth = replace(berth, occupied=known.occupied, version=known.version)
            self._set(berth)

    async def apply(self, change: OccupancyChange) -> bool:
        """Apply a change unless a newer one is stored."""
        known = self._berths.get(change.code)
        if known is None or known.version >= change.version:
            return False
        self._set(replace(known, occupied=change.occupied, version=change.version))
        return True

    async def set_closed(self, code: str, closed: bool) -> bool:
        """Mark a berth closed or reopened."""
        known = self._berths.get(code)
        if known is None or known.closed == closed:
            return False
        self._set(replace(known, closed=closed))
        return True

    async def berths(self, zone: str | None = None) -> list[BerthLive]:
        """Every berth, or one zone's, by code."""
        found = [b for b in self._berths.values() if not zone or b.zone == zone]
        return sorted(found, key=lambda b: b.code)

    async def changes(self) -> AsyncIterator[BerthLive | None]:
        """None once subscribed, then berth states as they change, until the caller stops."""
        queue: asyncio.Queue[BerthLive] = asyncio.Queue(_QUEUE_SIZE)
        self._listeners.add(queue)
        try:
            yield None
            while True:
                yield await queue.get()
        finally:
            self._listeners.discard(queue)

    def _set(self, berth: BerthLive) -> None:
        before = self._berths.get(berth.code)
        self._berths[berth.code] = berth
        if before == berth:
            return
        for queue in list(self._listeners):
            with contextlib.suppress(asyncio.QueueFull):  # a stalled stream misses updates
                queue.put_nowait(berth)


# Sets a known berth's occupancy when the version is newer and publishes the berth as JSON;
# -1 for a berth Redis does not know (restarted empty: the change waits for a refill).
_APPLY = """
if redis.call('HEXISTS', KEYS[1], 'zone') == 0 then return -1 end
local stored = tonumber(redis.call('HGET', KEYS[1], 'version') or '-1')
if stored ~= nil and tonumber(ARGV[2]) <= stored then return 0 end
redis.call('HSET', KEYS[1], 'occupied', ARGV[1], 'version', ARGV[2])
redis.call('PUBLISH', KEYS[2], cjson.encode(redis.call('HGETALL', KEYS[1])))
return 1
"""

# Loads a berth, keeping a newer occupancy and the closed flag already there.
_LOAD = """
local stored = tonumber(redis.call('HGET', KEYS[1], 'version') or '-1')
redis.call('HSET', KEYS[1], 'code', ARGV[1], 'zone', ARGV[2], 'street', ARGV[3])
redis.call('HSETNX', KEYS[1], 'closed', ARGV[6])
if stored == nil or tonumber(ARGV[5]) > stored then
  redis.call('HSET', KEYS[1], 'occupied', ARGV[4], 'version', ARGV[5])
end
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""

# Sets the closed flag and publishes the berth when it changed.
_CLOSE = """
if redis.call('HEXISTS', KEYS[1], 'zone') == 0 then return 0 end
if redis.call('HGET', KEYS[1], 'closed') == ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'closed', ARGV[1])
redis.call('PUBLISH', KEYS[2], cjson.encode(redis.call('HGETALL', KEYS[1])))
return 1
"""


# Every berth of the zones named (all zones when none is), in one round trip: the warm marker
# first (1 when a full load filled this Redis), then code, zone, street, occupied, closed and
# version of each berth. Berth keys are read from the zone sets, not passed in KEYS: this store
# runs on one Redis, not a cluster.
_READ = """
local found = {redis.call('EXISTS', KEYS[1])}
local zones = ARGV
if #zones == 0 then zones = redis.call('SMEMBERS', KEYS[2]) end
for _, zone in ipairs(zones) do
  for _, code in ipairs(redis.call('SMEMBERS', KEYS[3] .. 'zone:' .. zone)) do
    local row = redis.call('HMGET', KEYS[3] .. 'berth:' .. code,
      'code', 'zone', 'street', 'occupied', 'closed', 'version')
    if row[1] then
      for i = 1, 6 do found[#found + 1] = row[i] end
    end
  end
end
return found
"""
_FIELDS = 6
_COLUMNS = ("code", "zone", "street", "occupied", "closed", "version")


class RedisAvailability:
    """Berth states in Redis hashes, shared by every worker; changes go out by pub/sub."""

    def __init__(self, client: aioredis.Redis, prefix: str = "parking:avail") -> None:
        self._redis = client
        self._prefix = prefix
        self._channel = f"{prefix}:changes"
        self._warm = f"{prefix}:warm"
        self.unknown_berths = 0  # changes dropped for berths Redis did not know
        self._apply = client.register_script(_APPLY)
        self._load = client.register_script(_LOAD)
        self._close = client.register_script(_CLOSE)
        self._read = client.register_script(_READ)

    def _key(self, code: str) -> str:
        return f"{self._prefix}:berth:{code}"

    async def load(self, berths: Iterable[BerthLive]) -> None:
        """Add or refresh berths, keeping a newer occupancy already stored."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for b in berths:
                args: list[str | int] = [
                    b.code,
                    b.zone,
                    b.street,
                    int(b.occupied),
                    b.version,
                    int(b.closed),
                ]
                await self._load(
                    keys=[self._key(b.code), f"{self._prefix}:zone:{b.zone}"],
                    args=args,
                    client=pipe,
                )
                pipe.sadd(f"{self._prefix}:zones", b.zone)
            pipe.set(self._warm, "1")  # filled: a restarted (empty) Redis lacks this key
            await pipe.execute()

    async def apply(self, change: OccupancyChange) -> bool:
        """Apply a change unless a newer one is stored."""
        keys = [self._key(change.code), self._channel]
        result = int(await self._apply(keys=keys, args=[int(change.occupied), change.version]))
        if result < 0:
            self.unknown_berths += 1
        return result == 1

    async def set_closed(self, code: str, closed: bool) -> bool:
        """Mark a berth closed or reopened."""
        return bool(await self._close(keys=[self._key(code), self._channel], args=[int(closed)]))

    async def berths(self, zone: str | None = None) -> list[BerthLive]:
        """Every berth, or one zone's, by code."""
        return (await self._read_berths(zone))[1]

    async def warm_berths(self, zone: str | None = None) -> list[BerthLive] | None:
        """As berths, with the warm check in the same round trip: None unless a full load
        filled this Redis (a restart without a dump empties it)."""
        warm, found = await self._read_berths(zone)
        return found if warm else None

    async def _read_berths(self, zone: str | None) -> tuple[bool, list[BerthLive]]:
        keys = [self._warm, f"{self._prefix}:zones", f"{self._prefix}:"]
        reply: list[Any] = await self._read(keys=keys, args=[zone] if zone else [])
        found = [
            _berth(dict(zip(_COLUMNS, reply[i : i + _FIELDS], strict=True)))
            for i in range(1, len(reply), _FIELDS)
        ]
        found.sort(key=lambda b: b.code)
        return bool(reply[0]), found

    async def changes(self) -> AsyncIterator[BerthLive | None]:
        """None once subscribed, then berth states as they change, until the caller stops."""
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(self._channel)
        try:
            yield None
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    pairs = json.loads(message["data"])
                    yield _berth(dict(zip(pairs[::2], pairs[1::2], strict=True)))
        finally:
            await pubsub.unsubscribe(self._channel)
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()


def _berth(row: dict[str, Any]) -> BerthLive:
    return BerthLive(
        code=str(row["code"]),
        zone=str(row["zone"]),
        street=str(row["street"]),
        occupied=str(row["occupied"]) == "1",
        closed=str(row["closed"]) == "1",
        version=int(row["version"]),
    )


async def stored_berths(uow: UnitOfWork, now: datetime) -> list[BerthLive]:
    """Every on-street berth's occupancy and closure as the database has them."""
    closed = await uow.device_ops.closed_berth_codes(now)
    return [
        BerthLive(code, zone, street, occupied, code in closed, version)
        for code, zone, street, occupied, version in await uow.device_ops.street_berths()
    ]


async def refresh(store: AvailabilityStore, uow: UnitOfWork, now: datetime) -> None:
    """Load berth occupancy and closures from the database into the store."""
    berths = await stored_berths(uow, now)
    await store.load(berths)
    for berth in berths:
        await store.set_closed(berth.code, berth.closed)


async def availability_ctx(app: web.Application) -> AsyncIterator[None]:
    """Build the store, fill it from the database and keep closures current while serving."""
    settings = app[SETTINGS_KEY]
    store: InProcessAvailability | FallbackAvailability
    redis_store = None
    if settings.redis_url:
        # Short timeouts: while Redis is away the database answers, and should do so at once.
        client = aioredis.from_url(
            settings.redis_url,
            decode_responses=True,
            socket_timeout=_REDIS_TIMEOUT,
            socket_connect_timeout=_REDIS_TIMEOUT,
        )
        redis_store = RedisAvailability(client, settings.availability_redis_prefix)
        store = FallbackAvailability(redis_store, lambda: _read_database(app))
    else:
        store = InProcessAvailability()
    app[AVAILABILITY_KEY] = store

    async def refresh_once() -> None:
        async with UnitOfWork(app[DATABASE_KEY].sessions) as uow:
            await refresh(store, uow, app[CLOCK_KEY].now())

    async def keep_fresh() -> None:
        while True:
            await asyncio.sleep(settings.availability_refresh_seconds)
            try:
                await refresh_once()
            except Exception:  # a failed refresh is retried on the next tick
                log.exception("availability refresh failed")

    await refresh_once()
    task = asyncio.create_task(keep_fresh())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    if isinstance(store, FallbackAvailability):
        await store.close()
    if redis_store is not None:
        await redis_store.close()


async def _read_database(app: web.Application) -> list[BerthLive]:
    async with UnitOfWork(app[DATABASE_KEY].sessions, read_only=True) as uow:
        return await stored_berths(uow, app[CLOCK_KEY].now())
