"""The spaces-near-me place index on Redis GEO, shared by every worker."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import redis.asyncio as aioredis

from core.nearby import GeoPoint, PlaceSpot
from core.store.unit_of_work import UnitOfWork

_CHUNK = 1000


class RedisPlaceIndex:
    """Places in one GEO sorted set; a reload builds a new set and swaps it in atomically."""

    def __init__(self, client: aioredis.Redis, key: str = "parking:places") -> None:
        self._redis = client
        self._key = key

    async def load(self, spots: Iterable[PlaceSpot]) -> int:
        """Replace the index with these places; returns how many were stored."""
        staging = f"{self._key}:loading:{uuid.uuid4().hex}"
        count = 0
        batch: list[float | str] = []
        for spot in spots:
            batch += [spot.point.lng, spot.point.lat, spot.key]
            count += 1
            if len(batch) >= 3 * _CHUNK:
                await self._redis.geoadd(staging, batch)
                batch = []
        if batch:
            await self._redis.geoadd(staging, batch)
        if count:
            await self._redis.rename(staging, self._key)
        else:
            await self._redis.delete(self._key)
        return count

    async def candidates(
        self, uow: UnitOfWork, center: GeoPoint, radius_m: float, limit: int
    ) -> list[str]:
        """Keys of the nearest places within the radius (GEOSEARCH ... ASC COUNT limit)."""
        found = await self._redis.geosearch(
            self._key,
            longitude=center.lng,
            latitude=center.lat,
            radius=radius_m + 1.0,  # GEO points are rounded to about 0.6 m
            unit="m",
            sort="ASC",
            count=limit,
        )
        return [key.decode() if isinstance(key, bytes) else str(key) for key in found]

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()
