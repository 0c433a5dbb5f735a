"""Group commit for single berth events: concurrent requests and messages share a transaction.

Each HTTP request or MQTT message of one berth event hands it to the worker's collector and
waits for its own outcome. The collector applies one group at a time: whatever waited while
the previous group ran (`core/event_groups.py`), through `core/services/berth_groups.py`.
Created by the app's cleanup context; on shutdown it takes no more and applies every waiting
event before the database closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from core.berth_events import BerthEvent
from core.errors import DomainError
from core.event_groups import GroupLimits, IntakeBusyError, WaitingEvents
from core.services.berth_batch import Outcome
from core.services.berth_events import BerthEventResult
from core.services.berth_groups import Apply, Result, record_berth_group
from server.metrics import observe_berth_group

log = logging.getLogger(__name__)

_Waiting = tuple[BerthEvent, "asyncio.Future[Outcome]"]


class BerthEventCollector:
    """Single berth events of one worker, applied in groups, one group at a time."""

    def __init__(self, apply: Apply, limits: GroupLimits) -> None:
        self._apply = apply
        self._waiting: WaitingEvents[_Waiting] = WaitingEvents(limits)
        self._wake = asyncio.Event()
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self.groups = 0  # groups applied, and the events they held: for tests and health
        self.grouped = 0

    def start(self) -> None:
        """Begin applying groups in the background."""
        self._task = asyncio.create_task(self._run())

    async def submit(self, event: BerthEvent) -> Outcome:
        """Apply an event with whatever else waits; its own outcome once its group committed."""
        if self._closed:
            raise IntakeBusyError(detail="the intake is shutting down")
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        if not self._waiting.offer((event, future)):
            raise IntakeBusyError(detail=f"{len(self._waiting)} berth events wait already")
        self._wake.set()
        # A waiter that goes away (a dropped connection) leaves its event queued: it is
        # applied all the same, and the device's resend is then a duplicate.
        return await future

    async def close(self) -> None:
        """Take no more events; apply every waiting one, then stop."""
        self._closed = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        try:
            while self._waiting or not self._closed:
                if not self._waiting:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                await self._take_group()
        except BaseException as exc:  # cancelled: no waiter may hang, nor come in later
            self._closed = True
            _settle(self._waiting.take_all(), None, exc)
            raise

    async def _take_group(self) -> None:
        group = self._waiting.take()
        try:
            await self._apply_group(group)
        except Exception as exc:  # a fault of ours: fail these waiters, keep collecting
            log.exception("a group of %d berth events could not be settled", len(group))
            _settle(group, [exc] * len(group))
        except BaseException as exc:
            _settle(group, None, exc)
            raise

    async def _apply_group(self, group: list[_Waiting]) -> None:
        done = await record_berth_group(self._apply, [event for event, _ in group])
        if len(done.results) != len(group):  # no waiter may get another's outcome
            raise RuntimeError(f"{len(done.results)} outcomes for {len(group)} berth events")
        self.groups += 1
        self.grouped += len(group)
        observe_berth_group(len(group), done.split)
        _settle(group, done.results)


def _settle(
    group: Sequence[_Waiting],
    results: Sequence[Result] | None,
    failure: BaseException | None = None,
) -> None:
    """Hand each waiter its outcome (a refusal is one) or its failure; with no results, cancel
    them all (`failure` says why)."""
    if results is None:
        for _, future in group:
            if not future.done():
                future.cancel(repr(failure))
        return
    for (_, future), result in zip(group, results, strict=True):
        if future.done():  # its waiter went away
            continue
        if isinstance(result, BerthEventResult | DomainError):
            future.set_result(result)
        else:
            future.set_exception(result)
