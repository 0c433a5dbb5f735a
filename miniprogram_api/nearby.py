"""Driver route: lots and streets with free spaces near a GCJ-02 point."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from core.nearby import PlaceKind, checked_point
from core.services.nearby import NearbyPlace, spaces_near
from server.availability import AVAILABILITY_KEY
from server.driver_features import DRIVER_PORTS_KEY
from server.http import ApiRoutes, shaped_json_response
from server.resources import clock, read_unit_of_work

routes = ApiRoutes("miniprogram")


class NearQuery(BaseModel):
    """Where the driver is (GCJ-02, as wx.getLocation type 'gcj02' gives), how far to look."""

    lat: float = Field(ge=-90, le=90, description="GCJ-02 latitude")
    lng: float = Field(ge=-180, le=180, description="GCJ-02 longitude")
    radius_m: int = Field(1000, ge=50, le=5000)
    limit: int = Field(20, ge=1, le=50)
    kind: PlaceKind | None = Field(None, description="only lots or only streets")


class PriceOut(BaseModel):
    """The tariff in brief for a small car on a workday."""

    free_minutes: int
    unit_minutes: int | None
    unit_fen: int | None
    daily_cap_fen: int | None
    text: str


class PlaceOut(BaseModel):
    """A lot or a street of a zone, with its free spaces and distance."""

    kind: PlaceKind
    code: str = Field(description="lot code, or zone/street")
    name: str
    lat: float = Field(description="GCJ-02")
    lng: float = Field(description="GCJ-02")
    distance_m: int
    total: int
    free: int
    price: PriceOut | None
    price_text: str | None = Field(None, description="the price in one line, ours or the lot's")
    networked: bool = Field(False, description="run by another vendor's system (联网车场)")
    counted_at: datetime | None = Field(None, description="when a networked lot counted free")
    count_age_s: int | None = Field(None, description="how old that count is, in seconds")


class NearOut(BaseModel):
    """Places within the radius, nearest first."""

    coordinate_system: str = "GCJ-02"
    places: list[PlaceOut]


def place_wire(place: NearbyPlace) -> dict[str, Any]:
    """The wire form of a place, in PlaceOut's shape and field order (plain values: near me
    answers twenty of them a request, and models cost more than the rest of the answer)."""
    spot, price, note = place.spot, place.price, place.network
    return {
        "kind": spot.kind.value,
        "code": spot.code,
        "name": spot.name,
        "lat": spot.point.lat,
        "lng": spot.point.lng,
        "distance_m": round(place.distance_m),
        "total": spot.total,
        "free": place.free,
        "price": {
            "free_minutes": price.free_minutes,
            "unit_minutes": price.unit_minutes,
            "unit_fen": price.unit_fen,
            "daily_cap_fen": price.daily_cap_fen,
            "text": price.text,
        }
        if price
        else None,
        "price_text": place.price_text,
        "networked": note is not None,
        "counted_at": note.counted_at if note else None,
        "count_age_s": note.count_age_s if note else None,
    }


@routes.route(
    "GET",
    "/spaces/near",
    "Lots and streets near a GCJ-02 point, with free spaces, price and distance",
    query=NearQuery,
    response=NearOut,
)
async def show_near(request: web.Request, query: NearQuery) -> web.Response:
    """Answer the nearest places."""
    center = checked_point(query.lat, query.lng)
    ports = request.config_dict[DRIVER_PORTS_KEY]
    async with read_unit_of_work(request) as uow:
        found = await spaces_near(
            uow,
            clock(request),
            ports.places,
            ports.catalogue,
            ports.briefs,
            request.config_dict.get(AVAILABILITY_KEY),
            center,
            radius_m=query.radius_m,
            limit=query.limit,
            kind=query.kind,
        )
    return shaped_json_response(
        {"coordinate_system": "GCJ-02", "places": [place_wire(p) for p in found]}
    )
