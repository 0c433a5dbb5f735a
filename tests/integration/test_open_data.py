"""The open data feed: ParkAPI v3 style sites with live counts and prices, GeoJSON, cache, limit."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from config.settings import Settings
from core.clock import FrozenClock

Client = TestClient[Any, Any]
FIXTURES = Path(__file__).parents[1] / "fixtures" / "devices"
SITES = "/open/v3/parking-sites"


async def _client(
    settings: Settings, clock: FrozenClock, aiohttp_client: Callable[..., Any], **changes: Any
) -> Client:
    from server.app import create_app

    client: Client = await aiohttp_client(
        create_app(settings.model_copy(update=changes), clock=clock)
    )
    return client


async def _sites(client: Client) -> dict[str, dict[str, Any]]:
    answer = await client.get(SITES)
    assert answer.status == 200, await answer.text()
    body = await answer.json()
    assert (body["coordinate_system"], body["license"]) == ("GCJ-02", "CC-BY-4.0")
    return {site["id"]: site for site in body["items"]}


async def test_sites_carry_capacity_live_counts_and_prices_and_are_cached_for_the_ttl(
    settings: Settings, clock: FrozenClock, aiohttp_client: Callable[..., Any]
) -> None:
    client = await _client(settings, clock, aiohttp_client, open_data_cache_seconds=30)
    clock.advance(timedelta(minutes=5))  # the sensor event below must not lie in the future
    sites = await _sites(client)
    hospital, street = sites["lot:LOT-HOSP"], sites["street:HS1/中山东路"]
    assert (hospital["type"], hospital["capacity"], hospital["lat"]) == (
        "CAR_PARK",
        320,
        "29.876540",
    )
    assert 0 <= hospital["realtime_free_capacity"] <= 320
    assert (street["type"], street["capacity"], street["realtime_free_capacity"]) == (
        "ON_STREET",
        20,
        20,
    )
    assert street["has_fee"] and street["price"]["unit_fen"] > 0 and street["fee_description"]
    occupied = json.loads((FIXTURES / "own" / "berth_occupied.json").read_text("utf-8"))
    applied = await client.post("/devices/sensors/events", json=occupied)
    assert (await applied.json())["outcome"] == "applied"
    clock.advance(timedelta(seconds=29))
    assert (await _sites(client))["street:HS1/中山东路"]["realtime_free_capacity"] == 20
    clock.advance(timedelta(seconds=1))
    assert (await _sites(client))["street:HS1/中山东路"]["realtime_free_capacity"] == 19


async def test_the_geojson_variant_has_one_point_per_site(
    settings: Settings, clock: FrozenClock, aiohttp_client: Callable[..., Any]
) -> None:
    client = await _client(settings, clock, aiohttp_client)
    sites = await _sites(client)
    answer = await client.get(f"{SITES}.geojson")
    body = await answer.json()
    assert (answer.status, body["type"]) == (200, "FeatureCollection")
    assert answer.headers["Cache-Control"] == "public, max-age=30"
    features = {f["id"]: f for f in body["features"]}
    assert features.keys() == sites.keys()
    mall = features["lot:LOT-TIANYI"]
    assert mall["geometry"] == {"type": "Point", "coordinates": [121.554830, 29.868210]}
    assert mall["properties"]["capacity"] == 1200 and "lat" not in mall["properties"]


async def test_each_client_address_is_limited(
    settings: Settings, clock: FrozenClock, aiohttp_client: Callable[..., Any]
) -> None:
    client = await _client(settings, clock, aiohttp_client, open_data_rate_per_minute=3)
    statuses = [(await client.get(SITES)).status for _ in range(3)]
    refused = await client.get(f"{SITES}.geojson")
    assert statuses == [200, 200, 200]
    assert (refused.status, (await refused.json())["code"]) == (429, "too_many_requests")
    clock.advance(timedelta(seconds=61))
    assert (await client.get(SITES)).status == 200
