"""Hikvision (海康威视) ANPR cameras: the ISAPI `EventNotificationAlert` push with `ANPR`.

Followed: Hikvision ISAPI "Event Notification" (HTTP listening / alarm host push): the camera
POSTs `multipart/form-data` to the platform with one XML part (`EventNotificationAlert`,
namespace http://www.isapi.org/ver20/XMLSchema, `eventType` ANPR) and the pictures named in
`ANPR/pictureInfoList` (`licensePlatePicture.jpg`, `detectionPicture.jpg`) as image/jpeg parts;
some firmwares send the bare XML instead. docs/devices.md has the field mapping.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from core.errors import DomainError, ValidationFailedError
from core.lane_events import LaneRead, VehicleType, plausible_confidence
from core.plates import InvalidPlateError, parse_plate
from device_bridge.formats.vendor_names import body_colour, plate_colour
from server.input_limits import check_event_ids, check_scalar

VENDOR = "hikvision"
NO_PLATE_TEXTS = frozenset({"", "无车牌", "车牌", "unknown", "无牌车"})
PLATE_PICTURE = "licensePlatePicture"
MAX_XML_BYTES = 256 * 1024

VEHICLE_TYPES: dict[str, VehicleType] = {
    "vehicle": "sedan",
    "SUVMPV": "suv",
    "smallCar": "sedan",
    "minibus": "minibus",
    "largeBus": "bus",
    "bus": "bus",
    "pickupTruck": "small_truck",
    "lightTruck": "small_truck",
    "truck": "truck",
    "largeTruck": "truck",
    "motorVehicle": "sedan",
    "twoWheelVehicle": "motorcycle",
}


@dataclass(frozen=True, slots=True)
class ParsedAlarm:
    """The lane read of one alarm and its pictures (ref -> JPEG bytes)."""

    read: LaneRead
    images: dict[str, bytes] = field(default_factory=dict)


class UnsupportedAlarmMediaError(DomainError):
    """An alarm that is neither multipart/form-data nor XML."""

    code = "unsupported_media_type"
    status = 415
    message_zh = "海康报警须为 multipart/form-data 或 XML"


def _fail(detail: str) -> ValidationFailedError:
    return ValidationFailedError("海康识别结果格式有误", detail=detail)


def parse(body: bytes, content_type: str, *, device_code: str) -> ParsedAlarm:
    """Turn an ISAPI ANPR push (multipart or bare XML; `content_type` the whole header, with
    the boundary) into a lane read of `device_code`."""
    xml, pictures = _split(body, content_type)
    alert = _root(xml)
    if _text(alert, "eventType") != "ANPR":
        raise _fail(f"eventType {_text(alert, 'eventType')!r} is not ANPR")
    anpr = _child(alert, "ANPR")
    if anpr is None:
        raise _fail("no ANPR element")
    moment = _moment(_text(alert, "dateTime"))
    event_id = _text(alert, "UUID") or f"{_text(alert, 'channelID')}:{moment.isoformat()}"
    check_scalar(event_id, "UUID")
    text = _text(anpr, "licensePlate")
    plate = None
    if text not in NO_PLATE_TEXTS:
        try:
            plate = parse_plate(text)
        except InvalidPlateError:
            raise _fail(f"licensePlate {text!r} is not a plate") from None
    images = {"sha256:" + hashlib.sha256(data).hexdigest(): data for data in pictures.values()}
    plate_picture = next((d for n, d in pictures.items() if n.startswith(PLATE_PICTURE)), None)
    image_ref = "sha256:" + hashlib.sha256(plate_picture).hexdigest() if plate_picture else None
    vehicle = _child(anpr, "vehicleInfo")
    return ParsedAlarm(
        LaneRead(
            dedupe_key=check_event_ids(f"{VENDOR}:{device_code}:{event_id}", device_code),
            vendor=VENDOR,
            device_code=device_code,
            device_time=moment,
            plate=plate,
            plate_colour=plate_colour(_text(anpr, "plateColor")) if plate else None,
            vehicle_type=VEHICLE_TYPES.get(_text(anpr, "vehicleType")),
            vehicle_colour=body_colour(_text(vehicle, "color")) if vehicle else None,
            confidence=plausible_confidence(_int(_text(anpr, "confidenceLevel"))),
            image_ref=image_ref,
            offline=_text(alert, "isDataRetransmission") == "true",
            payload={"xml": xml.decode("utf-8", errors="replace")[:8192]},
        ),
        images,
    )


def _split(body: bytes, content_type: str) -> tuple[bytes, dict[str, bytes]]:
    """The XML part and the pictures by file name; `content_type` is the whole header."""
    media = content_type.split(";", 1)[0].strip().lower()
    if not media.startswith("multipart/"):
        if media not in ("application/xml", "text/xml"):
            raise UnsupportedAlarmMediaError(detail=content_type)
        return body, {}
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    xml: bytes | None = None
    pictures: dict[str, bytes] = {}
    for part in message.iter_parts() if message.is_multipart() else ():
        assert isinstance(part, Message)
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            continue
        name = part.get_filename() or part.get_param("name", header="content-disposition") or ""
        kind = part.get_content_type()
        if kind.endswith("/xml") or str(name).endswith(".xml"):
            xml = data
        elif kind.startswith("image/"):
            pictures[str(name)] = data
    if xml is None:
        raise _fail("no XML part")
    return xml, pictures


def _root(xml: bytes) -> Element:
    if len(xml) > MAX_XML_BYTES:
        raise _fail("XML too large")
    try:
        root: Element = ElementTree.fromstring(xml)
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise _fail(f"XML: {exc}") from None
    for element in root.iter():  # the ISAPI namespace varies by firmware: match local names
        element.tag = element.tag.rsplit("}", 1)[-1]
    if root.tag != "EventNotificationAlert":
        raise _fail(f"root {root.tag!r}")
    return root


def _child(parent: Element, name: str) -> Element | None:
    return parent.find(name)


def _text(parent: Element, name: str) -> str:
    found = parent.find(name)
    return (found.text or "").strip() if found is not None else ""


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _fail(f"dateTime {text!r}") from None
    if moment.tzinfo is None:
        raise _fail("dateTime has no offset")
    check_scalar(moment, "dateTime")
    return moment
