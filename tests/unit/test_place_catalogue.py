"""Spaces near me from memory: the place book's box search, and the caches' refresh rules."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import cast

from core.availability import AvailabilityStore, BerthLive
from core.clock import FrozenClock
from core.nearby import GeoPoint, PlaceBook, PlaceKind, PlaceSpot, box_around
from core.services.nearby import Occupancy, PlaceCatalogue
from core.store.unit_of_work import UnitOfWork


def _spot(n: int, lat: float, lng: float) -> PlaceSpot:
    return PlaceSpot(f"lot:L{n}", PlaceKind.LOT, f"L{n}", f"lot {n}", GeoPoint(lat, lng), 10, "t")


class _Places:
    """The two PlaceRepository calls the caches make, counting them."""

    def __init__(self, spots: list[PlaceSpot], open_stays: dict[str, int]) -> None:
        self.spots = spots
        self.open = open_stays
        self.calls: list[str] = []

    async def lots(self, codes: Sequence[str] | None = None) -> list[PlaceSpot]:
        self.calls.append("lots")
        return list(self.spots)

    async def streets(self, zone_codes: Sequence[str] | None = None) -> list[PlaceSpot]:
        self.calls.append("streets")
        return []

    async def open_stays_per_lot(self, codes: Sequence[str] | None) -> dict[str, int]:
        self.calls.append("open_stays")
        return {c: n for c, n in self.open.items() if codes is None or c in codes}


class _Uow:
    def __init__(self, places: _Places) -> None:
        self.places = places


def test_the_book_finds_what_a_scan_of_every_place_finds() -> None:
    rng = random.Random(3)
    spots = [
        _spot(n, 29.8 + rng.uniform(-0.1, 0.1), 121.5 + rng.uniform(-0.1, 0.1)) for n in range(500)
    ]
    book = PlaceBook(spots)
    for _ in range(50):
        box = box_around(GeoPoint(29.8 + rng.uniform(-0.1, 0.1), 121.5), rng.uniform(100, 5000))
        expected = {s.key for s in spots if box.holds(s.point)}
        assert {s.key for s in book.in_box(box)} == expected
    assert [s.key for s in book.named(["lot:L7", "lot:gone", "lot:L3"])] == ["lot:L7", "lot:L3"]


async def test_the_catalogue_reads_places_again_only_after_its_refresh_period() -> None:
    places = _Places([_spot(1, 29.8, 121.5)], {})
    uow = cast(UnitOfWork, _Uow(places))
    clock = FrozenClock(datetime(2026, 12, 4, 9, 0, tzinfo=UTC))
    catalogue = PlaceCatalogue(clock, timedelta(seconds=60))
    assert list((await catalogue.book(uow)).by_key) == ["lot:L1"]
    places.spots.append(_spot(2, 29.8, 121.5))
    clock.advance(timedelta(seconds=59))
    assert list((await catalogue.book(uow)).by_key) == ["lot:L1"]
    clock.advance(timedelta(seconds=1))
    assert list((await catalogue.book(uow)).by_key) == ["lot:L1", "lot:L2"]
    assert places.calls == ["lots", "streets", "lots", "streets"]


async def test_lot_counts_are_kept_for_their_period_and_read_each_time_without_one() -> None:
    places = _Places([], {"A": 3, "B": 1})
    uow = cast(UnitOfWork, _Uow(places))
    now = [100.0]
    kept = Occupancy(1.0, ticks=lambda: now[0])
    assert await kept.open_stays(uow, ["A", "C"]) == {"A": 3}
    places.open["A"] = 4
    now[0] = 100.9
    assert await kept.open_stays(uow, ["A"]) == {"A": 3}
    now[0] = 101.0
    assert await kept.open_stays(uow, ["A", "B"]) == {"A": 4, "B": 1}
    assert places.calls == ["open_stays", "open_stays"]
    live = Occupancy(0)
    places.calls.clear()
    assert await live.open_stays(uow, ["B"]) == {"B": 1}
    assert await live.open_stays(uow, ["B"]) == {"B": 1}
    assert places.calls == ["open_stays", "open_stays"]


class _Availability:
    """The one AvailabilityStore call street counts make, counting it."""

    def __init__(self, berths: list[BerthLive]) -> None:
        self.held = berths
        self.asked = 0

    async def berths(self, zone: str | None = None) -> list[BerthLive]:
        self.asked += 1
        return [b for b in self.held if zone is None or b.zone == zone]


async def test_street_counts_are_kept_for_their_period() -> None:
    store = _Availability(
        [
            BerthLive("b1", "HS1", "中山东路", False, False, 1),
            BerthLive("b2", "HS1", "中山东路", True, False, 1),
        ]
    )
    availability = cast(AvailabilityStore, store)
    now = [5.0]
    kept = Occupancy(1.0, ticks=lambda: now[0])
    assert await kept.street_free(availability, "HS1") == {"street:HS1/中山东路": 1}
    store.held[0] = BerthLive("b1", "HS1", "中山东路", True, False, 2)
    now[0] = 5.5
    assert await kept.street_free(availability, "HS1") == {"street:HS1/中山东路": 1}
    now[0] = 6.0
    assert await kept.street_free(availability, "HS1") == {"street:HS1/中山东路": 0}
    assert store.asked == 2


async def test_while_one_answer_counts_again_the_others_get_the_last_counts() -> None:
    places = _Places([], {"A": 1})
    uow = cast(UnitOfWork, _Uow(places))
    now = [0.0]
    kept = Occupancy(1.0, ticks=lambda: now[0])
    assert await kept.open_stays(uow, ["A"]) == {"A": 1}
    release = asyncio.Event()
    slow = places.open_stays_per_lot

    async def held(codes: Sequence[str] | None) -> dict[str, int]:
        await release.wait()
        return await slow(codes)

    places.open_stays_per_lot = held  # type: ignore[method-assign]
    places.open["A"] = 2
    now[0] = 2.0
    counting = asyncio.create_task(kept.open_stays(uow, ["A"]))
    await asyncio.sleep(0)
    assert await kept.open_stays(uow, ["A"]) == {"A": 1}  # not a second count
    release.set()
    assert await counting == {"A": 2}
    assert places.calls == ["open_stays", "open_stays"]
