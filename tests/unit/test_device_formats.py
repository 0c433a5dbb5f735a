"""Vendor parsers on recorded payloads (tests/fixtures/devices): pure, no I/O."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.berth_events import BerthState
from core.errors import DomainError, ValidationFailedError
from core.plates import PlateColour
from device_bridge.formats import huawei_vias, own_json
from device_bridge.mqtt import decode

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "devices"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def test_own_berth_events() -> None:
    occupied = own_json.parse(fixture("own/berth_occupied.json"))
    assert occupied.dedupe_key == "own:berth:MAG-HS1-003:5821"
    assert (occupied.berth_code, occupied.state) == ("HS1-003", BerthState.OCCUPIED)
    assert occupied.device_time == datetime(2026, 11, 25, 9, 2, 11, tzinfo=SHANGHAI)
    assert occupied.plate is None
    video = own_json.parse(fixture("own/berth_occupied_with_plate.json"))
    assert video.plate is not None and video.plate.number == "浙BD12345"
    assert video.plate_colour is PlateColour.GREEN
    assert video.image_ref == "oss://parking-evidence/2026/11/25/VID-HS1-A-1187.jpg"
    vacated = own_json.parse(fixture("own/berth_vacated.json"))
    assert vacated.state is BerthState.VACATED


def test_own_plate_reads_heartbeats_and_faults() -> None:
    at_berth = own_json.parse_plate_read(fixture("own/plate_read_berth.json"))
    assert (at_berth.berth_code, at_berth.plate and at_berth.plate.number) == (
        "HS1-003",
        "浙B12345",
    )
    outside = own_json.parse_plate_read(fixture("own/plate_read_outside.json"))
    assert outside.berth_code is None and outside.location == "中山东路 公交站台前"
    assert len(outside.image_refs) == 2
    beat = own_json.parse_heartbeat(fixture("own/heartbeat.json"))
    assert (beat.battery_pct, beat.signal_dbm, beat.device_code) == (87, -93, "MAG-HS1-003")
    fault = own_json.parse_fault(fixture("own/fault.json"))
    assert (fault.fault_code, fault.cleared) == ("MAG_DRIFT", False)


def test_own_json_refuses_bad_input() -> None:
    bad = fixture("own/heartbeat.json") | {"battery_pct": 101}
    with pytest.raises(ValidationFailedError):
        own_json.parse_heartbeat(bad)
    naive = fixture("own/berth_occupied.json") | {"device_time": "2026-11-25T09:00:00"}
    with pytest.raises(ValidationFailedError):
        own_json.parse(naive)


def test_huawei_vias_berth_alarm_becomes_a_plate_read_at_the_berth() -> None:
    parsed = huawei_vias.parse(fixture("huawei_vias/abnormal_parking_berth.json"))
    [read] = parsed.reads
    assert read.vendor == "huawei-vias"
    assert read.dedupe_key == "huawei-vias:VID-HS1-A:dc7d8815-b34b-4ba4-b33f-c9c6cd346d79"
    assert read.device_code == "VID-HS1-A"
    assert read.berth_code == "HS1-003" and read.location == ""
    assert read.plate is not None and read.plate.number == "浙B12345"
    assert read.device_time == datetime.fromtimestamp(1795568560, UTC)
    [ref] = read.image_refs
    assert ref.startswith("sha256:") and parsed.images[ref].startswith(b"\xff\xd8")
    assert "image_base64" not in read.payload  # images are kept by reference, not in rows


def test_huawei_vias_no_parking_area_alarm_is_outside_any_berth() -> None:
    parsed = huawei_vias.parse(fixture("huawei_vias/abnormal_parking_no_parking_area.json"))
    first, unreadable = parsed.reads
    assert first.berth_code is None and first.location == "中山东路禁停区"
    assert first.plate is not None and first.plate.number == "浙B8K123"
    assert unreadable.plate is None  # "" means the camera could not read it
    assert first.dedupe_key != unreadable.dedupe_key


def test_huawei_vias_event_gone_yields_nothing_and_bad_pushes_are_refused() -> None:
    assert huawei_vias.parse(fixture("huawei_vias/event_gone.json")).reads == []
    with pytest.raises(ValidationFailedError):
        huawei_vias.parse(fixture("huawei_vias/event_gone.json") | {"event_type": 75008})
    broken = fixture("huawei_vias/abnormal_parking_berth.json") | {"image_base64": "@@@"}
    with pytest.raises(ValidationFailedError):
        huawei_vias.parse(broken)


def test_mqtt_topics_route_to_parsers() -> None:
    payload = json.dumps(fixture("own/berth_occupied.json")).encode()
    [event] = decode("parking/v1", "parking/v1/sensors/MAG-HS1-003/events", payload).events
    assert event.dedupe_key == "own:berth:MAG-HS1-003:5821"
    beat = {k: v for k, v in fixture("own/heartbeat.json").items() if k != "device"}
    [heartbeat] = decode(
        "parking/v1", "parking/v1/devices/MAG-HS1-009/heartbeat", json.dumps(beat).encode()
    ).events
    assert heartbeat.device_code == "MAG-HS1-009"  # the topic names the device
    vias = json.dumps(fixture("huawei_vias/abnormal_parking_berth.json")).encode()
    decoded = decode("parking/v1", "parking/v1/vendor/huawei-vias/VID-HS1-A", vias)
    assert len(decoded.events) == 1 and len(decoded.images) == 1
    with pytest.raises(DomainError):
        decode("parking/v1", "parking/v1/devices/OTHER/heartbeat", payload)
    with pytest.raises(DomainError):
        decode("parking/v1", "parking/v1/unknown/x", payload)
    with pytest.raises(DomainError):
        decode("parking/v1", "parking/v1/sensors/MAG-HS1-003/events", b"{not json")
