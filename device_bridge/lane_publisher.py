"""MQTT transport of lane commands: open the gate, show the fee, speak; one topic per lane."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator

import aiomqtt
from aiohttp import web

from config.settings import Settings
from core.lanes import LaneCommand
from device_bridge.lane_outbox import LaneOutbox, Round
from device_bridge.mqtt_link import MqttLink
from server.lane_publishing import LANE_PUBLISHER_KEY
from server.resources import CLOCK_KEY, DATABASE_KEY, SETTINGS_KEY

log = logging.getLogger(__name__)

# Downlink topics live outside the uplink prefix, so the centre never consumes its own commands.
COMMAND_ROOT = "parking-commands/v1/lanes"


def command_topic(lane: str) -> str:
    """The topic of a lane named `LOT/LANE`."""
    return f"{COMMAND_ROOT}/{lane}"


def command_payload(command: LaneCommand) -> bytes:
    """The JSON a lane station reads (docs/lanes.md)."""
    body = {"kind": command.kind.value, "text": command.text, "pay_url": command.pay_url}
    return json.dumps(body, ensure_ascii=False).encode()


class MqttLanePublisher:
    """Publishes at QoS 1 on one connection, opened on first use and again after a failure.

    With an outbox, commands the broker cannot take are kept and sent, in order, when it
    returns (`deliver`); while any wait, new ones queue behind them.
    """

    def __init__(self, settings: Settings, outbox: LaneOutbox | None = None) -> None:
        assert settings.mqtt_url is not None
        self._link = MqttLink(settings.mqtt_url, f"{settings.mqtt_client_id}-commands")
        self._lock = asyncio.Lock()
        self.outbox = outbox
        self.wake = asyncio.Event()

    async def publish(self, commands: list[LaneCommand]) -> None:
        """Send each command; a broken connection is reopened once before giving up."""
        async with self._lock:
            if self.outbox is not None and self.outbox.backlog:
                await self.outbox.keep(commands)  # behind older ones, so a lane sees them in order
                self.wake.set()
                return
            try:
                await self._send(commands)
            except aiomqtt.MqttError as exc:
                if self.outbox is None:
                    raise
                await self.outbox.keep(commands)
                log.warning(
                    "MQTT broker unreachable (%s): %d lane commands kept", exc, len(commands)
                )

    async def deliver(self) -> Round | None:
        """Send what the outbox holds, when the broker takes it; None without an outbox."""
        if self.outbox is None:
            return None
        async with self._lock:
            return await self.outbox.deliver(self._send)

    async def _send(self, commands: list[LaneCommand]) -> None:
        for attempt in (1, 2):
            try:
                client = await self._connected()
                for command in commands:
                    topic = command_topic(command.lane)
                    await client.publish(topic, command_payload(command), qos=1)
                return
            except aiomqtt.MqttError:
                await self._drop()
                if attempt == 2:
                    raise

    async def close(self) -> None:
        """Disconnect."""
        async with self._lock:
            await self._drop()

    async def _connected(self) -> aiomqtt.Client:
        return await self._link.client()

    async def _drop(self) -> None:
        await self._link.drop()


async def lane_publisher_ctx(app: web.Application) -> AsyncIterator[None]:
    """Give the app an MQTT lane publisher when MQTT is configured, and deliver its outbox."""
    settings = app[SETTINGS_KEY]
    if not settings.mqtt_url or LANE_PUBLISHER_KEY in app:
        yield
        return
    outbox = LaneOutbox(app[DATABASE_KEY], app[CLOCK_KEY], settings.lane_command_max_age_seconds)
    publisher = MqttLanePublisher(settings, outbox)
    app[LANE_PUBLISHER_KEY] = publisher
    task = asyncio.create_task(deliver_forever(publisher, settings.lane_outbox_poll_seconds))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await publisher.close()


async def deliver_forever(publisher: MqttLanePublisher, every: float) -> None:
    """Deliver the outbox while it holds commands: when woken, and every `every` seconds."""
    while True:
        if publisher.outbox is not None and publisher.outbox.backlog:
            try:
                await publisher.deliver()
            except aiomqtt.MqttError as exc:
                log.info("lane outbox waits for the broker: %s", exc)
            except Exception:  # the database away: the next round tries again
                log.exception("lane outbox delivery failed")
        publisher.wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(publisher.wake.wait(), every)
