"""Dahua (大华) ITC entrance cameras: the ITSAPI "TollgateInfo" JSON push of a plate read.

Followed: Dahua ITSAPI platform access (ITC cameras, protocol V1.19, "平台接入 / HTTP 推送"):
the camera POSTs `{"Picture": {"SnapInfo", "Plate", "Vehicle", "NormalPic", "CutoutPic"}}` to
`/NotificationInfo/TollgateInfo` on the platform and resends until the answer carries
`{"Result": true}`. Pictures come inline as base64 `Content`. docs/devices.md has the mapping.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from core.errors import ValidationFailedError
from core.lane_events import LaneRead, plausible_confidence
from core.plates import InvalidPlateError, parse_plate
from device_bridge.formats.vendor_names import body_colour, plate_colour
from server.input_limits import check_event_ids, check_json, check_scalar, epoch_time

VENDOR = "dahua"
NO_PLATE_TEXTS = frozenset({"", "无车牌", "无牌车", "unknown"})
# AccurateTime is the camera's local clock; cameras on the mainland run at UTC+8.
CAMERA_ZONE = timezone(timedelta(hours=8))
PICTURES = ("CutoutPic", "NormalPic")  # the plate cut-out first: it is the read's image


@dataclass(frozen=True, slots=True)
class ParsedSnap:
    """The lane read of one push and its pictures (ref -> JPEG bytes)."""

    read: LaneRead
    images: dict[str, bytes] = field(default_factory=dict)


ACK: dict[str, Any] = {"Result": True}  # the answer that stops the camera resending


def _fail(detail: str) -> ValidationFailedError:
    return ValidationFailedError("大华识别结果格式有误", detail=detail)


def _object(data: Any, name: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _fail(f"{name} is not an object")
    return data


def parse(message: Any, *, device_code: str) -> ParsedSnap:
    """Turn a TollgateInfo push into a lane read of `device_code`."""
    check_json(message)
    picture = _object(_object(message, "message").get("Picture"), "Picture")
    snap = _object(picture.get("SnapInfo"), "SnapInfo")
    plate_info = _object(picture.get("Plate", {}), "Plate")
    vehicle = _part(picture, "Vehicle")
    moment = _moment(snap)
    serial = str(snap.get("DeviceID") or device_code)
    event_id = plate_info.get("UploadNum")
    event = str(event_id) if isinstance(event_id, int) else moment.isoformat()
    text = str(plate_info.get("PlateNumber") or "").strip()
    plate = None
    if plate_info.get("IsExist", True) is not False and text not in NO_PLATE_TEXTS:
        try:
            plate = parse_plate(text)
        except InvalidPlateError:
            raise _fail(f"PlateNumber {text!r} is not a plate") from None
    images = _pictures(picture)
    return ParsedSnap(
        LaneRead(
            dedupe_key=check_event_ids(f"{VENDOR}:{serial}:{event}", device_code),
            vendor=VENDOR,
            device_code=device_code,
            device_time=moment,
            plate=plate,
            plate_colour=plate_colour(plate_info.get("PlateColor")) if plate else None,
            vehicle_colour=body_colour(vehicle.get("VehicleColor")),
            confidence=plausible_confidence(plate_info.get("Confidence")),
            image_ref=next(iter(images), None),
            offline=bool(snap.get("OfflineData")),
            payload=_without_pictures(message),
        ),
        images,
    )


def _part(picture: dict[str, Any], name: str) -> dict[str, Any]:
    found = picture.get(name)
    return found if isinstance(found, dict) else {}


def _moment(snap: dict[str, Any]) -> datetime:
    seconds = snap.get("UTC")
    if isinstance(seconds, int) and seconds > 0:
        return epoch_time(seconds, "SnapInfo.UTC")
    text = str(snap.get("AccurateTime") or "")
    try:
        moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f")
    except ValueError:
        try:
            moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            raise _fail(f"SnapInfo.AccurateTime {text!r}") from None
    moment = moment.replace(tzinfo=CAMERA_ZONE)
    check_scalar(moment, "SnapInfo.AccurateTime")
    return moment


def _pictures(picture: dict[str, Any]) -> dict[str, bytes]:
    images: dict[str, bytes] = {}
    for name in PICTURES:
        content = (
            picture.get(name, {}).get("Content") if isinstance(picture.get(name), dict) else None
        )
        if not isinstance(content, str) or not content:
            continue
        try:
            data = base64.b64decode(content, validate=True)
        except binascii.Error:
            raise _fail(f"{name}.Content is not base64") from None
        images["sha256:" + hashlib.sha256(data).hexdigest()] = data
    return images


def _without_pictures(message: dict[str, Any]) -> dict[str, Any]:
    """The push as kept in the event log, without the inline pictures."""
    picture = {
        k: ({n: v for n, v in part.items() if n != "Content"} if isinstance(part, dict) else part)
        for k, part in message["Picture"].items()
    }
    return {**message, "Picture": picture}
