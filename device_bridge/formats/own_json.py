"""Parsers of the project's own device JSON (docs/devices.md), version 1."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from core.berth_events import BerthEvent, BerthState
from core.device_events import DeviceFault, Heartbeat, PlateRead, event_key
from core.errors import DomainError, ValidationFailedError
from core.plates import parse_plate, parse_plate_colour
from server.http import parse_model

VENDOR = "own"
MAX_BATCH = 500
T = TypeVar("T")

Code = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
# The health row keeps 32 characters of a fault code.
FaultCode = Annotated[str, StringConstraints(min_length=1, max_length=32, strip_whitespace=True)]
ImageRef = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class _Common(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_id: Code = Field(description="unique per device; a resend repeats it")
    device: Code = Field(description="device serial number")
    device_time: AwareDatetime = Field(description="ISO 8601 with offset, device clock")


class BerthEventPayload(_Common):
    """A berth sensor or video event in the project's own format."""

    berth: Code = Field(description="berth code, e.g. HS1-001")
    state: Literal["occupied", "vacated"]
    plate: str | None = Field(None, max_length=16, description="plate read by video, if any")
    plate_colour: str | None = Field(None, description="BLUE, GREEN, YELLOW, ...")
    image: str | None = Field(None, max_length=256, description="image reference")


class BerthEventBatchPayload(BaseModel):
    """Berth events a sensor gateway or IoT platform forwards together (one transaction)."""

    model_config = ConfigDict(extra="ignore")

    events: list[BerthEventPayload] = Field(min_length=1, max_length=MAX_BATCH)


class PlateReadPayload(_Common):
    """Video read a plate at a berth, or outside any berth when `berth` is absent."""

    berth: Code | None = Field(None, description="berth code; absent outside any berth")
    location: str = Field("", max_length=128, description="where, when outside any berth")
    plate: str | None = Field(None, max_length=16, description="absent when unreadable")
    plate_colour: str | None = Field(None, description="BLUE, GREEN, YELLOW, ...")
    images: list[ImageRef] = Field(default_factory=list, max_length=8)


class HeartbeatPayload(_Common):
    """A device's periodic sign of life."""

    battery_pct: int | None = Field(None, ge=0, le=100)
    signal_dbm: int | None = Field(None, ge=-150, le=0)


class FaultPayload(_Common):
    """A device fault raised, or cleared with `cleared: true`."""

    code: FaultCode = Field(description="vendor fault code, e.g. MAG_DRIFT")
    description: str = Field("", max_length=256)
    cleared: bool = False


def parse(payload: Any) -> BerthEvent:
    """Turn a decoded JSON berth event into a BerthEvent; bad input raises a 400 error."""
    return to_event(parse_model(BerthEventPayload, payload))


def to_event(body: BerthEventPayload) -> BerthEvent:
    """Turn a validated payload into a BerthEvent; a malformed plate raises a 400 error."""
    plate = parse_plate(body.plate) if body.plate else None
    colour = parse_plate_colour(body.plate_colour, plate) if plate else None
    return BerthEvent(
        dedupe_key=_key("berth", body),
        vendor=VENDOR,
        device_code=body.device,
        berth_code=body.berth,
        state=BerthState(body.state),
        device_time=body.device_time,
        plate=plate,
        plate_colour=colour,
        image_ref=body.image,
        payload=body.model_dump(mode="json"),
    )


def to_events(body: BerthEventBatchPayload) -> list[BerthEvent | DomainError]:
    """Turn a validated batch into events; an event with a malformed plate is refused alone."""
    return [_event_or_refusal(to_event, item) for item in body.events]


def parse_batch(payload: Any) -> list[BerthEvent | DomainError]:
    """Turn a decoded JSON batch into events, each item checked on its own (MQTT: one bad
    event must not cost the others, which would be acknowledged and gone)."""
    items = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
        raise ValidationFailedError("请求参数有误：events", detail=f"1 to {MAX_BATCH} events")
    return [_event_or_refusal(parse, item) for item in items]


def _event_or_refusal(make: Callable[[T], BerthEvent], item: T) -> BerthEvent | DomainError:
    try:
        return make(item)
    except DomainError as exc:
        return exc


def parse_plate_read(payload: Any) -> PlateRead:
    """Turn a decoded JSON plate read into a PlateRead."""
    return to_plate_read(parse_model(PlateReadPayload, payload))


def to_plate_read(body: PlateReadPayload) -> PlateRead:
    """Turn a validated plate read into the domain event."""
    plate = parse_plate(body.plate) if body.plate else None
    return PlateRead(
        dedupe_key=_key("plate", body),
        vendor=VENDOR,
        device_code=body.device,
        device_time=body.device_time,
        plate=plate,
        berth_code=body.berth,
        location=body.location,
        plate_colour=parse_plate_colour(body.plate_colour, plate) if plate else None,
        image_refs=tuple(body.images),
        payload=body.model_dump(mode="json"),
    )


def parse_heartbeat(payload: Any) -> Heartbeat:
    """Turn a decoded JSON heartbeat into a Heartbeat."""
    return to_heartbeat(parse_model(HeartbeatPayload, payload))


def to_heartbeat(body: HeartbeatPayload) -> Heartbeat:
    """Turn a validated heartbeat into the domain event."""
    return Heartbeat(
        dedupe_key=_key("heartbeat", body),
        vendor=VENDOR,
        device_code=body.device,
        device_time=body.device_time,
        battery_pct=body.battery_pct,
        signal_dbm=body.signal_dbm,
        payload=body.model_dump(mode="json"),
    )


def parse_fault(payload: Any) -> DeviceFault:
    """Turn a decoded JSON fault report into a DeviceFault."""
    return to_fault(parse_model(FaultPayload, payload))


def to_fault(body: FaultPayload) -> DeviceFault:
    """Turn a validated fault report into the domain event."""
    return DeviceFault(
        dedupe_key=_key("fault", body),
        vendor=VENDOR,
        device_code=body.device,
        device_time=body.device_time,
        fault_code=body.code,
        description=body.description,
        cleared=body.cleared,
        payload=body.model_dump(mode="json"),
    )


def _key(scope: str, body: _Common) -> str:
    return event_key(VENDOR, scope, body.device, body.event_id)
