"""Lane commands published while the broker is away wait in the outbox, or void when too old."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import aiomqtt
from sqlalchemy import func, select

from config.settings import Settings
from core.clock import FrozenClock
from core.lanes import CommandKind, LaneCommand
from core.store.database import Database
from core.store.lane_outbox import LaneOutboxRow
from device_bridge.lane_publisher import COMMAND_ROOT, MqttLanePublisher
from device_bridge.mqtt import CONSUMER_KEY
from server.lane_publishing import LANE_PUBLISHER_KEY
from tests.integration.test_mqtt import Broker, broker, eventually, mqtt_settings

__all__ = ["broker", "mqtt_settings"]


async def kept(database: Database) -> int:
    async with database.sessions() as session:
        return int(await session.scalar(select(func.count(LaneOutboxRow.id))) or 0)


async def received(
    port: int, topic: str, until: Callable[[list[str]], bool], ready: asyncio.Event
) -> list[str]:
    """The kinds of the commands a lane station gets on `topic` (3 s at most)."""
    kinds: list[str] = []
    async with aiomqtt.Client("127.0.0.1", port, identifier=f"st-{uuid.uuid4().hex[:6]}") as st:
        await st.subscribe(topic, qos=1)
        ready.set()
        try:
            async with asyncio.timeout(3):
                async for message in st.messages:
                    assert isinstance(message.payload, bytes)
                    kinds.append(json.loads(message.payload)["kind"])
                    if until(kinds):
                        break
        except TimeoutError:
            pass
    return kinds


def read(clock: FrozenClock, event_id: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "device": "LOT-HOSP-E1-anpr_camera",
        "device_time": clock.now().isoformat(),
        "plate": "浙B24680",
    }


async def test_commands_made_while_the_broker_is_down_are_delivered_when_it_returns(
    mqtt_settings: Settings,
    clock: FrozenClock,
    broker: Broker,
    database: Database,
    aiohttp_client: Callable[..., Any],
) -> None:
    from server.app import create_app

    slow = mqtt_settings.model_copy(update={"lane_outbox_poll_seconds": 60})
    client = await aiohttp_client(create_app(slow, clock=clock))
    publisher = client.app[LANE_PUBLISHER_KEY]
    assert isinstance(publisher, MqttLanePublisher)
    await eventually(lambda: asyncio.sleep(0, publisher.outbox and publisher.outbox.backlog), False)
    broker.stop()
    answer = await client.post("/devices/lanes/reads", json=read(clock, "outbox-1"))
    assert (await answer.json())["gate"] == "open"  # the HTTP answer still carries it
    assert await kept(database) == 3  # open_gate, display, speak
    broker.start()
    await asyncio.wait_for(client.app[CONSUMER_KEY].connected.wait(), 20)
    ready = asyncio.Event()
    station = asyncio.create_task(
        received(broker.port, f"{COMMAND_ROOT}/LOT-HOSP/E1", lambda k: len(k) >= 3, ready)
    )
    await ready.wait()
    clock.advance(timedelta(seconds=10))  # within the age limit (30 s)
    round_ = await publisher.deliver()
    assert round_ is not None and (round_.sent, round_.voided, round_.left) == (3, 0, False)
    assert await station == ["open_gate", "display", "speak"]  # in the order made
    assert await kept(database) == 0


async def test_commands_older_than_the_limit_are_void_and_newer_ones_wait_behind(
    mqtt_settings: Settings, clock: FrozenClock, broker: Broker, database: Database
) -> None:
    from device_bridge.lane_outbox import LaneOutbox

    outbox = LaneOutbox(database, clock, max_age_seconds=30)
    publisher = MqttLanePublisher(mqtt_settings, outbox)
    try:
        assert (await publisher.deliver()) is not None and not outbox.backlog
        broker.stop()
        old = LaneCommand("LOT-HOSP/E1", CommandKind.OPEN_GATE)
        await publisher.publish([old])
        assert outbox.backlog and await kept(database) == 1
        broker.start()
        clock.advance(timedelta(seconds=31))
        new = LaneCommand("LOT-HOSP/E1", CommandKind.DISPLAY, "请缴费")
        await publisher.publish([new])  # the broker is back, but an older command waits
        assert await kept(database) == 2
        ready = asyncio.Event()
        station = asyncio.create_task(
            received(broker.port, f"{COMMAND_ROOT}/LOT-HOSP/E1", lambda k: len(k) >= 2, ready)
        )
        await ready.wait()
        round_ = await publisher.deliver()
        assert round_ is not None and (round_.sent, round_.voided) == (1, 1)
        assert await station == ["display"]  # the stale open_gate never reached the lane
        assert not outbox.backlog
        await publisher.publish([new])
        assert await kept(database) == 0  # no backlog: straight to the broker
    finally:
        await publisher.close()


async def test_the_reconnect_back_off_starts_over_after_a_good_connection(
    mqtt_settings: Settings,
    clock: FrozenClock,
    broker: Broker,
    aiohttp_client: Callable[..., Any],
) -> None:
    from server.app import create_app

    client = await aiohttp_client(create_app(mqtt_settings, clock=clock))
    consumer = client.app[CONSUMER_KEY]
    await asyncio.wait_for(consumer.connected.wait(), 10)
    broker.stop()
    await eventually(lambda: asyncio.sleep(0, len(consumer.delays) >= 3), True)
    assert list(consumer.delays)[:3] == [0.5, 1.0, 2.0]
    broker.start()
    await asyncio.wait_for(consumer.connected.wait(), 20)
    before = len(consumer.delays)
    broker.stop()
    await eventually(lambda: asyncio.sleep(0, len(consumer.delays) > before), True)
    assert consumer.delays[before] == 0.5
    broker.start()
