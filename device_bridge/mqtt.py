"""The MQTT transport: subscribes to device topics, applies each message in its own transaction
and acknowledges it (QoS 1) only after the commit, reconnecting when the broker goes away."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiomqtt
from aiohttp import web

from config.settings import Settings
from core.berth_events import BerthEvent
from core.device_events import DeviceEvent
from core.errors import DomainError
from core.event_groups import IntakeBusyError
from core.lane_events import LaneRead
from device_bridge.formats import huawei_vias, own_json, vzenith
from device_bridge.intake import Intake
from server import input_limits
from server.metrics import observe_refused_event
from server.resources import SETTINGS_KEY

log = logging.getLogger(__name__)

# Messages applied at once; the broker's in-flight window bounds it as well. Single berth
# events of messages handled at once share a transaction (device_bridge/berth_groups.py), so
# this also bounds a group of them.
CONCURRENCY = 64
RECONNECT_SECONDS = (0.5, 1.0, 2.0, 5.0)
RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0, 5.0, 10.0, 10.0, 30.0)
# Vzenith cameras publish plate results under their own root (open.vzicloud.com, docs/lanes.md).
VZENITH_TOPIC = "device/+/message/up/ivs_result"


@dataclass(frozen=True, slots=True)
class Decoded:
    """A message turned into domain events, with any images it carried."""

    events: list[DeviceEvent | LaneRead]
    images: dict[str, bytes]
    batch: list[BerthEvent | DomainError] | None = None  # applied together, in one transaction


def decode(prefix: str, topic: str, payload: bytes) -> Decoded:
    """Parse a message by its topic (docs/devices.md); bad input raises a DomainError."""
    # The HTTP bodies' limits (depth, NUL, number range): a message nested thousands deep is
    # refused and acknowledged like any bad message, not a RecursionError left unacknowledged.
    data: Any = input_limits.loads(payload)
    if topic.startswith("device/"):
        match topic.split("/"):
            case ["device", serial, "message", "up", "ivs_result"]:
                return Decoded([vzenith.parse(data, device_code=serial)], {})
        raise DomainError("未知的消息主题", detail=f"unknown topic {topic!r}")
    parts = topic.removeprefix(prefix.rstrip("/") + "/").split("/")
    match parts:
        case ["sensors", device, "events"]:
            return Decoded([own_json.parse(_with_device(data, device))], {})
        case ["video", device, "plates"]:
            return Decoded([own_json.parse_plate_read(_with_device(data, device))], {})
        case ["devices", device, "heartbeat"]:
            return Decoded([own_json.parse_heartbeat(_with_device(data, device))], {})
        case ["devices", device, "faults"]:
            return Decoded([own_json.parse_fault(_with_device(data, device))], {})
        case ["gateways", _, "events"]:
            return Decoded([], {}, own_json.parse_batch(data))
        case ["vendor", "huawei-vias", _]:
            parsed = huawei_vias.parse(data)
            return Decoded(list(parsed.reads), parsed.images)
    raise DomainError("未知的消息主题", detail=f"unknown topic {topic!r}")


def _with_device(data: Any, device: str) -> Any:
    """The topic names the device; a payload naming another one is refused."""
    if isinstance(data, dict) and data.setdefault("device", device) != device:
        raise DomainError("主题与消息中的设备编号不一致", detail=f"topic device {device}")
    return data


class MqttConsumer:
    """One long-lived subscription with manual acknowledgements."""

    def __init__(
        self,
        settings: Settings,
        intake: Intake,
        *,
        retry_seconds: tuple[float, ...] = RETRY_SECONDS,
    ) -> None:
        assert settings.mqtt_url is not None
        url = urlsplit(settings.mqtt_url)
        self._host, self._port = url.hostname or "127.0.0.1", url.port or 1883
        self._username, self._password = url.username, url.password
        self._client_id = settings.mqtt_client_id
        self._prefix = settings.mqtt_topic_prefix.rstrip("/")
        self._share = settings.mqtt_share_group
        self._intake = intake
        self._retry_seconds = retry_seconds
        self._order: dict[str, asyncio.Lock] = {}
        self.connected = asyncio.Event()
        self.handled = 0
        self.redeliveries = 0  # sessions ended to have a failed message delivered again
        self.delays: deque[float] = deque(maxlen=32)  # the last reconnect waits, for health checks

    async def run(self) -> None:
        """Consume until cancelled, reconnecting after any broker or network failure."""
        attempt = 0
        while True:
            try:
                await self._session()
            except aiomqtt.MqttError as exc:
                if self.connected.is_set():
                    attempt = 0  # that connection was good: the back-off starts over
                self.connected.clear()
                delay = RECONNECT_SECONDS[min(attempt, len(RECONNECT_SECONDS) - 1)]
                attempt += 1
                self.delays.append(delay)
                log.warning("MQTT connection lost (%s); reconnecting in %.1fs", exc, delay)
                await asyncio.sleep(delay)
            else:
                attempt = 0

    async def _session(self) -> None:
        client = aiomqtt.Client(
            self._host,
            self._port,
            username=self._username,
            password=self._password,
            identifier=self._client_id,
            clean_session=False,  # the broker keeps QoS 1 messages while we are away
        )
        # aiomqtt has no public switch for it: acknowledge by hand, after the commit. It must
        # be set before connecting, since a kept session delivers at once.
        client._client.manual_ack_set(True)
        slots = asyncio.Semaphore(CONCURRENCY)
        running: set[asyncio.Task[None]] = set()
        async with client:
            for topic in self.subscriptions():
                await client.subscribe(topic, qos=1)
            self.connected.set()
            log.info("MQTT subscribed to %s on %s:%s", self.subscriptions(), self._host, self._port)
            try:
                async for message in client.messages:
                    await slots.acquire()
                    task = asyncio.create_task(self._handle(client, message, slots))
                    running.add(task)
                    task.add_done_callback(running.discard)
            finally:
                for task in running:
                    task.cancel()

    def subscriptions(self) -> list[str]:
        """The topic filters: shared by the workers of a group when one is configured."""
        topics = [f"{self._prefix}/#", VZENITH_TOPIC]
        return [f"$share/{self._share}/{t}" for t in topics] if self._share else topics

    async def _handle(
        self, client: aiomqtt.Client, message: aiomqtt.Message, slots: asyncio.Semaphore
    ) -> None:
        topic = message.topic.value
        try:
            # One device's messages in the order the broker delivered them (tasks start in
            # creation order and the lock is fair): no needless re-pricing from reordering.
            async with self._order.setdefault(topic, asyncio.Lock()):
                payload = message.payload if isinstance(message.payload, bytes) else b""
                try:
                    decoded = decode(self._prefix, topic, payload)
                except DomainError as exc:
                    # Nothing can make it valid: acknowledge, so it is not redelivered forever.
                    log.warning("MQTT message on %s refused: %s", topic, exc.detail)
                    observe_refused_event("message", exc.code)
                else:
                    await self._intake.keep_images(decoded.images)
                    for event in decoded.events:
                        await self._take(event)
                    if decoded.batch is not None:
                        await self._take_batch(topic, decoded.batch)
            if message.qos > 0:
                client._client.ack(message.mid, message.qos)
            self.handled += 1
        except Exception:
            # Not acknowledged: the broker redelivers it on the next session, and only then
            # (it holds the message in flight meanwhile; enough of them and it sends nothing
            # more). So end this session: the consumer reconnects and gets it again.
            log.exception("MQTT message on %s failed; left unacknowledged, reconnecting", topic)
            self.redeliveries += 1
            client._client.disconnect()
        finally:
            slots.release()

    async def _take(self, event: DeviceEvent | LaneRead) -> None:
        """Apply one event, retrying while the database is away; a resend is harmless."""
        for delay in (*self._retry_seconds, None):
            try:
                await self._intake.take(event)
                return
            except IntakeBusyError:  # too many events wait: later, not never
                if delay is None:
                    raise
                log.warning("MQTT event %s: busy; retrying in %.1fs", event.dedupe_key, delay)
                await asyncio.sleep(delay)
            except DomainError as exc:  # e.g. an unknown berth: no retry can fix it
                log.warning("MQTT event %s refused: %s", event.dedupe_key, exc.detail)
                return
            except Exception:
                if delay is None:
                    raise
                log.warning("MQTT event %s failed; retrying in %.1fs", event.dedupe_key, delay)
                await asyncio.sleep(delay)

    async def _take_batch(self, topic: str, batch: list[BerthEvent | DomainError]) -> None:
        """Apply a batch in one transaction, retrying while the database is away."""
        for delay in (*self._retry_seconds, None):
            try:
                ack = await self._intake.take_batch(batch)
                break
            except Exception:
                if delay is None:
                    raise
                log.warning("MQTT batch on %s failed; retrying in %.1fs", topic, delay)
                await asyncio.sleep(delay)
        refused = [r for r in ack.results if r.outcome == "refused"]
        if refused:
            log.warning(
                "MQTT batch on %s: %d of %d refused, e.g. %s",
                topic,
                len(refused),
                len(batch),
                refused[0].code,
            )


CONSUMER_KEY: web.AppKey[MqttConsumer] = web.AppKey("mqtt_consumer")


async def mqtt_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the consumer as a background task while the app serves, when MQTT is configured."""
    settings = app[SETTINGS_KEY]
    if not settings.mqtt_url:
        yield
        return
    consumer = MqttConsumer(settings, Intake.of(app))
    app[CONSUMER_KEY] = consumer
    task = asyncio.create_task(consumer.run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
