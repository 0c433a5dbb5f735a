"""Running a transaction again when a concurrent one changed the same rows first."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from core.store.payments import StaleWriteError
from core.store.unit_of_work import StoreConflictError, UnitOfWork

R = TypeVar("R")
Uows = Callable[[], UnitOfWork]


async def retrying(attempt: Callable[[], Awaitable[R]], times: int = 3) -> R:
    """Await `attempt()`, again after a write conflict, up to `times` tries in all."""
    for remaining in range(times - 1, -1, -1):
        try:
            return await attempt()
        except (StoreConflictError, StaleWriteError):
            if remaining == 0:
                raise
    raise AssertionError("times must be at least 1")
