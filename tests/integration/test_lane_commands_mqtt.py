"""Lane commands reach the lane over MQTT: a car let in at an entry lane opens its gate."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import aiomqtt
from sqlalchemy import func, select

from config.settings import Settings
from core.clock import FrozenClock
from core.store.database import Database
from core.store.lots import LanePassageRow
from device_bridge.lane_publisher import COMMAND_ROOT
from tests.integration.test_mqtt import FIXTURES, Broker, broker

__all__ = ["broker"]


async def test_an_entry_decision_is_published_to_the_lane(
    settings: Settings, clock: FrozenClock, broker: Broker, aiohttp_client: Callable[..., Any]
) -> None:
    from server.app import create_app

    configured = settings.model_copy(
        update={
            "mqtt_url": f"mqtt://127.0.0.1:{broker.port}",
            "mqtt_client_id": f"centre-{uuid.uuid4().hex[:8]}",
        }
    )
    client = await aiohttp_client(create_app(configured, clock=clock))
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="lane-station-e1") as station:
        await station.subscribe(f"{COMMAND_ROOT}/LOT-HOSP/E1", qos=1)
        answer = await client.post(
            "/devices/lanes/reads",
            json={
                "event_id": "mqtt-cmd-1",
                "device": "LOT-HOSP-E1-anpr_camera",
                "device_time": clock.now().isoformat(),
                "plate": "浙B24680",
            },
        )
        assert (await answer.json())["gate"] == "open"
        kinds = []
        async with asyncio.timeout(10):
            async for message in station.messages:
                assert isinstance(message.payload, bytes)
                kinds.append(json.loads(message.payload)["kind"])
                if "open_gate" in kinds:
                    break
    assert "open_gate" in kinds


async def test_a_vzenith_camera_read_over_mqtt_is_decided_and_answered_over_mqtt(
    settings: Settings,
    clock: FrozenClock,
    broker: Broker,
    database: Database,
    aiohttp_client: Callable[..., Any],
) -> None:
    from server.app import create_app

    configured = settings.model_copy(
        update={
            "mqtt_url": f"mqtt://127.0.0.1:{broker.port}",
            "mqtt_client_id": f"centre-{uuid.uuid4().hex[:8]}",
        }
    )
    await aiohttp_client(create_app(configured, clock=clock))
    message = json.loads((FIXTURES / "vzenith" / "mqtt_ivs_result.json").read_text("utf-8"))
    camera = "LOT-HOSP-E1-anpr_camera"
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="vz-station") as station:
        await station.subscribe(f"{COMMAND_ROOT}/LOT-HOSP/E1", qos=1)
        await asyncio.sleep(0.5)  # the centre's consumer subscribes as the app starts
        for _ in range(2):  # the camera resends: decided and answered once
            await station.publish(
                f"device/{camera}/message/up/ivs_result", json.dumps(message).encode(), qos=1
            )
        kinds = []
        async with asyncio.timeout(10):
            async for received in station.messages:
                assert isinstance(received.payload, bytes)
                kinds.append(json.loads(received.payload)["kind"])
                if "open_gate" in kinds:
                    break
    assert "open_gate" in kinds
    async with database.sessions() as session:
        reads = await session.scalar(
            select(func.count(LanePassageRow.id)).where(
                LanePassageRow.dedupe_key.startswith("vzenith:")
            )
        )
    assert reads == 1
