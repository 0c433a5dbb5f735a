"""Hikvision and Dahua cameras end to end into lane reads; lane LED and voice profiles."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from config.settings import Settings
from core.clock import FrozenClock
from core.store.lots import LanePassageRow
from core.store.unit_of_work import UnitOfWork
from tests.integration.test_tariff_routes import admin_headers

Client = TestClient[Any, Any]
FIXTURES = Path(__file__).parents[1] / "fixtures" / "devices"
MULTIPART = "multipart/form-data; boundary=MIME_boundary"
HIK = "/devices/lanes/vendors/hikvision/LOT-TIANYI-{lane}-anpr_camera"
DAHUA = "/devices/lanes/vendors/dahua/LOT-HOSP-E1-anpr_camera"


async def _client(
    settings: Settings, clock: FrozenClock, tmp_path: Path, aiohttp_client: Callable[..., Any]
) -> Client:
    from server.app import create_app

    app = create_app(settings.model_copy(update={"image_dir": str(tmp_path)}), clock=clock)
    client: Client = await aiohttp_client(app)
    return client


async def _passages(uow_factory: Callable[[], UnitOfWork], vendor_plate: str) -> list[Any]:
    async with uow_factory() as uow:
        rows = await uow.session.scalars(
            select(LanePassageRow).where(LanePassageRow.plate == vendor_plate)
        )
        return [(r.direction, r.action, r.details["vendor"], r.image_ref) for r in rows]


async def test_a_hikvision_alarm_lets_a_car_in_and_out_and_a_resend_is_a_duplicate(
    settings: Settings,
    clock: FrozenClock,
    tmp_path: Path,
    aiohttp_client: Callable[..., Any],
    uow_factory: Callable[[], UnitOfWork],
) -> None:
    client = await _client(settings, clock, tmp_path, aiohttp_client)
    clock.advance(timedelta(minutes=6))
    entry = (FIXTURES / "hikvision" / "anpr_entry.multipart").read_bytes()
    headers = {"Content-Type": MULTIPART}
    first = await client.post(HIK.format(lane="E1"), data=entry, headers=headers)
    assert first.status == 200, await first.text()
    answer = await first.json()
    assert (answer["outcome"], answer["action"], answer["gate"]) == ("applied", "open", "open")
    again = await (await client.post(HIK.format(lane="E1"), data=entry, headers=headers)).json()
    assert (again["outcome"], again["passage_ref"]) == ("duplicate", answer["passage_ref"])
    clock.advance(timedelta(hours=2, minutes=15))
    leave = (FIXTURES / "hikvision" / "anpr_exit.multipart").read_bytes()
    out = await (await client.post(HIK.format(lane="X1"), data=leave, headers=headers)).json()
    assert out["action"] == "pay" and out["fee_fen"] > 0
    rows = await _passages(uow_factory, "浙B12345")
    assert sorted(r[:3] for r in rows) == [
        ("entry", "open", "hikvision"),
        ("exit", "pay", "hikvision"),
    ]
    ref = rows[0][3]
    assert ref is not None and (tmp_path / (ref.replace(":", "-") + ".jpg")).exists()


async def test_hikvision_refuses_what_is_not_an_anpr_alarm(
    settings: Settings, clock: FrozenClock, tmp_path: Path, aiohttp_client: Callable[..., Any]
) -> None:
    client = await _client(settings, clock, tmp_path, aiohttp_client)
    url = HIK.format(lane="E1")
    as_json = await client.post(url, json={"eventType": "ANPR"})
    assert (as_json.status, (await as_json.json())["code"]) == (415, "unsupported_media_type")
    xml = b"<EventNotificationAlert><eventType>VMD</eventType></EventNotificationAlert>"
    motion = await client.post(url, data=xml, headers={"Content-Type": "application/xml"})
    assert (motion.status, (await motion.json())["code"]) == (400, "invalid_request")
    # The bare-XML variant without a plate reaches the lane as a car without plates.
    bare = (FIXTURES / "hikvision" / "anpr_no_plate.xml").read_bytes()
    clock.advance(timedelta(minutes=8))
    no_plate = await client.post(url, data=bare, headers={"Content-Type": "application/xml"})
    assert (await no_plate.json())["reason"] == "no_plate"


async def test_a_dahua_push_is_decided_and_acknowledged_once(
    settings: Settings,
    clock: FrozenClock,
    tmp_path: Path,
    aiohttp_client: Callable[..., Any],
    uow_factory: Callable[[], UnitOfWork],
) -> None:
    client = await _client(settings, clock, tmp_path, aiohttp_client)
    clock.advance(timedelta(minutes=6))
    push = json.loads((FIXTURES / "dahua" / "tollgate_entry.json").read_text("utf-8"))
    for _ in range(2):
        answer = await client.post(DAHUA, json=push)
        assert (answer.status, await answer.json()) == (200, {"Result": True})
    assert [r[:3] for r in await _passages(uow_factory, "浙B12345")] == [("entry", "open", "dahua")]
    async with uow_factory() as uow:
        lot = await uow.city.lot_by_code("LOT-HOSP")
        assert lot is not None
        assert len(await uow.lots.open_for_plate(lot.id, "浙B12345")) == 1


async def test_a_lane_profile_puts_led_frames_and_its_voice_in_the_vzenith_reply(
    client: Client, clock: FrozenClock
) -> None:
    headers = await admin_headers(client)
    url = "/ops/lanes/LOT-TIANYI/E1/display"
    default = await (await client.get(url, headers=headers)).json()
    assert (default["led"], default["voice"]) == ("none", True)
    profile = {"led": "onbon_bx", "led_width": 64, "volume": 60, "reason": "换装仰邦控制卡"}
    stored = await client.put(url, json=profile, headers=headers)
    assert stored.status == 200, await stored.text()
    push = json.loads((FIXTURES / "vzenith" / "http_plate_entry.json").read_text("utf-8"))
    reply = await client.post("/devices/lanes/vendors/vzenith/LOT-TIANYI-E1-anpr_camera", json=push)
    body = (await reply.json())["Response_AlarmInfoPlate"]
    [serial] = body["serialData"]
    frame = base64.b64decode(serial["data"])
    assert serial["dataLen"] == len(frame) and serial["serialChannel"] == 0
    assert frame.startswith(b"\xa5" * 8) and "浙B12345".encode("gbk") in frame
    assert body["playserver_json_request"]["voice_volume"] == 60
    silent = await client.put(url, json={"voice": False, "reason": "夜间静音"}, headers=headers)
    assert silent.status == 200
    own = {
        "event_id": "profile-2",
        "device": "LOT-TIANYI-E1-anpr_camera",
        "device_time": clock.now().isoformat(),
        "plate": "浙B67890",
    }
    ack = await (await client.post("/devices/lanes/reads", json=own)).json()
    assert (ack["voice"], ack["led_frames"]) == (None, [])
    assert ack["display"].startswith("浙B67890")
