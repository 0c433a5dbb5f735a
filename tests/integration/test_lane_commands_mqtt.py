"""Lane commands reach the lane over MQTT: a car let in at an entry lane opens its gate."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import aiomqtt

from config.settings import Settings
from core.clock import FrozenClock
from device_bridge.lane_publisher import COMMAND_ROOT
from tests.integration.test_mqtt import Broker, broker

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
