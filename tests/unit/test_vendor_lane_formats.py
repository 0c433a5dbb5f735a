"""Hikvision and Dahua lane camera parsers, lane texts, and the Vzenith reply's controls."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from core.errors import DomainError, ValidationFailedError
from core.lane_display import LaneDisplayProfile, lane_texts, profile_of
from core.lanes import Decision, LaneAction
from core.plates import PlateColour
from core.services.lanes import LaneOutcome
from device_bridge.formats import dahua_itc, hikvision_isapi, vzenith
from device_bridge.formats.lane_controls import controls_for

FIXTURES = Path(__file__).parents[1] / "fixtures" / "devices"
MULTIPART = "multipart/form-data; boundary=MIME_boundary"
DEVICE = "LOT-TIANYI-E1-anpr_camera"


def _hik(name: str, content_type: str = MULTIPART) -> hikvision_isapi.ParsedAlarm:
    body = (FIXTURES / "hikvision" / name).read_bytes()
    return hikvision_isapi.parse(body, content_type, device_code=DEVICE)


def test_a_hikvision_multipart_alarm_gives_the_plate_time_and_both_pictures() -> None:
    parsed = _hik("anpr_entry.multipart")
    read = parsed.read
    assert read.plate is not None and read.plate.number == "浙B12345"
    assert (read.plate_colour, read.confidence, read.vehicle_colour) == (
        PlateColour.BLUE,
        97,
        "white",
    )
    assert read.device_time.isoformat() == "2026-11-25T09:05:12+08:00"
    assert read.dedupe_key == f"hikvision:{DEVICE}:a3f1c2d4-6e5b-4c1a-9d2e-7b8f0c1e2d3a"
    assert len(parsed.images) == 2 and read.image_ref in parsed.images
    assert parsed.images[read.image_ref].startswith(b"\xff\xd8")
    assert "<licensePlate>浙B12345</licensePlate>" in read.payload["xml"]


def test_a_bare_hikvision_xml_without_a_plate_is_a_car_without_plates() -> None:
    read = _hik("anpr_no_plate.xml", "application/xml").read
    assert (read.plate, read.plate_colour, read.vehicle_type, read.image_ref) == (
        None,
        None,
        "suv",
        None,
    )


def test_hikvision_refuses_other_media_events_and_entity_tricks() -> None:
    with pytest.raises(DomainError) as media:
        _hik("anpr_no_plate.xml", "application/json")
    assert media.value.status == 415
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        b"<EventNotificationAlert><eventType>&b;</eventType></EventNotificationAlert>"
    )
    for body in (bomb, b"<EventNotificationAlert><eventType>VMD</eventType>", b"<x/>"):
        with pytest.raises(ValidationFailedError):
            hikvision_isapi.parse(body, "application/xml", device_code=DEVICE)


def test_a_dahua_push_gives_the_plate_local_time_and_pictures_without_keeping_them() -> None:
    push = json.loads((FIXTURES / "dahua" / "tollgate_entry.json").read_text("utf-8"))
    parsed = dahua_itc.parse(push, device_code=DEVICE)
    read = parsed.read
    assert read.plate is not None and read.plate.number == "浙B12345"
    assert read.device_time.isoformat() == "2026-11-25T09:05:12.317000+08:00"
    assert read.dedupe_key == "dahua:6K0A1B2PAZ3C4D5:48211"
    assert (read.plate_colour, read.confidence, read.vehicle_colour) == (
        PlateColour.BLUE,
        92,
        "white",
    )
    assert len(parsed.images) == 2 and read.image_ref in parsed.images
    assert "Content" not in json.dumps(read.payload)


def test_a_dahua_push_without_a_plate_or_with_a_bad_time_or_picture() -> None:
    push = json.loads((FIXTURES / "dahua" / "tollgate_no_plate.json").read_text("utf-8"))
    assert dahua_itc.parse(push, device_code=DEVICE).read.plate is None
    push["Picture"]["SnapInfo"]["AccurateTime"] = "25/11/2026"
    with pytest.raises(ValidationFailedError):
        dahua_itc.parse(push, device_code=DEVICE)
    push["Picture"]["SnapInfo"]["AccurateTime"] = "2026-11-25 09:07:30"
    push["Picture"]["NormalPic"] = {"Content": "not base64!"}
    with pytest.raises(ValidationFailedError):
        dahua_itc.parse(push, device_code=DEVICE)


def test_lane_texts_split_the_plate_and_honour_the_lane_profile() -> None:
    goodbye = Decision(LaneAction.OPEN, "exit_free", "浙B12345 一路顺风")
    texts = lane_texts(goodbye, LaneDisplayProfile())
    assert texts == lane_texts(goodbye, profile_of(None))
    assert (texts.lines, texts.voice) == (("浙B12345", "一路顺风"), "浙B12345 一路顺风")
    quiet = profile_of({"voice": False, "farewell": "欢迎再来", "from_a_newer_version": 1})
    assert lane_texts(goodbye, quiet).lines == ("浙B12345", "欢迎再来")
    assert lane_texts(goodbye, quiet).voice is None
    full = Decision(LaneAction.REFUSE, "lot_full", "车位已满，请勿入场")
    assert lane_texts(full, quiet).lines == ("车位已满，请勿入场",)


def test_the_vzenith_reply_carries_serial_data_and_the_profile_voice() -> None:
    push = json.loads((FIXTURES / "vzenith" / "http_plate_entry.json").read_text("utf-8"))
    read = vzenith.parse(push, device_code=DEVICE)
    decision = Decision(LaneAction.OPEN, "entry_temporary", "浙B12345 临时车 欢迎光临")
    plain = vzenith.reply(read, decision, controls_for(LaneOutcome("applied", decision=decision)))
    assert "serialData" not in plain["Response_AlarmInfoPlate"]
    profile = {"led": "onbon_bx", "serial_channel": 1, "volume": 40}
    outcome = LaneOutcome("applied", decision=decision, display=profile)
    answer = vzenith.reply(read, decision, controls_for(outcome))["Response_AlarmInfoPlate"]
    [serial] = answer["serialData"]
    frame = base64.b64decode(serial["data"])
    assert (serial["serialChannel"], serial["dataLen"]) == (1, len(frame))
    assert "浙B12345\n临时车 欢迎光临".encode("gbk") in frame
    assert answer["playserver_json_request"]["voice_volume"] == 40
    assert controls_for(LaneOutcome("recorded")) is None
