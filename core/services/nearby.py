"""Use case: lots and streets near a driver with free counts, price in brief and distance."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar

from core.availability import AvailabilityStore, summarise
from core.billing import TariffError, parse_tariff
from core.clock import Clock
from core.nearby import (
    GeoPoint,
    PlaceBook,
    PlaceKind,
    PlaceSpot,
    PriceSummary,
    box_around,
    lot_key,
    nearest,
    summarise_tariff,
)
from core.network import count_age_seconds
from core.store.network import NetworkLotRow
from core.store.unit_of_work import UnitOfWork

T = TypeVar("T")

# A GEO index measures with its own earth radius and rounds points to about a metre; asking it
# for a few more candidates lets the exact distances below pick the same places as SQL does.
CANDIDATE_SLACK = 20
RADIUS_SLACK = 1.002


class PlaceIndex(Protocol):
    """Finds the keys of places that may lie within a radius (exact filtering happens later)."""

    async def candidates(
        self, uow: UnitOfWork, center: GeoPoint, radius_m: float, limit: int
    ) -> list[str]:
        """Keys of places near the center, a superset of those within the radius."""
        ...


class _Kept(Generic[T]):
    """A value read again once `keep` seconds old; while one caller reads it again, the others
    are given the old one instead of all reading it at once."""

    def __init__(self, keep: float, ticks: Callable[[], float]) -> None:
        self._keep = keep
        self._ticks = ticks
        self._value: T | None = None
        self._at = 0.0
        self._reading = False

    async def get(self, read: Callable[[], Awaitable[T]]) -> T:
        """The kept value, or a fresh one when it is older than `keep` (or there is none)."""
        fresh = self._at <= self._ticks() < self._at + self._keep
        if self._value is not None and (fresh or self._reading):
            return self._value
        self._reading = True
        try:
            self._value, self._at = await read(), self._ticks()
        finally:
            self._reading = False
        return self._value


class Occupancy:
    """How full places are, kept for `keep` seconds: lots' open stays, counted for every lot at
    once, and each zone's free berths per street from the availability store.

    A map of free spaces a second old is as good as a live one, and one count of all lots a
    second costs less than one query per answer. The age is process time (`ticks`), not the
    city's clock, so a test's frozen clock cannot freeze the counts; `keep` 0 reads every time.
    """

    def __init__(self, keep: float, ticks: Callable[[], float] = time.monotonic) -> None:
        self._keep = keep
        self._ticks = ticks
        self._lots: _Kept[dict[str, int]] = _Kept(keep, ticks)
        self._network: _Kept[dict[str, NetworkCount]] = _Kept(keep, ticks)
        self._zones: dict[str, _Kept[dict[str, int]]] = {}

    async def network_counts(self, uow: UnitOfWork, codes: list[str]) -> dict[str, NetworkCount]:
        """The last count and terms of those of the named lots that are networked, read for
        every networked lot at once."""

        async def read(named: list[str] | None) -> dict[str, NetworkCount]:
            rows = await uow.network.counts_of(named)
            return {code: NetworkCount.of(row) for code, row in rows.items()}

        if self._keep <= 0:
            return await read(codes)
        counts = await self._network.get(lambda: read(None))
        return {code: counts[code] for code in codes if code in counts}

    async def open_stays(self, uow: UnitOfWork, codes: list[str]) -> dict[str, int]:
        """Open stays of the named lots (a lot with none is left out)."""
        if self._keep <= 0:
            return await uow.places.open_stays_per_lot(codes)
        counts = await self._lots.get(lambda: uow.places.open_stays_per_lot(None))
        return {code: counts[code] for code in codes if code in counts}

    async def street_free(self, availability: AvailabilityStore, zone: str) -> dict[str, int]:
        """Free berths of each street of a zone, by street key."""

        async def read() -> dict[str, int]:
            streets = summarise(await availability.berths(zone)).streets
            return {f"street:{name}": c.free for name, c in streets.items()}

        if self._keep <= 0:
            return await read()
        kept = self._zones.get(zone)
        if kept is None:
            kept = self._zones[zone] = _Kept(self._keep, self._ticks)
        return await kept.get(read)


class PlaceCatalogue:
    """Every lot and street as a place, read from the store at most once a refresh period,
    and how full the lots are (`occupancy`).

    Places change rarely (staff add a lot or berths): as with the Redis place index, a change
    shows within `refresh`.
    """

    def __init__(
        self, clock: Clock, refresh: timedelta, occupancy: Occupancy | None = None
    ) -> None:
        self.occupancy = occupancy or Occupancy(0)
        self._clock = clock
        self._refresh = refresh
        self._book: PlaceBook | None = None
        self._loaded_at: datetime | None = None
        self._loading = asyncio.Lock()  # one reload at a time; the others wait for it

    async def book(self, uow: UnitOfWork) -> PlaceBook:
        """The places as last read, read again once the refresh period is over."""
        if self._fresh(self._clock.now()):
            assert self._book is not None
            return self._book
        async with self._loading:
            now = self._clock.now()
            if not self._fresh(now):
                self._book = PlaceBook(await uow.places.lots() + await uow.places.streets())
                self._loaded_at = now
        assert self._book is not None
        return self._book

    def _fresh(self, now: datetime) -> bool:
        loaded = self._loaded_at
        return (
            self._book is not None and loaded is not None and loaded <= now < loaded + self._refresh
        )


class SqlPlaceIndex:
    """Candidates from a latitude/longitude box over the places the catalogue read from SQL."""

    def __init__(self, catalogue: PlaceCatalogue) -> None:
        self._catalogue = catalogue

    async def candidates(
        self, uow: UnitOfWork, center: GeoPoint, radius_m: float, limit: int
    ) -> list[str]:
        """Lots in the box and streets whose centre is in it."""
        book = await self._catalogue.book(uow)
        return [spot.key for spot in book.in_box(box_around(center, radius_m))]


class TariffBriefs:
    """Price summaries per tariff version, parsed once per process.

    Which version is in force for a code is asked again once `refresh` has passed since it was
    last asked, so a new version shows on the map within that period (none: every call asks).
    """

    def __init__(self, refresh: timedelta = timedelta(0)) -> None:
        self._by_version: dict[int, PriceSummary | None] = {}
        self._in_force: dict[str, tuple[datetime, int | None]] = {}  # code: (asked at, row id)
        self._refresh = refresh

    async def brief(self, uow: UnitOfWork, code: str, now: datetime) -> PriceSummary | None:
        """The summary of the tariff version in force now; None when it has none for cars."""
        asked = self._in_force.get(code)
        if asked is not None and asked[0] <= now < asked[0] + self._refresh:
            return None if asked[1] is None else self._by_version[asked[1]]
        row = await uow.tariffs.version_at(code, now)
        self._in_force[code] = (now, None if row is None else row.id)
        if row is None:
            return None
        if row.id not in self._by_version:
            try:
                self._by_version[row.id] = summarise_tariff(parse_tariff(row.body))
            except TariffError:
                self._by_version[row.id] = None  # e.g. a tariff without small cars
        return self._by_version[row.id]


@dataclass(frozen=True, slots=True)
class NetworkCount:
    """A networked lot's last pushed count and its own terms, as plain values to keep."""

    free_spaces: int | None
    counted_at: datetime | None
    tariff_summary: str | None
    opening_hours: str

    @classmethod
    def of(cls, row: NetworkLotRow) -> NetworkCount:
        """The values of a network record."""
        return cls(row.free_spaces, row.counted_at, row.tariff_summary, row.opening_hours)


@dataclass(frozen=True, slots=True)
class NetworkNote:
    """What a networked lot (another vendor's system) adds: its count's age, its own terms."""

    counted_at: datetime | None
    count_age_s: int | None
    tariff_summary: str | None
    opening_hours: str


@dataclass(frozen=True, slots=True)
class NearbyPlace:
    """A place near the driver, how far, how many spaces are free and what it costs."""

    spot: PlaceSpot
    distance_m: float
    free: int
    price: PriceSummary | None
    network: NetworkNote | None = None

    @property
    def price_text(self) -> str | None:
        """The price in one Chinese line: the tariff's summary, or the networked lot's own."""
        if self.price is not None:
            return self.price.text
        return self.network.tariff_summary if self.network is not None else None


async def spaces_near(
    uow: UnitOfWork,
    clock: Clock,
    index: PlaceIndex,
    catalogue: PlaceCatalogue,
    briefs: TariffBriefs,
    availability: AvailabilityStore | None,
    center: GeoPoint,
    *,
    radius_m: float,
    limit: int,
    kind: PlaceKind | None = None,
) -> list[NearbyPlace]:
    """Places within the radius, nearest first, with free counts and a price summary."""
    keys = await index.candidates(uow, center, radius_m * RADIUS_SLACK, limit + CANDIDATE_SLACK)
    spots = (await catalogue.book(uow)).named(keys)
    if kind is not None:
        spots = [s for s in spots if s.kind is kind]
    ranked = nearest(spots, center, radius_m, limit)
    now = clock.now()
    spots_ranked = [s for s, _ in ranked]
    free, notes = await _counts(uow, availability, spots_ranked, now, catalogue.occupancy)
    prices = {
        code: await briefs.brief(uow, code, now) for code in {s.tariff_code for s, _ in ranked}
    }
    return [
        NearbyPlace(
            spot,
            distance,
            free.get(spot.key, 0),
            prices[spot.tariff_code],
            notes.get(spot.code) if spot.kind is PlaceKind.LOT else None,
        )
        for spot, distance in ranked
    ]


async def lot_counts(uow: UnitOfWork, clock: Clock) -> list[NearbyPlace]:
    """Every lot, ours and networked, with its free spaces (distance 0, no price)."""
    spots = await uow.places.lots()
    free, notes = await _counts(uow, None, spots, clock.now())
    return [
        NearbyPlace(spot, 0.0, free.get(spot.key, 0), None, notes.get(spot.code)) for spot in spots
    ]


async def _counts(
    uow: UnitOfWork,
    availability: AvailabilityStore | None,
    spots: list[PlaceSpot],
    now: datetime,
    occupancy: Occupancy | None = None,
) -> tuple[dict[str, int], dict[str, NetworkNote]]:
    """Free spaces by place key, and the networked lots' notes by lot code."""
    counts = occupancy or Occupancy(0)
    free = await free_counts(uow, availability, spots, now, counts)
    codes = [s.code for s in spots if s.kind is PlaceKind.LOT]
    notes: dict[str, NetworkNote] = {}
    for code, row in (await counts.network_counts(uow, codes)).items() if codes else []:
        age = count_age_seconds(row.counted_at, now)
        notes[code] = NetworkNote(row.counted_at, age, row.tariff_summary, row.opening_hours)
        if row.free_spaces is not None:  # the lot's own count beats our tally of its stays
            free[lot_key(code)] = row.free_spaces
    return free, notes


async def free_counts(
    uow: UnitOfWork,
    availability: AvailabilityStore | None,
    spots: list[PlaceSpot],
    now: datetime,
    occupancy: Occupancy | None = None,
) -> dict[str, int]:
    """Free spaces per place key: lots from their open stays, streets from the live store
    (kept up to a second by `occupancy` when given, else counted now)."""
    counts = occupancy or Occupancy(0)
    lots = {s.code: s for s in spots if s.kind is PlaceKind.LOT}
    zones = sorted({s.code.split("/", 1)[0] for s in spots if s.kind is PlaceKind.STREET})
    free: dict[str, int] = {}
    if lots:
        occupied = await counts.open_stays(uow, list(lots))
        free |= {s.key: max(s.total - occupied.get(code, 0), 0) for code, s in lots.items()}
    if zones and availability is not None:
        for zone in zones:
            free |= await counts.street_free(availability, zone)
    elif zones:
        free |= await uow.places.free_per_street(zones, now)
    return free
