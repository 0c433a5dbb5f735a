"""Vzenith (臻识) ANPR cameras: the `AlarmInfoPlate` push over HTTP and MQTT, and the reply.

Follows Vzenith's published protocol (docs/lanes.md cites it): over HTTP the camera POSTs
`{"AlarmInfoPlate": {..., "result": {"PlateResult": {...}}, "serialno": ...}}` and reads the
gate decision from the reply `{"Response_AlarmInfoPlate": {"info": "ok", ...}}`; over MQTT the
same object arrives as the `payload` of a message on `device/{sn}/message/up/ivs_result`, with
the plate text base64-encoded. Offline records (`isoffline` 1) are resent with the same
`plateid`, which is the dedupe key.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from core.errors import ValidationFailedError
from core.lane_events import LaneRead, VehicleColour, VehicleType, plausible_confidence
from core.lanes import Decision
from core.plates import InvalidPlateError, PlateColour, parse_plate
from device_bridge.formats.lane_controls import LaneControls
from server.input_limits import check_event_ids, check_json, epoch_time

VENDOR = "vzenith"
NO_PLATE_TEXTS = frozenset({"", "_无_", "无牌车", "无车牌"})
NO_PLATE_TYPE = 31

# Vzenith code tables (protocol §3.3 plate colour, §3.4 body colour, §3.6 vehicle type).
PLATE_COLOURS: dict[int, PlateColour] = {
    1: PlateColour.BLUE,
    2: PlateColour.YELLOW,
    3: PlateColour.WHITE,
    4: PlateColour.BLACK,
    5: PlateColour.GREEN,
    6: PlateColour.LIMEGREEN,
}
BODY_COLOURS: dict[int, VehicleColour] = {
    0: "white",
    1: "silver",
    2: "yellow",
    3: "pink",
    4: "red",
    5: "green",
    6: "blue",
    7: "brown",
    8: "black",
}
VEHICLE_TYPES: dict[int, VehicleType] = {
    1: "sedan",
    2: "suv",
    3: "mpv",
    4: "minibus",
    5: "bus",
    6: "small_truck",
    7: "truck",
}


def _fail(detail: str) -> ValidationFailedError:
    return ValidationFailedError("臻识识别结果格式有误", detail=detail)


def _object(data: Any, name: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _fail(f"{name} is not an object")
    return data


def alarm_of(message: Any) -> dict[str, Any]:
    """The AlarmInfoPlate object of an HTTP push or of an MQTT ivs_result message."""
    data = _object(message, "message")
    if "payload" in data:  # the MQTT envelope
        data = _object(data["payload"], "payload")
    return _object(data.get("AlarmInfoPlate"), "AlarmInfoPlate")


def parse(message: Any, *, device_code: str | None = None) -> LaneRead:
    """Turn an AlarmInfoPlate push into a LaneRead; the device defaults to the serial number."""
    check_json(message)
    alarm = alarm_of(message)
    result = _object(_object(alarm.get("result"), "result").get("PlateResult"), "PlateResult")
    serial = str(alarm.get("serialno") or "")
    if not serial and not device_code:
        raise _fail("no serialno")
    moment = _moment(result)
    plate_id = result.get("plateid")
    event_id = str(plate_id) if plate_id is not None else moment.isoformat()
    text = _licence(result.get("license"))
    plate = None
    if text not in NO_PLATE_TEXTS and result.get("type") != NO_PLATE_TYPE:
        try:
            plate = parse_plate(text)
        except InvalidPlateError:
            raise _fail(f"licence {text!r} is not a plate") from None
    device = device_code or serial
    dedupe_key = check_event_ids(f"{VENDOR}:{serial or device_code}:{event_id}", device)
    return LaneRead(
        dedupe_key=dedupe_key,
        vendor=VENDOR,
        device_code=device,
        device_time=moment,
        plate=plate,
        plate_colour=PLATE_COLOURS.get(_int(result.get("colorType"))) if plate else None,
        vehicle_type=VEHICLE_TYPES.get(_int(_object_or_empty(result.get("car_brand")).get("type"))),
        vehicle_colour=BODY_COLOURS.get(_int(result.get("carColor"))),
        confidence=plausible_confidence(result.get("confidence")),
        image_ref=_image(result),
        offline=bool(result.get("isoffline")),
        payload=_without_images(message),
    )


def _licence(value: Any) -> str:
    """The plate text: plain over HTTP, base64 of UTF-8 over the cloud MQTT protocol."""
    text = str(value or "").strip()
    if not text or not text.isascii() or text in NO_PLATE_TEXTS:
        return text
    try:
        decoded = base64.b64decode(text, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return text
    return decoded if decoded and not decoded.isascii() else text


def _moment(result: dict[str, Any]) -> datetime:
    timeval = _object_or_empty(_object_or_empty(result.get("timeStamp")).get("Timeval"))
    seconds = timeval.get("sec")
    if not isinstance(seconds, int) or seconds <= 0:
        raise _fail("no timeStamp.Timeval.sec")
    return epoch_time(seconds, "timeStamp.Timeval.sec")


def _image(result: dict[str, Any]) -> str | None:
    for key in ("imagePath", "imageRelativePath", "imageAbsolutePath"):
        value = result.get(key)
        if isinstance(value, str) and value and len(value) <= 256:
            return value
    return None


def _int(value: Any) -> int:
    return value if isinstance(value, int) else -1


def _object_or_empty(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _without_images(message: Any) -> dict[str, Any]:
    """The push as kept in the event log, without inline base64 images."""
    drop = {"imageFile", "imageFragmentFile", "full_image_content", "small_image_content"}

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in drop}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    stripped = strip(message)
    return stripped if isinstance(stripped, dict) else {}


def reply(
    read: LaneRead, decision: Decision | None, controls: LaneControls | None = None
) -> dict[str, Any]:
    """The HTTP reply the camera acts on: `info` "ok" lifts the barrier, the voice speaks and
    `serialData` goes out of the camera's RS-485 port to the lane's LED controller."""
    plate_id = _plate_id(read.payload)
    if read.offline:
        # An offline record only needs the acknowledgement that asks for the next one.
        return {
            "Response_AlarmInfoPlate": {"ContinuePushOffline": {"plateid": plate_id, "continue": 1}}
        }
    answer: dict[str, Any] = {
        "info": "ok" if decision is not None and decision.opens else "no",
        "plateid": plate_id,
        "content": decision.display_zh if decision else "",
        "is_pay": "true" if decision is not None and decision.opens else "false",
    }
    voice = controls.texts.voice if controls else decision.display_zh if decision else None
    if decision is not None and voice:
        answer["playserver_json_request"] = {
            "type": "ps_voice_play",
            "voice": base64.b64encode(voice.encode("utf-8")).decode("ascii"),
            "voice_interval": 0,
            "voice_volume": controls.profile.volume if controls else 100,
            "voice_male": 1,
        }
    if controls is not None and controls.frames:
        answer["serialData"] = controls.serial_data()
    return {"Response_AlarmInfoPlate": answer}


def _plate_id(payload: dict[str, Any]) -> Any:
    try:
        return alarm_of(payload)["result"]["PlateResult"].get("plateid")
    except (KeyError, TypeError, ValidationFailedError):
        return None
