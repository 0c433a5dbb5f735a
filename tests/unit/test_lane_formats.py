"""Lane device formats from recorded payloads: own JSON and Vzenith (臻识) over HTTP and MQTT."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.errors import ValidationFailedError
from core.lanes import Decision, LaneAction
from core.plates import PlateColour
from device_bridge.formats import lane_json, vzenith

FIXTURES = Path(__file__).parents[1] / "fixtures" / "devices"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text("utf-8"))


def test_own_json_read() -> None:
    read = lane_json.parse_read(fixture("lane_json/read_entry.json"))
    assert (read.dedupe_key, read.device_code) == (
        "own:LOT-HOSP-E1-anpr_camera:r-0001",
        "LOT-HOSP-E1-anpr_camera",
    )
    assert read.plate is not None and read.plate.number == "浙B12345"
    assert (read.plate_colour, read.vehicle_type, read.vehicle_colour, read.confidence) == (
        PlateColour.BLUE,
        "sedan",
        "white",
        97,
    )
    assert read.look.vehicle_colour == "white"


def test_own_json_read_without_a_plate() -> None:
    read = lane_json.parse_read(fixture("lane_json/read_no_plate.json"))
    assert read.plate is None and read.plate_colour is None


def test_own_json_refuses_an_unknown_vehicle_type() -> None:
    body = fixture("lane_json/read_entry.json") | {"vehicle_type": "tank"}
    with pytest.raises(ValidationFailedError):
        lane_json.parse_read(body)


def test_vzenith_http_push() -> None:
    read = vzenith.parse(fixture("vzenith/http_plate_entry.json"))
    assert read.dedupe_key == "vzenith:8fcd1c4e-20ca9ecb:21085"
    assert read.device_code == "8fcd1c4e-20ca9ecb"
    assert read.plate is not None and read.plate.number == "浙B12345"
    assert (read.plate_colour, read.vehicle_type, read.vehicle_colour) == (
        PlateColour.BLUE,
        "sedan",
        "white",
    )
    assert read.device_time == datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    assert read.image_ref == "/snapshot/lpr/tri_snap_21085.jpg"
    assert not read.offline


def test_vzenith_mqtt_message_with_a_base64_plate() -> None:
    read = vzenith.parse(fixture("vzenith/mqtt_ivs_result.json"), device_code="CAM-1")
    assert read.plate is not None and read.plate.number == "浙BD12345"
    assert (read.plate_colour, read.vehicle_type, read.vehicle_colour) == (
        PlateColour.GREEN,
        "suv",
        "black",
    )
    assert read.device_code == "CAM-1"


def test_vzenith_no_plate_and_offline_records() -> None:
    assert vzenith.parse(fixture("vzenith/http_no_plate.json")).plate is None
    offline = vzenith.parse(fixture("vzenith/http_offline_record.json"))
    assert offline.offline
    assert vzenith.reply(offline, None) == {
        "Response_AlarmInfoPlate": {"ContinuePushOffline": {"plateid": 20988, "continue": 1}}
    }


def test_a_resend_has_the_same_key() -> None:
    push = fixture("vzenith/http_plate_entry.json")
    assert vzenith.parse(push).dedupe_key == vzenith.parse(json.loads(json.dumps(push))).dedupe_key


def test_vzenith_reply_opens_only_when_the_decision_does() -> None:
    read = vzenith.parse(fixture("vzenith/http_plate_exit.json"))
    opened = vzenith.reply(read, Decision(LaneAction.OPEN, "exit_pass", "一路顺风"))
    answer = opened["Response_AlarmInfoPlate"]
    assert (answer["info"], answer["plateid"]) == ("ok", 21090)
    voice = answer["playserver_json_request"]["voice"]
    assert base64.b64decode(voice).decode("utf-8") == "一路顺风"
    paying = vzenith.reply(read, Decision(LaneAction.PAY, "fee_due", "请缴费6.00元"))
    assert paying["Response_AlarmInfoPlate"]["info"] == "no"


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"AlarmInfoPlate": []},
        {"AlarmInfoPlate": {"result": {"PlateResult": {"license": "浙B12345"}}, "serialno": "s"}},
        {
            "AlarmInfoPlate": {
                "result": {
                    "PlateResult": {"license": "NOTAPLATE", "timeStamp": {"Timeval": {"sec": 5}}}
                },
                "serialno": "s",
            }
        },
    ],
)
def test_vzenith_refuses_broken_pushes(broken: Any) -> None:
    with pytest.raises(ValidationFailedError):
        vzenith.parse(broken)
