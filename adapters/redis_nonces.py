"""The networking API's nonce store on Redis: one key per nonce, gone after the replay window."""

from __future__ import annotations

from datetime import datetime

import redis.asyncio as aioredis

from core.network_signing import REPLAY_WINDOW_SECONDS
from core.store.unit_of_work import UnitOfWork


class RedisNonces:
    """`SET NX EX`: the first request with a nonce wins, every worker sees it."""

    def __init__(self, client: aioredis.Redis, prefix: str = "parking:network:nonce") -> None:
        self._redis = client
        self._prefix = prefix

    async def claim(self, uow: UnitOfWork, app_id: str, nonce: str, now: datetime) -> bool:
        """Record a nonce; False when it was seen inside the window."""
        key = f"{self._prefix}:{app_id}:{nonce}"
        return bool(await self._redis.set(key, "1", nx=True, ex=2 * REPLAY_WINDOW_SECONDS))

    async def close(self) -> None:
        """Close the client."""
        await self._redis.aclose()
