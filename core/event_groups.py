"""Group commit of device events: which waiting events are applied together.

Events that arrive one a request (or one a message) while a group is being applied wait for
the next group, which takes them in arrival order, up to `max_events`. Nothing waits for
company: an event that finds no group running goes at once, alone if it is alone, so grouping
adds no latency when the centre is idle and groups grow only as the load does. At most
`max_waiting` events wait; one more is refused as busy instead of held in unbounded memory.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

from core.errors import DomainError

T = TypeVar("T")


class IntakeBusyError(DomainError):
    """Too many events wait to be applied: the device should resend a little later."""

    code = "busy"
    status = 503
    message_zh = "系统繁忙，请稍后再试"
    retry_after_seconds = 1


@dataclass(frozen=True, slots=True)
class GroupLimits:
    """How many events a group holds and how many may wait for one."""

    max_events: int = 200
    max_waiting: int = 2000

    def __post_init__(self) -> None:
        if self.max_events < 1 or self.max_waiting < 1:
            raise ValueError("a group holds at least one event and one may wait")


class WaitingEvents(Generic[T]):
    """Events waiting for a group, in arrival order, never more than the limit."""

    def __init__(self, limits: GroupLimits) -> None:
        self._limits = limits
        self._waiting: deque[T] = deque()

    def __len__(self) -> int:
        return len(self._waiting)

    def offer(self, item: T) -> bool:
        """Queue an event; False (nothing queued) when as many wait as allowed."""
        if len(self._waiting) >= self._limits.max_waiting:
            return False
        self._waiting.append(item)
        return True

    def take_all(self) -> list[T]:
        """Every waiting event, emptying the queue (it is being shut down)."""
        taken, self._waiting = list(self._waiting), deque()
        return taken

    def take(self) -> list[T]:
        """The next group: the oldest waiting events, up to a group's size."""
        count = min(len(self._waiting), self._limits.max_events)
        return [self._waiting.popleft() for _ in range(count)]
