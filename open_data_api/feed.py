"""Open data routes: parking sites with live counts and prices, JSON and GeoJSON, cached."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from core.clock import Clock
from core.open_data import COORDINATE_SYSTEM, feature_collection, site_record
from core.services.nearby import TariffBriefs
from core.services.open_data import open_sites
from server.availability import AVAILABILITY_KEY
from server.http import ApiRoutes
from server.rate_limits import limit_rate
from server.resources import SETTINGS_KEY, clock, read_unit_of_work

routes = ApiRoutes("open_data")

LICENSE = "CC-BY-4.0"


class SitePriceOut(BaseModel):
    """The tariff in force for a small car on a workday, in fen."""

    free_minutes: int
    unit_minutes: int | None
    unit_fen: int | None
    daily_cap_fen: int | None


class ParkingSiteProperties(BaseModel):
    """A ParkAPI v3 ParkingSite without its position."""

    id: str = Field(description="lot:CODE or street:ZONE/STREET")
    original_uid: str
    name: str
    type: Literal["CAR_PARK", "ON_STREET"]
    purpose: Literal["CAR"]
    capacity: int
    has_realtime_data: bool
    realtime_free_capacity: int
    realtime_data_updated_at: datetime
    has_fee: bool | None = Field(description="none when the place has no tariff in force")
    fee_description: str | None
    price: SitePriceOut | None


class ParkingSiteOut(ParkingSiteProperties):
    """A ParkAPI v3 ParkingSite; lat and lon are GCJ-02 decimal strings."""

    lat: str
    lon: str


class ParkingSitesOut(BaseModel):
    """Every site, by id."""

    coordinate_system: Literal["GCJ-02"]
    license: str
    generated_at: datetime
    items: list[ParkingSiteOut]


class PointOut(BaseModel):
    """A GeoJSON point: [longitude, latitude], GCJ-02."""

    type: Literal["Point"]
    coordinates: list[float] = Field(min_length=2, max_length=2)


class SiteFeatureOut(BaseModel):
    """A site as a GeoJSON feature."""

    type: Literal["Feature"]
    id: str
    geometry: PointOut
    properties: ParkingSiteProperties


class SiteFeaturesOut(BaseModel):
    """The sites as a GeoJSON FeatureCollection (RFC 7946 with GCJ-02 positions)."""

    type: Literal["FeatureCollection"]
    features: list[SiteFeatureOut]


class FeedCache:
    """The encoded answers, rebuilt at most once per TTL (one builder at a time)."""

    def __init__(self, ttl_seconds: float) -> None:
        self._ttl = timedelta(seconds=ttl_seconds)
        self._bodies: dict[str, tuple[datetime, bytes]] = {}
        self._lock = asyncio.Lock()
        self.briefs = TariffBriefs()
        self.builds = 0

    async def body(self, key: str, now_of: Clock, build: Callable[[], Awaitable[bytes]]) -> bytes:
        """The cached body of `key`, or a fresh one when it is older than the TTL."""
        async with self._lock:
            now = now_of.now()
            found = self._bodies.get(key)
            if found is not None and now - found[0] < self._ttl:
                return found[1]
            body = await build()
            self.builds += 1
            self._bodies[key] = (now, body)
            return body


FEED_KEY = web.AppKey("open_data_feed", FeedCache)


async def _answer(request: web.Request, variant: str) -> web.Response:
    settings = request.config_dict[SETTINGS_KEY]
    await limit_rate(request, "open_data", settings.open_data_rate_per_minute)
    cache = request.app[FEED_KEY]
    body = await cache.body(variant, clock(request), lambda: _build(request, cache, variant))
    seconds = int(settings.open_data_cache_seconds)
    return web.Response(
        body=body,
        content_type="application/json",
        headers={"Cache-Control": f"public, max-age={seconds}"},
    )


async def _build(request: web.Request, cache: FeedCache, variant: str) -> bytes:
    now = clock(request).now()
    async with read_unit_of_work(request) as uow:
        sites = await open_sites(
            uow, clock(request), cache.briefs, request.config_dict.get(AVAILABILITY_KEY)
        )
    records = [site_record(site, now) for site in sites]
    document: dict[str, Any]
    if variant == "geojson":
        document = feature_collection(records)
    else:
        document = {
            "coordinate_system": COORDINATE_SYSTEM,
            "license": LICENSE,
            "generated_at": now.isoformat(),
            "items": records,
        }
    return json.dumps(document, ensure_ascii=False).encode()


@routes.route(
    "GET",
    "/v3/parking-sites",
    "Every lot and street: place, capacity, live free spaces and price (ParkAPI v3 style)",
    response=ParkingSitesOut,
)
async def list_parking_sites(request: web.Request, _: Any) -> web.Response:
    """The feed as ParkAPI v3 JSON."""
    return await _answer(request, "json")


@routes.route(
    "GET",
    "/v3/parking-sites.geojson",
    "The same sites as a GeoJSON FeatureCollection (GCJ-02 positions)",
    response=SiteFeaturesOut,
)
async def list_parking_site_features(request: web.Request, _: Any) -> web.Response:
    """The feed as GeoJSON."""
    return await _answer(request, "geojson")
