"""A group that fails is applied again event by event, so one bad event costs only itself."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from core.berth_events import BerthEvent, BerthState, EventOutcome
from core.errors import DomainError
from core.services.berth_batch import Outcome
from core.services.berth_events import BerthEventResult, UnknownBerthError
from core.services.berth_groups import record_berth_group


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
    """Applies groups as one transaction each: one poison event fails its whole group."""

    def __init__(
        self, poison: set[str], refused: frozenset[str] = frozenset(), away: bool = False
    ) -> None:
        self.poison, self.refused, self.away = poison, refused, away
        self.transactions: list[list[str]] = []
        self.committed: list[str] = []

    async def apply(self, events: Sequence[BerthEvent]) -> list[Outcome]:
        keys = [e.dedupe_key for e in events]
        self.transactions.append(keys)
        if self.away:
            raise PoolTimeoutError("no free connection")
        if self.poison & set(keys):
            raise TypeError("cannot store this payload")
        outcomes: list[Outcome] = []
        for key in keys:
            if key in self.refused:
                outcomes.append(UnknownBerthError())
            elif key in self.committed:
                outcomes.append(BerthEventResult(EventOutcome.DUPLICATE))
            else:
                self.committed.append(key)
                outcomes.append(BerthEventResult(EventOutcome.APPLIED))
        return outcomes


async def test_a_good_group_is_one_transaction_with_an_outcome_each() -> None:
    store = FakeStore(poison=set(), refused=frozenset("c"))
    group = await record_berth_group(store.apply, [_event(k) for k in "abca"])
    results = group.results
    assert not group.split
    assert store.transactions == [["a", "b", "c", "a"]]
    said = [
        r.outcome if isinstance(r, BerthEventResult) else getattr(r, "code", r) for r in results
    ]
    assert said == [
        EventOutcome.APPLIED,
        EventOutcome.APPLIED,
        "unknown_berth",  # refused in the group, the others still applied
        EventOutcome.DUPLICATE,
    ]


async def test_a_poison_event_fails_alone_and_the_others_are_applied_each_on_its_own() -> None:
    store = FakeStore(poison={"b"})
    group = await record_berth_group(store.apply, [_event(k) for k in "abc"])
    results = group.results
    assert group.split
    assert store.transactions == [["a", "b", "c"], ["a"], ["b"], ["c"]]
    assert isinstance(results[1], TypeError)
    assert [r.outcome for r in (results[0], results[2]) if isinstance(r, BerthEventResult)] == [
        EventOutcome.APPLIED,
        EventOutcome.APPLIED,
    ]
    assert store.committed == ["a", "c"]


async def test_an_event_alone_that_fails_is_not_tried_twice() -> None:
    store = FakeStore(poison={"a"})
    group = await record_berth_group(store.apply, [_event("a")])
    [result] = group.results
    assert not group.split  # alone already
    assert isinstance(result, TypeError)
    assert store.transactions == [["a"]]


async def test_with_the_store_away_the_others_are_not_each_made_to_wait_for_it() -> None:
    store = FakeStore(poison=set(), away=True)
    results = (await record_berth_group(store.apply, [_event(k) for k in "abcd"])).results
    assert store.transactions == [["a", "b", "c", "d"], ["a"]]
    assert all(isinstance(r, PoolTimeoutError) for r in results)
    assert not any(isinstance(r, DomainError) for r in results)
