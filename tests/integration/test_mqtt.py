"""The MQTT transport against a real Mosquitto: apply, acknowledge after commit, reconnect."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from sqlalchemy import func, select

from config.settings import Settings
from core.billing import ChineseDayCalendar
from core.clock import FrozenClock
from core.device_events import DeviceEvent
from core.lane_events import LaneRead
from core.store.activity import DeviceEventRow, StayRow
from core.store.database import Database
from device_bridge.intake import Ack, Intake, berth_rules
from device_bridge.mqtt import CONSUMER_KEY, MqttConsumer
from tests.conftest import service_missing

pytestmark = pytest.mark.mqtt

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "devices"


class Broker:
    """A Mosquitto of this test's own, so it can be stopped and started again."""

    def __init__(self, folder: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.config = folder / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            f"persistence true\npersistence_location {folder}/\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process = subprocess.Popen(
            [binary, "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if self.process.poll() is not None:
                break
            subprocess.run(["sleep", "0.05"], check=True)
        raise OSError(f"mosquitto did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A running broker on a free port, stopped at the end."""
    if not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()):
        service_missing("Mosquitto", FileNotFoundError("mosquitto"))
    own = Broker(tmp_path)
    try:
        own.start()
    except OSError as exc:
        service_missing("Mosquitto", exc)
    yield own
    own.stop()


async def publish(port: int, topic: str, payload: Any) -> None:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    async with aiomqtt.Client("127.0.0.1", port, identifier=f"pub-{uuid.uuid4().hex[:8]}") as c:
        await c.publish(topic, body, qos=1)


async def stored(database: Database, *where: Any) -> int:
    async with database.sessions() as session:
        return int(await session.scalar(select(func.count(DeviceEventRow.id)).where(*where)) or 0)


async def eventually(check: Callable[[], Any], expected: Any, seconds: float = 15) -> None:
    for _ in range(int(seconds * 20)):
        if await check() == expected:
            return
        await asyncio.sleep(0.05)
    assert await check() == expected


def sensor(event_id: str, state: str, time: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "berth": "HS1-001",
        "state": state,
        "plate": "浙B12345",
        "device_time": f"2026-11-25T{time}:00+08:00",
    }


@pytest.fixture
def mqtt_settings(settings: Settings, broker: Broker) -> Settings:
    return settings.model_copy(
        update={
            "mqtt_url": f"mqtt://127.0.0.1:{broker.port}",
            "mqtt_client_id": f"centre-{uuid.uuid4().hex[:8]}",
        }
    )


async def test_app_consumes_topics_and_survives_a_broker_restart(
    mqtt_settings: Settings,
    clock: FrozenClock,
    broker: Broker,
    database: Database,
    aiohttp_client: Callable[..., Any],
) -> None:
    from server.app import create_app

    client = await aiohttp_client(create_app(mqtt_settings, clock=clock))
    consumer = client.app[CONSUMER_KEY]
    await asyncio.wait_for(consumer.connected.wait(), 10)
    port = broker.port
    await publish(port, "parking/v1/sensors/MAG-HS1-001/events", sensor("m1", "occupied", "08:00"))
    await publish(port, "parking/v1/sensors/MAG-HS1-001/events", sensor("m1", "occupied", "08:00"))
    beat = json.loads((FIXTURES / "own/heartbeat.json").read_text(encoding="utf-8"))
    await publish(port, "parking/v1/devices/MAG-HS1-003/heartbeat", beat)
    vias = json.loads((FIXTURES / "huawei_vias/abnormal_parking_no_parking_area.json").read_text())
    await publish(port, "parking/v1/vendor/huawei-vias/VID-HS1-A", vias)
    await publish(port, "parking/v1/sensors/MAG-HS1-001/events", b"{broken")
    await eventually(lambda: stored(database), 4)  # occupied once, heartbeat, two VIAS reads

    broker.stop()
    await eventually(lambda: asyncio.sleep(0, consumer.connected.is_set()), False)
    broker.start()
    await asyncio.wait_for(consumer.connected.wait(), 20)
    await publish(port, "parking/v1/sensors/MAG-HS1-001/events", sensor("m2", "vacated", "08:50"))
    await eventually(lambda: stored(database), 5)
    async with database.sessions() as session:
        [stay] = await session.scalars(select(StayRow))
        assert (stay.status, stay.fee_fen) == ("closed", 500)


ATTEMPTS: list[str] = []


class FailingIntake(Intake):
    """An intake whose database is away: every event fails."""

    async def take(self, event: DeviceEvent | LaneRead) -> Ack:
        ATTEMPTS.append(event.dedupe_key)
        raise ConnectionError("database unreachable")


async def test_a_message_is_acknowledged_only_after_its_commit(
    mqtt_settings: Settings, clock: FrozenClock, broker: Broker, database: Database
) -> None:
    parts = (database, clock, ChineseDayCalendar(), berth_rules(mqtt_settings), None, Path("var"))
    failing = MqttConsumer(mqtt_settings, FailingIntake(*parts), retry_seconds=())
    task = asyncio.create_task(failing.run())
    await asyncio.wait_for(failing.connected.wait(), 10)
    topic = "parking/v1/sensors/MAG-HS1-001/events"
    await publish(broker.port, topic, sensor("a1", "occupied", "08:00"))
    await eventually(lambda: asyncio.sleep(0, ATTEMPTS[:1]), ["own:berth:MAG-HS1-001:a1"])
    assert failing.handled == 0  # received, failed, not acknowledged
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await stored(database) == 0

    # The same session id comes back with a working database: the broker redelivers.
    working = MqttConsumer(mqtt_settings, Intake(*parts))
    task = asyncio.create_task(working.run())
    try:
        await eventually(lambda: stored(database), 1)
        await eventually(lambda: asyncio.sleep(0, working.handled), 1)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


class FlakyIntake(Intake):
    """An intake whose database is away for the first two attempts."""

    async def take(self, event: DeviceEvent | LaneRead) -> Ack:
        FLAKY.append(event.dedupe_key)
        if len(FLAKY) <= 2:
            raise ConnectionError("database unreachable")
        return await super().take(event)


FLAKY: list[str] = []


async def test_a_failed_message_comes_again_without_a_restart(
    mqtt_settings: Settings, clock: FrozenClock, broker: Broker, database: Database
) -> None:
    FLAKY.clear()
    parts = (database, clock, ChineseDayCalendar(), berth_rules(mqtt_settings), None, Path("var"))
    consumer = MqttConsumer(mqtt_settings, FlakyIntake(*parts), retry_seconds=())
    task = asyncio.create_task(consumer.run())
    try:
        await asyncio.wait_for(consumer.connected.wait(), 10)
        topic = "parking/v1/sensors/MAG-HS1-001/events"
        await publish(broker.port, topic, sensor("f1", "occupied", "08:00"))
        await eventually(lambda: stored(database), 1)
        await eventually(lambda: asyncio.sleep(0, consumer.handled), 1)
        assert consumer.redeliveries == 2 and len(FLAKY) == 3
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_workers_of_a_share_group_split_the_messages(
    mqtt_settings: Settings, clock: FrozenClock, broker: Broker, database: Database
) -> None:
    parts = (database, clock, ChineseDayCalendar(), berth_rules(mqtt_settings), None, Path("var"))
    workers = [
        MqttConsumer(
            mqtt_settings.model_copy(
                update={
                    "mqtt_share_group": "centre",
                    "mqtt_client_id": f"worker-{n}-{uuid.uuid4().hex[:6]}",
                }
            ),
            Intake(*parts),
        )
        for n in range(2)
    ]
    assert workers[0].subscriptions()[0] == "$share/centre/parking/v1/#"
    tasks = [asyncio.create_task(worker.run()) for worker in workers]
    try:
        for worker in workers:
            await asyncio.wait_for(worker.connected.wait(), 10)
        for n in range(1, 21):
            body = sensor(f"s{n}", "occupied", "08:00") | {"berth": f"HS2-{n:03d}"}
            await publish(broker.port, f"parking/v1/sensors/MAG-HS2-{n:03d}/events", body)
        await eventually(lambda: stored(database), 20)
        await eventually(lambda: asyncio.sleep(0, sum(w.handled for w in workers)), 20)
        assert all(worker.handled > 0 for worker in workers)  # each took its share, none twice
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with pytest.raises(asyncio.CancelledError):
                await task
