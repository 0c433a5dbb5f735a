"""Spaces near a driver: GCJ-02 points, distances, places and a tariff's price in brief."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from core.billing.day_calendar import DayType
from core.billing.tariff import Tariff
from core.errors import ValidationFailedError
from core.money import format_yuan

EARTH_RADIUS_M = 6_371_008.8
# GCJ-02 is only defined inside mainland China; outside it wx.getLocation gives WGS-84.
_CHINA_LAT = (3.8, 53.6)
_CHINA_LNG = (73.5, 135.1)


class OutsideServiceAreaError(ValidationFailedError):
    """The point is not a GCJ-02 coordinate in China."""

    code = "outside_service_area"
    message_zh = "定位不在服务范围内（请使用 GCJ-02 坐标）"


class PlaceKind(StrEnum):
    """A gated lot, or one street of an on-street zone."""

    LOT = "lot"
    STREET = "street"


@dataclass(frozen=True, slots=True)
class GeoPoint:
    """A GCJ-02 latitude and longitude in degrees."""

    lat: float
    lng: float


@dataclass(frozen=True, slots=True)
class Box:
    """A latitude/longitude rectangle that holds a circle."""

    min_lat: float
    max_lat: float
    min_lng: float
    max_lng: float

    def holds(self, point: GeoPoint) -> bool:
        """Whether the point is inside."""
        return (
            self.min_lat <= point.lat <= self.max_lat and self.min_lng <= point.lng <= self.max_lng
        )


@dataclass(frozen=True, slots=True)
class PlaceSpot:
    """Where a place is: its key (`lot:CODE` or `street:ZONE/STREET`) and its point."""

    key: str
    kind: PlaceKind
    code: str
    name: str
    point: GeoPoint
    total: int
    tariff_code: str


@dataclass(frozen=True, slots=True)
class PriceSummary:
    """A tariff in brief for a small car on a workday, with a Chinese line."""

    free_minutes: int
    unit_minutes: int | None
    unit_fen: int | None
    daily_cap_fen: int | None
    text: str


class PlaceBook:
    """Places by key and by latitude, so a box's places are found without a scan of them all."""

    def __init__(self, spots: Iterable[PlaceSpot]) -> None:
        self.by_key = {spot.key: spot for spot in spots}
        self._ordered = sorted(self.by_key.values(), key=lambda spot: spot.point.lat)
        self._lats = [spot.point.lat for spot in self._ordered]
        self._lngs = [spot.point.lng for spot in self._ordered]

    def in_box(self, box: Box) -> list[PlaceSpot]:
        """The places whose point lies in the box."""
        low = bisect_left(self._lats, box.min_lat)
        high = bisect_right(self._lats, box.max_lat)
        west, east = box.min_lng, box.max_lng
        # The bisection settled latitude; a plain comparison per place settles longitude.
        pairs = zip(self._ordered[low:high], self._lngs[low:high], strict=True)
        return [spot for spot, lng in pairs if west <= lng <= east]

    def named(self, keys: Sequence[str]) -> list[PlaceSpot]:
        """The places of these keys, in their order; unknown keys are left out."""
        return [self.by_key[key] for key in keys if key in self.by_key]


def checked_point(lat: float, lng: float) -> GeoPoint:
    """A GCJ-02 point in China, or OutsideServiceAreaError."""
    inside = _CHINA_LAT[0] <= lat <= _CHINA_LAT[1] and _CHINA_LNG[0] <= lng <= _CHINA_LNG[1]
    if not inside:
        raise OutsideServiceAreaError(detail=f"({lat}, {lng})")
    return GeoPoint(lat, lng)


def distance_m(a: GeoPoint, b: GeoPoint) -> float:
    """Great-circle distance in metres (haversine; GCJ-02 offsets cancel at these ranges)."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat, dlng = lat2 - lat1, math.radians(b.lng - a.lng)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlng / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def box_around(center: GeoPoint, radius_m: float) -> Box:
    """The smallest latitude/longitude box holding the circle (a little over, never under)."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M) * 1.001
    cos_lat = max(math.cos(math.radians(center.lat)), 1e-6)
    dlng = math.degrees(radius_m / (EARTH_RADIUS_M * cos_lat)) * 1.001
    return Box(center.lat - dlat, center.lat + dlat, center.lng - dlng, center.lng + dlng)


def nearest(
    spots: Iterable[PlaceSpot], center: GeoPoint, radius_m: float, limit: int
) -> list[tuple[PlaceSpot, float]]:
    """Spots within the radius, nearest first (ties by key), at most `limit`."""
    # distance_m inlined, the centre's terms taken once: this runs for every place of every
    # answer near me, and gives the same floats as distance_m.
    sin, cos, radians = math.sin, math.cos, math.radians
    lat1 = radians(center.lat)
    cos1, lng1 = cos(lat1), center.lng
    inside = []
    for spot in spots:
        point = spot.point
        lat2 = radians(point.lat)
        h = sin((lat2 - lat1) / 2) ** 2 + cos1 * cos(lat2) * sin(radians(point.lng - lng1) / 2) ** 2
        d = 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
        if d <= radius_m:
            inside.append((spot, d))
    inside.sort(key=lambda pair: (round(pair[1], 3), pair[0].key))
    return inside[:limit]


def lot_key(code: str) -> str:
    """The place key of a lot."""
    return f"lot:{code}"


def street_key(zone: str, street: str) -> str:
    """The place key of one street of a zone."""
    return f"street:{zone}/{street}"


def summarise_tariff(tariff: Tariff, vehicle_class: str = "small") -> PriceSummary:
    """The free period, the first band's unit price and the workday cap, in one line."""
    rules = tariff.rules_for(vehicle_class)
    table = rules.tables.get(DayType.WORKDAY) or next(iter(rules.tables.values()))
    charged = [band for band in table.bands if band.unit_fen > 0]
    band = charged[0] if charged else None
    parts = []
    if rules.free_minutes:
        parts.append(f"前{rules.free_minutes}分钟免费")
    if band is not None:
        parts.append(f"{band.label}每{band.unit_minutes}分钟{_yuan(band.unit_fen)}元")
    if table.daily_cap_fen is not None:
        parts.append(f"每日封顶{_yuan(table.daily_cap_fen)}元")
    return PriceSummary(
        free_minutes=rules.free_minutes,
        unit_minutes=band.unit_minutes if band else None,
        unit_fen=band.unit_fen if band else None,
        daily_cap_fen=table.daily_cap_fen,
        text="，".join(parts) or "免费",
    )


def _yuan(fen: int) -> str:
    return f"{fen // 100}" if fen % 100 == 0 else format_yuan(fen).rstrip("0")
