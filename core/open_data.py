"""The open data feed's records: places, live counts and prices, park-api v3 style.

Field names follow ParkAPI v3's ParkingSite (docs/open-data.md); coordinates stay GCJ-02, the
system Chinese navigation apps use, and the feed says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.nearby import PlaceKind, PlaceSpot, PriceSummary

COORDINATE_SYSTEM = "GCJ-02"
SITE_TYPES = {PlaceKind.LOT: "CAR_PARK", PlaceKind.STREET: "ON_STREET"}


@dataclass(frozen=True, slots=True)
class OpenSite:
    """A place as published: where, how big, how many free now, and its price in brief."""

    spot: PlaceSpot
    free: int
    price: PriceSummary | None


def site_record(site: OpenSite, updated_at: datetime) -> dict[str, Any]:
    """One ParkingSite: ParkAPI v3 names, plus our structured price in fen."""
    spot, price = site.spot, site.price
    return {
        "id": spot.key,
        "original_uid": spot.key,
        "name": spot.name,
        "type": SITE_TYPES[spot.kind],
        "purpose": "CAR",
        "lat": f"{spot.point.lat:.6f}",
        "lon": f"{spot.point.lng:.6f}",
        "capacity": spot.total,
        "has_realtime_data": True,
        "realtime_free_capacity": max(0, min(site.free, spot.total)),
        "realtime_data_updated_at": updated_at.isoformat(),
        "has_fee": None if price is None else price.text != "免费",
        "fee_description": price.text if price else None,
        "price": _price(price),
    }


def _price(price: PriceSummary | None) -> dict[str, Any] | None:
    if price is None:
        return None
    return {
        "free_minutes": price.free_minutes,
        "unit_minutes": price.unit_minutes,
        "unit_fen": price.unit_fen,
        "daily_cap_fen": price.daily_cap_fen,
    }


def as_feature(record: dict[str, Any]) -> dict[str, Any]:
    """A ParkingSite as a GeoJSON point feature (coordinates are longitude, latitude)."""
    properties = {k: v for k, v in record.items() if k not in ("lat", "lon")}
    return {
        "type": "Feature",
        "id": record["id"],
        "geometry": {"type": "Point", "coordinates": [float(record["lon"]), float(record["lat"])]},
        "properties": properties,
    }


def feature_collection(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The GeoJSON variant of the feed."""
    return {"type": "FeatureCollection", "features": [as_feature(r) for r in records]}
