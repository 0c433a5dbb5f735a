"""Guidance signs over a real Mosquitto (and HTTP): changed counts only, at the sign's pace."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import aiomqtt
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from config.settings import Settings
from core.availability import OccupancyChange
from core.clock import FrozenClock
from core.guidance import sign_topic
from core.store.signs import GuidanceSignRow
from core.store.unit_of_work import UnitOfWork
from device_bridge.signs import HttpSignTransport, MqttSignTransport, SignBoard
from server.availability import InProcessAvailability, refresh
from tests.integration.test_mqtt import Broker, broker
from tests.integration.test_tariff_routes import admin_headers

__all__ = ["broker"]

TARGETS = [
    {"kind": "zone", "code": "HS1", "label": "中山东路"},
    {"kind": "lot", "code": "LOT-HOSP", "label": "一院"},
]


async def _add_sign(
    uow_factory: Callable[[], UnitOfWork], clock: FrozenClock, **fields: Any
) -> None:
    async with uow_factory() as uow:
        uow.signs.add(
            GuidanceSignRow(
                name="中山东路口",
                targets=TARGETS,
                options={},
                min_interval_seconds=5,
                enabled=True,
                updated_at=clock.now(),
                **fields,
            )
        )
        await uow.commit()


async def _live(uow_factory: Callable[[], UnitOfWork], clock: FrozenClock) -> InProcessAvailability:
    store = InProcessAvailability()
    async with uow_factory() as uow:
        await refresh(store, uow, clock.now())
    return store


async def _next(station: aiomqtt.Client, seconds: float) -> dict[str, Any] | None:
    """The next message on the sign's topic, or None when none comes in time."""
    try:
        async with asyncio.timeout(seconds):
            async for message in station.messages:
                assert isinstance(message.payload, bytes)
                body: dict[str, Any] = json.loads(message.payload)
                return body
    except TimeoutError:
        return None
    return None


def _free(body: dict[str, Any]) -> list[int | None]:
    return [line["free"] for line in body["lines"]]


async def test_a_sign_gets_changed_counts_only_and_never_faster_than_its_interval(
    settings: Settings,
    clock: FrozenClock,
    broker: Broker,
    uow_factory: Callable[[], UnitOfWork],
) -> None:
    await _add_sign(
        uow_factory, clock, code="S-01", transport="mqtt", address="", format="own_json"
    )
    store = await _live(uow_factory, clock)
    mqtt = MqttSignTransport(
        settings.model_copy(update={"mqtt_url": f"mqtt://127.0.0.1:{broker.port}"})
    )
    board = SignBoard(uow_factory, clock, store, {"mqtt": mqtt})
    await board.reload()
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="sign-s01") as station:
        await station.subscribe(sign_topic("S-01"), qos=1)
        assert await board.push() == 1
        first = await _next(station, 5)
        assert first is not None and first["sign"] == "S-01"
        zone_free, lot_free = _free(first)
        assert zone_free == 20 and lot_free is not None and 0 <= lot_free <= 320
        assert first["lines"][0]["text"] == "中山东路 余位20"

        # Nothing changed: nothing is sent, however long it has been.
        clock.advance(timedelta(seconds=60))
        assert await board.push() == 0
        assert await _next(station, 0.5) is None

        # A change right after a push waits for the interval, then goes out once.
        await store.apply(OccupancyChange("HS1-001", True, 10**9))
        assert await board.push() == 1
        assert _free(await _next(station, 5) or {}) == [19, lot_free]
        await store.apply(OccupancyChange("HS1-002", True, 10**9))
        clock.advance(timedelta(seconds=4))
        assert await board.push() == 0
        assert await _next(station, 0.5) is None
        clock.advance(timedelta(seconds=1))
        assert await board.push() == 1
        assert _free(await _next(station, 5) or {}) == [18, lot_free]

        # A change undone within the interval leaves the sign as it is.
        await store.apply(OccupancyChange("HS1-003", True, 10**9))
        await store.apply(OccupancyChange("HS1-003", False, 10**9 + 1))
        clock.advance(timedelta(seconds=10))
        assert await board.push() == 0
        assert await _next(station, 0.5) is None
    await mqtt.close()


async def test_an_http_sign_gets_an_onbon_frame_and_a_failed_push_is_retried(
    clock: FrozenClock, uow_factory: Callable[[], UnitOfWork]
) -> None:
    received: list[tuple[str, bytes]] = []
    failing = [True]

    async def sign(request: web.Request) -> web.Response:
        if failing[0]:
            failing[0] = False
            return web.Response(status=503)
        received.append((request.content_type, await request.read()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/led", sign)
    server = TestServer(app)
    await server.start_server()
    url = str(server.make_url("/led"))
    await _add_sign(
        uow_factory, clock, code="S-02", transport="http", address=url, format="onbon_bx"
    )
    http = HttpSignTransport()
    board = SignBoard(uow_factory, clock, await _live(uow_factory, clock), {"http": http})
    await board.reload()
    try:
        assert await board.push() == 0  # the sign answered 503: not marked as shown
        assert await board.push() == 1
        assert await board.push() == 0
    finally:
        await http.close()
        await server.close()
    [(content_type, body)] = received
    assert content_type == "application/octet-stream"
    assert body.startswith(b"\xa5" * 8) and body.endswith(b"\x5a")
    assert "中山东路 余位20".encode("gbk") in body


async def test_staff_configure_signs_and_unknown_targets_are_refused(
    client: TestClient[Any, Any],
) -> None:
    headers = await admin_headers(client)
    sign = {
        "name": "中山东路口",
        "transport": "mqtt",
        "targets": TARGETS,
        "min_interval_seconds": 10,
        "reason": "新装诱导屏",
    }
    stored = await client.put("/ops/signs/S-09", json=sign, headers=headers)
    assert stored.status == 200, await stored.text()
    listed = (await (await client.get("/ops/signs", headers=headers)).json())["signs"]
    assert [(s["code"], s["topic"], s["min_interval_seconds"]) for s in listed] == [
        ("S-09", "parking-signs/v1/S-09", 10)
    ]
    unknown = {**sign, "targets": [{"kind": "zone", "code": "NOPE", "label": "无"}]}
    refused = await client.put("/ops/signs/S-10", json=unknown, headers=headers)
    assert (refused.status, (await refused.json())["code"]) == (404, "unknown_sign_target")
    no_url = await client.put(
        "/ops/signs/S-10", json={**sign, "transport": "http"}, headers=headers
    )
    assert no_url.status == 400
    assert len((await (await client.get("/ops/signs", headers=headers)).json())["signs"]) == 1


async def test_the_running_app_pushes_to_its_signs_and_again_after_a_sensor_event(
    settings: Settings,
    clock: FrozenClock,
    broker: Broker,
    uow_factory: Callable[[], UnitOfWork],
    aiohttp_client: Callable[..., Any],
) -> None:
    from server.app import create_app

    await _add_sign(
        uow_factory, clock, code="S-03", transport="mqtt", address="", format="own_json"
    )
    configured = settings.model_copy(
        update={
            "mqtt_url": f"mqtt://127.0.0.1:{broker.port}",
            "mqtt_client_id": "centre-signs-test",
            "signs_enabled": True,
            "signs_tick_seconds": 0.2,
        }
    )
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="sign-s03") as station:
        await station.subscribe(sign_topic("S-03"), qos=1)
        client = await aiohttp_client(create_app(configured, clock=clock))
        first = await _next(station, 10)
        assert first is not None and _free(first)[0] == 20
        clock.advance(timedelta(minutes=5))
        event = {
            "event_id": "sign-1",
            "device": "MAG-HS1-004",
            "berth": "HS1-004",
            "state": "occupied",
            "device_time": clock.now().isoformat(),
        }
        assert (await (await client.post("/devices/sensors/events", json=event)).json())[
            "outcome"
        ] == "applied"
        second = await _next(station, 10)
        assert second is not None and _free(second)[0] == 19
