"""Gateway batches of berth events over HTTP and MQTT: one transaction, one answer per event."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from config.settings import Settings
from core.clock import FrozenClock
from core.store.activity import DeviceEventRow, StayRow
from core.store.database import Database
from device_bridge.mqtt import CONSUMER_KEY
from tests.integration.test_mqtt import Broker, broker, eventually, publish  # noqa: F401

URL = "/devices/sensors/events/batch"


def sensor(event_id: str, berth: str, state: str, time: str, plate: str | None = None) -> Any:
    event = {
        "event_id": event_id,
        "device": f"MAG-{berth}",
        "berth": berth,
        "state": state,
        "device_time": f"2026-11-25T{time}:00+08:00",
    }
    return event | ({"plate": plate} if plate else {})


async def stays(database: Database) -> list[tuple[Any, ...]]:
    async with database.sessions() as session:
        rows = await session.execute(
            select(StayRow.plate, StayRow.status, StayRow.fee_fen).order_by(StayRow.id)
        )
        return [tuple(row) for row in rows]


async def events(database: Database) -> int:
    async with database.sessions() as session:
        return int(await session.scalar(select(func.count(DeviceEventRow.id))) or 0)


async def test_a_batch_answers_each_event_in_order(
    client: TestClient[Any, Any], database: Database
) -> None:
    batch = [
        sensor("b1", "HS1-001", "occupied", "08:00", "浙B12345"),
        sensor("b2", "HS1-002", "occupied", "08:05"),
        sensor("b3", "HS1-001", "vacated", "09:00"),
        sensor("b4", "NO-SUCH", "occupied", "07:00"),
        sensor("b5", "HS1-003", "occupied", "07:00", "XX12"),  # not a plate
        sensor("b3", "HS1-001", "vacated", "09:00"),  # the same event twice in one batch
    ]
    response = await client.post(URL, json={"events": batch})
    assert response.status == 200
    results = (await response.json())["results"]
    said = [(r["outcome"], r["fee_fen"], r["code"]) for r in results]
    assert said == [
        ("applied", None, None),
        ("applied", None, None),
        ("applied", 500, None),  # a day-time first hour in a class-1 zone
        ("refused", None, "unknown_berth"),
        ("refused", None, "invalid_plate"),
        ("duplicate", None, None),
    ]
    assert results[0]["stay_ref"] == results[2]["stay_ref"]
    assert "泊位" in results[3]["message"]
    assert await stays(database) == [("浙B12345", "closed", 500), (None, "open", None)]

    again = await client.post(URL, json={"events": batch[:3]})  # a gateway's resend
    assert [r["outcome"] for r in (await again.json())["results"]] == ["duplicate"] * 3
    assert await stays(database) == [("浙B12345", "closed", 500), (None, "open", None)]
    assert await events(database) == 3


async def test_a_malformed_batch_is_refused_whole_and_changes_nothing(
    client: TestClient[Any, Any], database: Database
) -> None:
    good = sensor("c1", "HS1-001", "occupied", "07:00")
    bodies: list[Any] = [
        {"events": []},
        {"events": [good] * 501},
        {"events": [good, {"event_id": "c2", "state": "parked"}]},
        [good],
    ]
    for body in bodies:
        response = await client.post(URL, json=body)
        assert response.status == 400
        assert (await response.json())["code"] == "invalid_request"
    assert await events(database) == 0


async def test_a_gateway_batch_over_mqtt_is_applied_together(
    settings: Settings,
    clock: FrozenClock,
    broker: Broker,  # noqa: F811
    database: Database,
    aiohttp_client: Callable[..., Any],
) -> None:
    from server.app import create_app

    mqtt = settings.model_copy(
        update={
            "mqtt_url": f"mqtt://127.0.0.1:{broker.port}",
            "mqtt_client_id": f"centre-{uuid.uuid4().hex[:8]}",
        }
    )
    client = await aiohttp_client(create_app(mqtt, clock=clock))
    await asyncio.wait_for(client.app[CONSUMER_KEY].connected.wait(), 10)
    batch = [
        sensor("g1", "HS1-004", "occupied", "06:00", "浙B54321"),
        {"event_id": "g2", "berth": "HS1-005"},  # broken alone: the others still count
        sensor("g3", "HS1-004", "vacated", "08:00"),  # two night hours at 1 yuan
    ]
    await publish(broker.port, "parking/v1/gateways/GW-1/events", {"events": batch})
    await eventually(lambda: events(database), 2)
    await publish(broker.port, "parking/v1/gateways/GW-1/events", {"events": batch})  # resend
    await publish(broker.port, "parking/v1/gateways/GW-1/events", {"events": "none"})
    await publish(broker.port, "parking/v1/gateways/GW-1/events", {"events": [batch[0]]})
    await eventually(lambda: asyncio.sleep(0, client.app[CONSUMER_KEY].handled), 4)
    assert await events(database) == 2
    assert await stays(database) == [("浙B54321", "closed", 200)]
