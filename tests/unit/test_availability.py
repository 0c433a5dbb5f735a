"""Live counts: counting per zone and street, and the in-process store's version rule."""

from __future__ import annotations

import asyncio

from core.availability import BerthLive, Counts, OccupancyChange, summarise
from server.availability import InProcessAvailability


def berth(
    code: str, zone: str, street: str, occupied: bool = False, closed: bool = False
) -> BerthLive:
    return BerthLive(code, zone, street, occupied, closed, 0)


def test_counts_per_zone_and_street() -> None:
    snapshot = summarise(
        [
            berth("A-1", "A", "一路"),
            berth("A-2", "A", "一路", occupied=True),
            berth("A-3", "A", "二路", closed=True),
            berth("B-1", "B", "一路"),
        ],
        with_berths=True,
    )
    assert snapshot.zones == {"A": Counts(3, 1), "B": Counts(1, 1)}
    assert snapshot.streets == {
        "A/一路": Counts(2, 1),
        "A/二路": Counts(1, 0),
        "B/一路": Counts(1, 1),
    }
    assert [b.code for b in snapshot.berths] == ["A-1", "A-2", "A-3", "B-1"]
    assert summarise([berth("A-1", "A", "一路")]).berths == []


async def test_in_process_store_keeps_the_newest_version_and_streams_changes() -> None:
    store = InProcessAvailability()
    await store.load([berth("A-1", "A", "一路"), berth("A-2", "A", "一路")])
    changes = store.changes()
    assert await anext(changes) is None
    assert await store.apply(OccupancyChange("A-1", True, 2))
    assert not await store.apply(OccupancyChange("A-1", False, 1))  # late: older version
    assert not await store.apply(OccupancyChange("A-1", True, 2))  # resent
    assert not await store.apply(OccupancyChange("Z-9", True, 5))  # unknown berth
    assert await store.set_closed("A-2", True)
    assert not await store.set_closed("A-2", True)
    seen = [await asyncio.wait_for(anext(changes), 1) for _ in range(2)]
    assert [(b.code, b.occupied, b.closed) for b in seen if b is not None] == [
        ("A-1", True, False),
        ("A-2", False, True),
    ]
    # A reload from an older database read keeps the newer occupancy and the closure.
    await store.load([berth("A-1", "A", "一路"), berth("A-2", "A", "一路")])
    assert [(b.occupied, b.closed) for b in await store.berths("A")] == [
        (True, False),
        (False, True),
    ]
    assert await store.berths("B") == []
    await changes.aclose()  # type: ignore[attr-defined]
