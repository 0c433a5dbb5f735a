"""The shipped broker configuration keeps acknowledged messages through a SIGKILL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import aiomqtt
import pytest

from tests.conftest import service_missing
from tests.own_services import MosquittoServer, mosquitto_available

pytestmark = pytest.mark.mqtt


@pytest.fixture
def mosquitto() -> Iterator[MosquittoServer]:
    """A broker of this test's own, with deploy/mosquitto.conf."""
    if not mosquitto_available():
        service_missing("Mosquitto", FileNotFoundError("mosquitto"))
    server = MosquittoServer()
    server.start()
    yield server
    server.remove()


async def test_messages_acknowledged_seconds_before_a_kill_survive_it(
    mosquitto: MosquittoServer,
) -> None:
    port = mosquitto.port
    async with aiomqtt.Client("127.0.0.1", port, identifier="centre", clean_session=False) as c:
        await c.subscribe("parking/v1/#", qos=1)  # the centre's session, then it goes away
    async with aiomqtt.Client("127.0.0.1", port, identifier="sensor") as device:
        for n in range(100):
            await device.publish(f"parking/v1/sensors/S/{n}", b"{}", qos=1)  # PUBACKed
    # autosave_interval 1 saves once a whole second has passed in Mosquitto's integer-second
    # clock: every two seconds at most (measured: none kept before 2 s, all from 2 s on).
    await asyncio.sleep(3)
    mosquitto.kill()
    mosquitto.start()
    got: set[str] = set()
    async with aiomqtt.Client("127.0.0.1", port, identifier="centre", clean_session=False) as c:
        async with asyncio.timeout(10):
            async for message in c.messages:
                got.add(message.topic.value)
                if len(got) == 100:
                    break
    assert len(got) == 100
