"""Guidance signs: push changed free counts to each sign over MQTT or HTTP, paced per sign.

Runs as a background task of the app (`signs_ctx`), woken by live availability changes and by a
short tick (lot counts follow lane events, which do not pass through the live store).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping

import aiohttp
import aiomqtt
from aiohttp import web

from config.settings import Settings
from core.availability import AvailabilityStore
from core.clock import Clock
from core.guidance import (
    SignConfig,
    SignFormat,
    SignMessage,
    SignPacer,
    SignTransport,
    UnknownSignFormatError,
    sign_lines,
    sign_topic,
)
from core.services.guidance import enabled_signs, target_counts
from core.store.unit_of_work import UnitOfWork
from device_bridge.formats.sign_formats import SIGN_FORMATS
from device_bridge.mqtt_link import MqttLink
from server.availability import AVAILABILITY_KEY
from server.resources import CLOCK_KEY, DATABASE_KEY, SETTINGS_KEY

log = logging.getLogger(__name__)

HTTP_TIMEOUT_SECONDS = 5.0


class MqttSignTransport:
    """Publishes retained at QoS 1, so a sign that reconnects shows the last counts at once."""

    def __init__(self, settings: Settings) -> None:
        assert settings.mqtt_url is not None
        self._link = MqttLink(settings.mqtt_url, f"{settings.mqtt_client_id}-signs")

    async def send(self, sign: SignConfig, message: SignMessage) -> None:
        """Publish once; a broken connection is dropped and reopened on the next send."""
        try:
            client = await self._link.client()
            await client.publish(sign_topic(sign.code), message.body, qos=1, retain=True)
        except aiomqtt.MqttError:
            await self._link.drop()
            raise

    async def close(self) -> None:
        """Disconnect."""
        await self._link.drop()


class HttpSignTransport:
    """POSTs the message to the sign's URL; a non-2xx answer counts as not delivered."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def send(self, sign: SignConfig, message: SignMessage) -> None:
        """POST once."""
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_SECONDS)
            self._session = aiohttp.ClientSession(timeout=timeout)
        headers = {"Content-Type": message.content_type, "X-Parking-Sign": sign.code}
        async with self._session.post(sign.address, data=message.body, headers=headers) as answer:
            answer.raise_for_status()

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None


class SignBoard:
    """Computes every sign's lines and sends those that changed, when their pace allows."""

    def __init__(
        self,
        units: Callable[[], UnitOfWork],
        clock: Clock,
        availability: AvailabilityStore | None,
        transports: Mapping[str, SignTransport],
        formats: Mapping[str, SignFormat] = SIGN_FORMATS,
    ) -> None:
        self._units = units
        self._clock = clock
        self._availability = availability
        self._transports = transports
        self._formats = formats
        self.pacer = SignPacer()
        self.signs: list[SignConfig] = []

    async def reload(self) -> None:
        """Read the enabled signs' configuration."""
        async with self._units() as uow:
            self.signs = await enabled_signs(uow)
        self.pacer.forget({sign.code for sign in self.signs})

    async def push(self) -> int:
        """Send the due signs their lines; how many were sent (a failed one is retried)."""
        if not self.signs:
            return 0
        now = self._clock.now()
        async with self._units() as uow:
            lots, zones = await target_counts(uow, self._availability, self.signs, now)
        sent = 0
        for sign in self.signs:
            lines = sign_lines(sign, lots, zones)
            if not self.pacer.due(sign, lines, now):
                continue
            try:
                message = self._format(sign).render(sign, lines)
                await self._transport(sign).send(sign, message)
            except (UnknownSignFormatError, aiomqtt.MqttError, aiohttp.ClientError) as exc:
                log.warning("sign %s not updated: %s", sign.code, exc)
                continue
            self.pacer.sent(sign, lines, now)
            sent += 1
        return sent

    def _format(self, sign: SignConfig) -> SignFormat:
        found = self._formats.get(sign.format)
        if found is None:
            raise UnknownSignFormatError(sign.format)
        return found

    def _transport(self, sign: SignConfig) -> SignTransport:
        found = self._transports.get(sign.transport)
        if found is None:
            raise UnknownSignFormatError(f"no {sign.transport} transport")
        return found


async def run_board(
    board: SignBoard, availability: AvailabilityStore | None, settings: Settings
) -> None:
    """Push after each availability change and every tick; reload the signs now and then."""
    changed = asyncio.Event()
    watcher = asyncio.create_task(_watch(availability, changed)) if availability else None
    since_reload = settings.signs_reload_seconds
    try:
        while True:
            if since_reload >= settings.signs_reload_seconds:
                try:
                    await board.reload()
                except Exception:  # the database away: keep the signs known so far
                    log.exception("guidance signs reload failed")
                since_reload = 0.0
            changed.clear()  # before the push: a change during it wakes the next round at once
            try:
                await board.push()
            except Exception:  # the database away: the next tick tries again
                log.exception("guidance signs push failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), settings.signs_tick_seconds)
            since_reload += settings.signs_tick_seconds
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


async def _watch(availability: AvailabilityStore, changed: asyncio.Event) -> None:
    async for berth in availability.changes():
        if berth is not None:
            changed.set()


async def signs_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the sign board when PARKING_SIGNS_ENABLED (on one worker)."""
    settings = app[SETTINGS_KEY]
    if not settings.signs_enabled:
        yield
        return
    http = HttpSignTransport()
    transports: dict[str, SignTransport] = {"http": http}
    mqtt = MqttSignTransport(settings) if settings.mqtt_url else None
    if mqtt is not None:
        transports["mqtt"] = mqtt
    availability = app.get(AVAILABILITY_KEY)
    board = SignBoard(
        lambda: UnitOfWork(app[DATABASE_KEY].sessions, read_only=True),
        app[CLOCK_KEY],
        availability,
        transports,
    )
    task = asyncio.create_task(run_board(board, availability, settings))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await http.close()
    if mqtt is not None:
        await mqtt.close()
