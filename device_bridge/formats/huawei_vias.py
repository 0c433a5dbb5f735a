"""Parser of Huawei Cloud VIAS "abnormal parking" (异常停车, event_type 74240) webhook pushes.

Followed: Huawei Cloud Video Intelligent Analysis Service API reference, "异常停车 / Abnormal
Parking" output (support.huaweicloud.com/vias-api/zh-cn_topic_0000001504680405.html): fields
event_type, alarm_type (0 alarm, 1 event gone), task_id, stream_id, timestamp (Unix seconds),
message_id, image_base64 and data.vehicles[] with license_plate_id, license_plate_type,
detection_id, polygon_name, bounding_box. See docs/devices.md for how ROIs map to berths.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.device_events import PlateRead
from core.errors import ValidationFailedError
from core.plates import InvalidPlateError, Plate, parse_plate
from server.http import parse_model
from server.input_limits import check_event_ids, epoch_time

VENDOR = "huawei-vias"
ABNORMAL_PARKING = 74240
BERTH_ROI_PREFIX = "berth:"


class Vehicle(BaseModel):
    """One vehicle of an abnormal-parking alarm."""

    model_config = ConfigDict(extra="ignore")

    license_plate_id: str = Field("", max_length=32)
    license_plate_type: int | None = None
    detection_id: str = Field(min_length=1, max_length=64)
    polygon_name: str = Field("", max_length=128)


class AlarmData(BaseModel):
    """The `data` object: vehicles of an alarm, or the detections that ended."""

    model_config = ConfigDict(extra="ignore")

    vehicles: list[Vehicle] = Field(default_factory=list, max_length=64)
    event_set: list[dict[str, Any]] = Field(default_factory=list, max_length=64)


class AbnormalParkingPush(BaseModel):
    """One VIAS push as documented by Huawei Cloud."""

    model_config = ConfigDict(extra="ignore")

    event_type: Literal[74240]
    alarm_type: Literal[0, 1] = 0
    task_id: str = Field("", max_length=64)
    stream_id: str = Field(min_length=1, max_length=128)
    timestamp: int = Field(gt=0)
    message_id: str = Field(min_length=1, max_length=64)
    image_base64: str | None = None
    data: AlarmData


@dataclass(frozen=True, slots=True)
class ParsedPush:
    """Plate reads of one push and the images they refer to (ref -> JPEG bytes)."""

    reads: list[PlateRead]
    images: dict[str, bytes] = field(default_factory=dict)


def parse(payload: Any) -> ParsedPush:
    """Turn a decoded VIAS push into plate reads; an "event gone" push yields none."""
    push = parse_model(AbnormalParkingPush, payload)
    if push.alarm_type == 1:
        # The push names detection ids only; the berth sensor reports the departure.
        return ParsedPush([])
    images: dict[str, bytes] = {}
    refs: tuple[str, ...] = ()
    if push.image_base64:
        image = _decode_image(push.image_base64)
        ref = "sha256:" + hashlib.sha256(image).hexdigest()
        images[ref] = image
        refs = (ref,)
    moment = epoch_time(push.timestamp, "timestamp")
    stored = push.model_dump(mode="json", exclude={"image_base64"})
    reads = []
    for vehicle in push.data.vehicles:
        roi = vehicle.polygon_name.strip()
        in_berth = roi.startswith(BERTH_ROI_PREFIX)
        key = f"{VENDOR}:{push.stream_id}:{vehicle.detection_id}"
        reads.append(
            PlateRead(
                dedupe_key=check_event_ids(key, push.stream_id),
                vendor=VENDOR,
                device_code=push.stream_id,
                device_time=moment,
                plate=_plate(vehicle.license_plate_id),
                berth_code=roi[len(BERTH_ROI_PREFIX) :] if in_berth else None,
                location="" if in_berth else roi,
                image_refs=refs,
                payload=stored,
            )
        )
    return ParsedPush(reads, images)


def _plate(text: str) -> Plate | None:
    """The read plate, or None when the camera could not read a valid one."""
    if not text.strip():
        return None
    try:
        return parse_plate(text)
    except InvalidPlateError:
        return None


def _decode_image(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationFailedError("图片数据格式有误", detail=str(exc)) from None
