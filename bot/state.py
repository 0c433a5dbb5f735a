"""A short memory per chat user (what the bot asked, the last place), with a time-out."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import redis.asyncio as aioredis

from core.clock import Clock


@dataclass(frozen=True, slots=True)
class LastPlace:
    """A place the driver named or sent: a point, and the lot or zone when there is one."""

    name: str
    lat: float
    lng: float
    lot: str | None = None
    zone: str | None = None
    tariff_code: str | None = None


RECENT_KEPT = 3
RECENT_CHARS = 200


@dataclass(frozen=True, slots=True)
class ChatState:
    """What the bot remembers of one user between messages."""

    awaiting: str | None = None  # the intent waiting for a plate or a place
    misses: int = 0  # messages in a row the bot did not understand
    place: LastPlace | None = None
    recent: tuple[str, ...] = ()  # the last few texts: an agent taking over reads them

    def with_changes(self, **changes: Any) -> ChatState:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def remembering(self, text: str) -> ChatState:
        """A copy that keeps this text among the last few."""
        return replace(self, recent=(*self.recent, text[:RECENT_CHARS])[-RECENT_KEPT:])

    def to_json(self) -> str:
        """The state as stored."""
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> ChatState:
        """A stored state; an unreadable one is a fresh start."""
        try:
            data = json.loads(text)
            place = data.get("place")
            return cls(
                awaiting=data.get("awaiting"),
                misses=int(data.get("misses", 0)),
                place=LastPlace(**place) if isinstance(place, dict) else None,
                recent=tuple(str(t) for t in data.get("recent", ()))[-RECENT_KEPT:],
            )
        except (ValueError, TypeError, AttributeError):
            return cls()


class ChatStateStore(Protocol):
    """Where the states live: the process, or Redis shared by every worker."""

    async def load(self, key: str) -> ChatState:
        """The user's state, or a fresh one after the time-out."""
        ...

    async def save(self, key: str, state: ChatState) -> None:
        """Keep the state until the time-out."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class MemoryStateStore:
    """States in this process, timed out on the injected clock."""

    def __init__(self, clock: Clock, ttl: timedelta, max_users: int = 100_000) -> None:
        self._clock = clock
        self._ttl = ttl
        self._max = max_users
        self._states: dict[str, tuple[datetime, ChatState]] = {}

    async def load(self, key: str) -> ChatState:
        """The user's state while it is fresh."""
        found = self._states.get(key)
        if found is None or self._clock.now() - found[0] > self._ttl:
            self._states.pop(key, None)
            return ChatState()
        return found[1]

    async def save(self, key: str, state: ChatState) -> None:
        """Keep the state; the oldest are dropped beyond max_users."""
        self._states.pop(key, None)
        self._states[key] = (self._clock.now(), state)
        while len(self._states) > self._max:
            self._states.pop(next(iter(self._states)))

    async def close(self) -> None:
        """Nothing to release."""


class RedisStateStore:
    """States in Redis under a prefix, expiring by themselves."""

    def __init__(
        self, client: aioredis.Redis, ttl: timedelta, prefix: str = "parking:chat"
    ) -> None:
        self._client = client
        self._ttl = max(int(ttl.total_seconds()), 1)
        self._prefix = prefix

    async def load(self, key: str) -> ChatState:
        """The user's state while Redis keeps it."""
        found = await self._client.get(f"{self._prefix}:{key}")
        return ChatState.from_json(found) if found is not None else ChatState()

    async def save(self, key: str, state: ChatState) -> None:
        """Store the state with its expiry."""
        await self._client.set(f"{self._prefix}:{key}", state.to_json(), ex=self._ttl)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
