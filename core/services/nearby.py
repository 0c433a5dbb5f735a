"""Use case: lots and streets near a driver with free counts, price in brief and distance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.availability import AvailabilityStore, summarise
from core.billing import TariffError, parse_tariff
from core.clock import Clock
from core.nearby import (
    GeoPoint,
    PlaceKind,
    PlaceSpot,
    PriceSummary,
    box_around,
    lot_key,
    nearest,
    summarise_tariff,
)
from core.network import count_age_seconds
from core.store.unit_of_work import UnitOfWork

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


class SqlPlaceIndex:
    """Candidates from a latitude/longitude box in SQL."""

    async def candidates(
        self, uow: UnitOfWork, center: GeoPoint, radius_m: float, limit: int
    ) -> list[str]:
        """Lots in the box and streets whose centre is in it."""
        box = box_around(center, radius_m)
        streets = [spot.key for spot in await uow.places.streets() if box.holds(spot.point)]
        return await uow.places.lot_keys_in(box) + streets


class TariffBriefs:
    """Price summaries per tariff version, parsed once per process."""

    def __init__(self) -> None:
        self._by_version: dict[int, PriceSummary | None] = {}

    async def brief(self, uow: UnitOfWork, code: str, now: datetime) -> PriceSummary | None:
        """The summary of the tariff version in force now; None when it has none for cars."""
        row = await uow.tariffs.version_at(code, now)
        if row is None:
            return None
        if row.id not in self._by_version:
            try:
                self._by_version[row.id] = summarise_tariff(parse_tariff(row.body))
            except TariffError:
                self._by_version[row.id] = None  # e.g. a tariff without small cars
        return self._by_version[row.id]


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
    lots = [k.split(":", 1)[1] for k in keys if k.startswith("lot:")]
    zones = sorted({k.split(":", 1)[1].split("/", 1)[0] for k in keys if k.startswith("street:")})
    wanted = set(keys)
    spots = (await uow.places.lots(lots) if lots else []) + [
        s for s in (await uow.places.streets(zones) if zones else []) if s.key in wanted
    ]
    if kind is not None:
        spots = [s for s in spots if s.kind is kind]
    ranked = nearest(spots, center, radius_m, limit)
    now = clock.now()
    free, notes = await _counts(uow, availability, [s for s, _ in ranked], now)
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
    uow: UnitOfWork, availability: AvailabilityStore | None, spots: list[PlaceSpot], now: datetime
) -> tuple[dict[str, int], dict[str, NetworkNote]]:
    """Free spaces by place key, and the networked lots' notes by lot code."""
    free = await free_counts(uow, availability, spots, now)
    codes = [s.code for s in spots if s.kind is PlaceKind.LOT]
    notes: dict[str, NetworkNote] = {}
    for code, row in (await uow.network.counts_of(codes)).items() if codes else []:
        age = count_age_seconds(row.counted_at, now)
        notes[code] = NetworkNote(row.counted_at, age, row.tariff_summary, row.opening_hours)
        if row.free_spaces is not None:  # the lot's own count beats our tally of its stays
            free[lot_key(code)] = row.free_spaces
    return free, notes


async def free_counts(
    uow: UnitOfWork, availability: AvailabilityStore | None, spots: list[PlaceSpot], now: datetime
) -> dict[str, int]:
    """Free spaces per place key: lots from their open stays, streets from the live store."""
    lots = {s.code: s for s in spots if s.kind is PlaceKind.LOT}
    zones = sorted({s.code.split("/", 1)[0] for s in spots if s.kind is PlaceKind.STREET})
    free: dict[str, int] = {}
    if lots:
        occupied = await uow.places.open_stays_per_lot(list(lots))
        free |= {s.key: max(s.total - occupied.get(code, 0), 0) for code, s in lots.items()}
    if zones and availability is not None:
        for zone in zones:
            counts = summarise(await availability.berths(zone)).streets
            free |= {f"street:{name}": c.free for name, c in counts.items()}
    elif zones:
        free |= await uow.places.free_per_street(zones, now)
    return free
