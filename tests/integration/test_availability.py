"""Live free counts: right under resends, late and out-of-order events; Redis answers the same."""

from __future__ import annotations

import asyncio
import json
import os
import random
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from config.settings import Settings
from core.availability import BerthLive, OccupancyChange, summarise
from core.clock import FrozenClock
from core.store.activity import StayRow
from core.store.database import Database
from server.availability import InProcessAvailability, RedisAvailability
from tests.conftest import SHANGHAI, service_missing

REDIS_URL = os.environ.get("PARKING_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def sensor(event_id: str, berth: str, state: str, time: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "device": f"MAG-{berth}",
        "berth": berth,
        "state": state,
        "device_time": f"2026-11-25T{time}:00+08:00",
    }


# Before the clock's 09:00, so every event is late; the last state of each berth decides.
SCENARIO = {
    "HS1-001": [("occupied", "07:00"), ("vacated", "07:40"), ("occupied", "08:10")],
    "HS1-002": [("occupied", "07:05"), ("vacated", "08:00")],
    "HS1-003": [("vacated", "07:30"), ("occupied", "08:20")],  # a vacated without occupied
    "HS1-004": [("occupied", "07:00"), ("occupied", "07:20"), ("vacated", "08:30")],
    "HS1-005": [("occupied", "08:40"), ("vacated", "08:40")],  # same instant: a flicker
    "HS2-001": [("occupied", "06:00")],
}
TAKEN = {"HS1-001", "HS1-003", "HS2-001"}


def scenario_events() -> list[dict[str, Any]]:
    return [
        sensor(f"{berth}-{i}", berth, state, time)
        for berth, steps in SCENARIO.items()
        for i, (state, time) in enumerate(steps)
    ]


async def availability(client: TestClient[Any, Any], zone: str) -> dict[str, Any]:
    response = await client.get("/mp/availability", params={"zone": zone, "berths": "true"})
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_counts_stay_right_with_resends_late_and_out_of_order(
    client: TestClient[Any, Any],
) -> None:
    events = scenario_events()
    rng = random.Random(7)
    order = events + rng.sample(events, 6)
    rng.shuffle(order)
    for body in order:
        response = await client.post("/devices/sensors/events", json=body)
        assert response.status == 200, await response.text()
    hs1 = await availability(client, "HS1")
    assert hs1["zones"] == [{"name": "HS1", "total": 20, "free": 18}]
    assert hs1["streets"] == [{"name": "HS1/中山东路", "total": 20, "free": 18}]
    taken = {b["code"] for b in hs1["berths"] if not b["free"]}
    assert taken == {b for b in TAKEN if b.startswith("HS1")}
    everything = await availability(client, "")
    zones = {z["name"]: (z["total"], z["free"]) for z in everything["zones"]}
    assert zones == {"HS1": (20, 18), "HS2": (20, 19), "JB3": (20, 20)}


async def test_a_closure_makes_a_berth_unavailable(
    client: TestClient[Any, Any],
) -> None:
    login = await client.post(
        "/ops/login", json={"username": "demo-admin", "password": "demo-password-2026"}
    )
    token = (await login.json())["token"]
    closed = await client.post(
        "/ops/berths/JB3-002/closures",
        json={"starts_at": "2026-11-25T08:00:00+08:00", "reason": "道路施工"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert closed.status == 201, await closed.text()
    jb3 = await availability(client, "JB3")
    assert jb3["zones"] == [{"name": "JB3", "total": 20, "free": 19}]
    [berth] = [b for b in jb3["berths"] if b["code"] == "JB3-002"]
    assert (berth["closed"], berth["free"]) == (True, False)
    reopened = await client.post(
        f"/ops/berth-closures/{(await closed.json())['id']}/end",
        json={"reason": "施工结束"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert reopened.status == 200, await reopened.text()
    assert (await availability(client, "JB3"))["zones"][0]["free"] == 20


async def read_event(stream: Any) -> tuple[str, dict[str, Any]]:
    while True:
        block = (await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 5)).decode()
        if block.startswith(":"):
            continue
        lines = dict(line.split(": ", 1) for line in block.strip().split("\n"))
        return lines["event"], json.loads(lines["data"])


async def test_stream_sends_a_snapshot_then_each_change(client: TestClient[Any, Any]) -> None:
    stream = await client.get("/mp/availability/stream", params={"zone": "HS2"})
    assert stream.status == 200
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    name, snapshot = await read_event(stream)
    assert name == "snapshot" and snapshot["zones"] == [{"name": "HS2", "total": 20, "free": 20}]
    await client.post("/devices/sensors/events", json=sensor("x1", "HS1-009", "occupied", "08:00"))
    await client.post("/devices/sensors/events", json=sensor("x2", "HS2-007", "occupied", "08:00"))
    name, change = await read_event(stream)  # the HS1 change is not for this stream
    assert (name, change["code"], change["free"]) == ("berth", "HS2-007", False)
    stream.close()


def _same_operations() -> list[tuple[str, Any]]:
    berths = [BerthLive(f"Z1-{n:03d}", "Z1", "一路", False, False, 0) for n in range(1, 6)]
    berths += [BerthLive("Z2-001", "Z2", "二路", True, False, 3)]
    return [
        ("load", berths),
        ("apply", OccupancyChange("Z1-001", True, 1)),
        ("apply", OccupancyChange("Z1-002", True, 2)),
        ("apply", OccupancyChange("Z1-002", False, 1)),  # stale: older than what is stored
        ("apply", OccupancyChange("Z1-001", True, 1)),  # resent
        ("apply", OccupancyChange("Z2-001", False, 4)),
        ("closed", ("Z1-003", True)),
        ("closed", ("Z1-003", True)),
        ("apply", OccupancyChange("Z9-999", True, 1)),  # unknown berth
        ("load", [BerthLive("Z1-001", "Z1", "一路", False, False, 0)]),  # stale reload
    ]


async def _replay(store: Any) -> tuple[list[Any], list[BerthLive]]:
    answers = []
    for op, arg in _same_operations():
        if op == "load":
            answers.append(await store.load(arg))
        elif op == "apply":
            answers.append(await store.apply(arg))
        else:
            answers.append(await store.set_closed(*arg))
    return answers, await store.berths()


@pytest.fixture
async def redis_store() -> AsyncIterator[RedisAvailability]:
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    try:
        await client.ping()
    except (OSError, aioredis.ConnectionError) as exc:
        await client.aclose()
        service_missing("Redis", exc)
    prefix = f"test:{uuid.uuid4().hex[:8]}"
    yield RedisAvailability(client, prefix)
    keys = [key async for key in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.mark.redis
async def test_redis_answers_the_same_as_in_process(redis_store: RedisAvailability) -> None:
    local_answers, local_berths = await _replay(InProcessAvailability())
    redis_answers, redis_berths = await _replay(redis_store)
    assert redis_answers == local_answers
    assert redis_berths == local_berths
    assert summarise(redis_berths) == summarise(local_berths)
    z1 = summarise(local_berths).zones["Z1"]
    assert (z1.total, z1.free) == (5, 2)  # 001 and 002 taken, 003 closed


@pytest.mark.redis
async def test_redis_streams_changes(redis_store: RedisAvailability) -> None:
    await redis_store.load([BerthLive("Z1-001", "Z1", "一路", False, False, 0)])
    changes = redis_store.changes()
    assert await anext(changes) is None  # subscribed
    await redis_store.apply(OccupancyChange("Z1-001", True, 1))
    berth = await asyncio.wait_for(anext(changes), 5)
    assert berth == BerthLive("Z1-001", "Z1", "一路", True, False, 1)
    await changes.aclose()  # type: ignore[attr-defined]


@pytest.mark.redis
async def test_the_app_with_redis_counts_the_same(
    settings: Settings,
    clock: FrozenClock,
    aiohttp_client: Callable[..., Any],
    redis_store: RedisAvailability,
) -> None:
    from server.app import create_app

    prefix = redis_store._prefix  # the fixture cleans these keys up afterwards
    with_redis = settings.model_copy(
        update={"redis_url": REDIS_URL, "availability_redis_prefix": prefix}
    )
    client: TestClient[Any, Any] = await aiohttp_client(create_app(with_redis, clock=clock))
    events = scenario_events()
    random.Random(11).shuffle(events)
    for body in events + events[:4]:
        assert (await client.post("/devices/sensors/events", json=body)).status == 200
    hs1 = await availability(client, "HS1")
    assert hs1["zones"] == [{"name": "HS1", "total": 20, "free": 18}]
    assert {b["code"] for b in hs1["berths"] if not b["free"]} == {"HS1-001", "HS1-003"}


async def test_concurrent_events_of_one_berth_are_serialised(
    client: TestClient[Any, Any], database: Database
) -> None:
    steps = [("occupied", f"0{h}:00") if h % 2 else ("vacated", f"0{h}:30") for h in range(1, 9)]
    bodies = [sensor(f"c{i}", "JB3-010", state, time) for i, (state, time) in enumerate(steps)]
    bodies += bodies[:3]  # resends racing their originals
    random.Random(3).shuffle(bodies)
    answers = await asyncio.gather(
        *(client.post("/devices/sensors/events", json=body) for body in bodies)
    )
    assert sorted(r.status for r in answers) == [200] * len(bodies)
    outcomes = sorted([(await r.json())["outcome"] for r in answers])
    assert outcomes.count("duplicate") == 3
    jb3 = await availability(client, "JB3")
    [berth] = [b for b in jb3["berths"] if b["code"] == "JB3-010"]
    assert berth["occupied"] is False  # the last event, 08:30, is a vacated
    assert jb3["zones"][0]["free"] == 20
    async with database.sessions() as session:
        found = await session.execute(
            select(StayRow.entered_at, StayRow.exited_at).where(StayRow.status != "void")
        )
        hours = sorted((a.astimezone(SHANGHAI).hour, b.astimezone(SHANGHAI).hour) for a, b in found)
    assert hours == [(1, 2), (3, 4), (5, 6), (7, 8)]
