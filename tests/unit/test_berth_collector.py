"""The collector's transport rules with a fake store: waiters never hang, whatever fails."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from core.berth_events import BerthEvent, BerthState, EventOutcome
from core.event_groups import GroupLimits, IntakeBusyError
from core.services.berth_batch import Outcome
from core.services.berth_events import BerthEventResult
from device_bridge.berth_groups import BerthEventCollector


def _event(key: str) -> BerthEvent:
    return BerthEvent(
        dedupe_key=key,
        vendor="own",
        device_code="MAG-1",
        berth_code="B-1",
        state=BerthState.OCCUPIED,
        device_time=datetime(2026, 11, 25, 1, 0, tzinfo=UTC),
    )


class FakeStore:
    """Applies a group at once; `short` drops one outcome (a bug), `hold` blocks until set."""

    def __init__(self) -> None:
        self.groups: list[list[str]] = []
        self.short = False
        self.hold: asyncio.Event | None = None

    async def apply(self, events: Sequence[BerthEvent]) -> list[Outcome]:
        self.groups.append([e.dedupe_key for e in events])
        if self.hold is not None:
            await self.hold.wait()
        outcomes: list[Outcome] = [BerthEventResult(EventOutcome.APPLIED) for _ in events]
        return outcomes[1:] if self.short else outcomes


async def test_events_that_wait_together_are_one_group_and_each_gets_its_outcome() -> None:
    store = FakeStore()
    collector = BerthEventCollector(store.apply, GroupLimits(max_events=3))
    collector.start()
    results = await asyncio.gather(*(collector.submit(_event(k)) for k in "abcde"))
    await collector.close()
    assert store.groups == [["a", "b", "c"], ["d", "e"]]
    assert {r.outcome for r in results if isinstance(r, BerthEventResult)} == {"applied"}
    assert (collector.groups, collector.grouped) == (2, 5)


async def test_a_fault_settling_a_group_fails_its_waiters_and_the_collector_goes_on() -> None:
    store = FakeStore()
    store.short = True
    collector = BerthEventCollector(store.apply, GroupLimits())
    collector.start()
    results = await asyncio.gather(
        *(collector.submit(_event(k)) for k in "ab"), return_exceptions=True
    )
    assert [type(r) for r in results] == [RuntimeError, RuntimeError]  # none gets another's
    store.short = False
    assert isinstance(await collector.submit(_event("c")), BerthEventResult)
    await collector.close()


async def test_a_cancelled_collector_leaves_no_waiter_hanging() -> None:
    store = FakeStore()
    store.hold = asyncio.Event()
    collector = BerthEventCollector(store.apply, GroupLimits(max_events=1))
    collector.start()
    waiters = [asyncio.create_task(collector.submit(_event(k))) for k in "abc"]
    await asyncio.sleep(0.01)  # "a" is being applied, "b" and "c" wait
    assert collector._task is not None
    collector._task.cancel()
    done, pending = await asyncio.wait(waiters, timeout=2)
    assert not pending and all(w.cancelled() for w in done)
    with pytest.raises(IntakeBusyError):
        await collector.submit(_event("d"))


async def test_close_applies_what_waits_and_then_refuses() -> None:
    store = FakeStore()
    collector = BerthEventCollector(store.apply, GroupLimits(max_events=2))
    collector.start()
    waiters = [asyncio.create_task(collector.submit(_event(k))) for k in "abcde"]
    await asyncio.sleep(0)
    await collector.close()
    assert all(w.done() and not w.cancelled() for w in waiters)
    assert sum(len(g) for g in store.groups) == 5
    with pytest.raises(IntakeBusyError):
        await collector.submit(_event("f"))


async def test_a_collector_cancelled_while_waking_up_cancels_the_event_just_queued() -> None:
    store = FakeStore()
    collector = BerthEventCollector(store.apply, GroupLimits())
    collector.start()
    await asyncio.sleep(0)  # the collector waits for work
    waiter = asyncio.create_task(collector.submit(_event("a")))
    await asyncio.sleep(0)  # queued, the collector woken but not yet run
    assert collector._task is not None
    collector._task.cancel()
    await asyncio.wait([waiter], timeout=2)
    assert waiter.cancelled()
    assert store.groups == []
