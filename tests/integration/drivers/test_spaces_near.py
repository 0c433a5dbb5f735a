"""Spaces near me: the same answers from SQL and from Redis GEO on the demo city."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from config.settings import Settings
from core.clock import FrozenClock
from core.nearby import GeoPoint, distance_m
from tests.conftest import service_missing
from tests.e2e.test_walking_skeleton import sensor_event

REDIS_URL = os.environ.get("PARKING_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# Around 天一广场 in Ningbo, GCJ-02; the last point is far from everything.
POINTS = [
    (29.8692, 121.5535, 1000),
    (29.8765, 121.5462, 500),
    (29.8826, 121.5599, 3000),
    (29.8700, 121.5500, 150),
    (30.2741, 120.1551, 5000),
]


async def near(client: TestClient[Any, Any], lat: float, lng: float, radius: int) -> Any:
    query = {"lat": str(lat), "lng": str(lng), "radius_m": str(radius)}
    response = await client.get("/mp/spaces/near", params=query)
    assert response.status == 200, await response.text()
    return await response.json()


@pytest.mark.redis
async def test_sql_and_redis_give_the_same_places(
    settings: Settings, clock: FrozenClock, aiohttp_client: Callable[..., Any]
) -> None:
    from server.app import create_app

    probe = aioredis.from_url(REDIS_URL)
    try:
        await probe.ping()
    except (OSError, aioredis.ConnectionError) as exc:
        service_missing("Redis", exc)
    finally:
        await probe.aclose()
    prefix = f"test:{uuid.uuid4().hex[:8]}"
    with_redis = settings.model_copy(
        update={
            "redis_url": REDIS_URL,
            "nearby_redis_key": f"{prefix}:places",
            "availability_redis_prefix": f"{prefix}:avail",
        }
    )
    sql = await aiohttp_client(create_app(settings, clock=clock))
    parked = await sql.post(  # one car on 中山东路, before the Redis app loads its live counts
        "/devices/sensors/events", json=sensor_event("s-1", "occupied", "09:00", plate="浙B12345")
    )
    assert parked.status == 200, await parked.text()
    geo = await aiohttp_client(create_app(with_redis, clock=clock))
    answers = []
    for client in (sql, geo):
        answers.append([await near(client, lat, lng, r) for lat, lng, r in POINTS])
    assert answers[0] == answers[1]
    first = answers[0][0]
    assert first["coordinate_system"] == "GCJ-02"
    kinds = {(p["kind"], p["code"]) for p in first["places"]}
    assert {("lot", "LOT-TIANYI"), ("street", "HS1/中山东路")} <= kinds
    distances = [p["distance_m"] for p in first["places"]]
    assert distances == sorted(distances) and max(distances) <= 1000
    for place in first["places"]:
        exact = distance_m(GeoPoint(29.8692, 121.5535), GeoPoint(place["lat"], place["lng"]))
        assert abs(exact - place["distance_m"]) <= 0.5
    mall = next(p for p in first["places"] if p["code"] == "LOT-TIANYI")
    assert (mall["total"], mall["free"]) == (1200, 1200)
    assert mall["price"]["text"]
    street = next(p for p in first["places"] if p["code"] == "HS1/中山东路")
    assert (street["total"], street["free"]) == (20, 19) and street["price"][
        "daily_cap_fen"
    ] == 2000
    assert answers[0][4]["places"] == []
    assert len(answers[0][3]["places"]) < len(first["places"])


async def test_bad_points_are_refused(client: TestClient[Any, Any]) -> None:
    cases = [
        {"lat": "91", "lng": "121.5"},
        {"lat": "29.8", "lng": "abc"},
        {"lat": "51.5", "lng": "-0.12"},  # London: not a GCJ-02 point
        {"lat": "29.8", "lng": "121.5", "radius_m": "999999"},
        {"lng": "121.5"},
    ]
    for params in cases:
        response = await client.get("/mp/spaces/near", params=params)
        assert response.status == 400, params
    outside = await client.get("/mp/spaces/near", params={"lat": "51.5", "lng": "-0.12"})
    assert (await outside.json())["code"] == "outside_service_area"


async def test_kind_filter_and_limit(client: TestClient[Any, Any]) -> None:
    lots = await client.get(
        "/mp/spaces/near", params={"lat": "29.8692", "lng": "121.5535", "kind": "lot"}
    )
    body = await lots.json()
    assert body["places"] and {p["kind"] for p in body["places"]} == {"lot"}
    one = await client.get(
        "/mp/spaces/near", params={"lat": "29.8692", "lng": "121.5535", "limit": "1"}
    )
    assert len((await one.json())["places"]) == 1
