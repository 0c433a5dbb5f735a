"""Parsers of the project's own lane JSON (docs/lanes.md), version 1."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from core.device_events import event_key
from core.lane_events import (
    GateReport,
    GateState,
    IntercomCall,
    LaneRead,
    VehicleColour,
    VehicleType,
)
from core.plates import parse_plate, parse_plate_colour
from server.http import parse_model
from server.input_limits import INT32_MAX, check_event_ids

VENDOR = "own"

Code = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]


class _Common(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_id: Code = Field(description="unique per device; a resend repeats it")
    device: Code = Field(description="device code, e.g. LOT-HOSP-X1-anpr_camera")
    device_time: AwareDatetime = Field(description="ISO 8601 with offset, device clock")


class OfflineDecisionPayload(BaseModel):
    """A lane agent's own decision for a read it took while the centre was unreachable."""

    model_config = ConfigDict(extra="ignore")

    action: Literal["open", "refuse", "hold"]
    reason: Code
    display: str | None = Field(None, max_length=128)
    access: str | None = Field(None, max_length=16)
    fee_fen: int | None = Field(None, ge=0, description="priced with tariff_version")
    tariff_version: int | None = Field(None, ge=1, le=INT32_MAX)


class LaneReadPayload(_Common):
    """A camera at a lane read a plate; `plate` absent means a car without plates (无牌车)."""

    plate: str | None = Field(None, max_length=16)
    plate_colour: str | None = Field(None, description="BLUE, GREEN, YELLOW, BLACK, WHITE, ...")
    vehicle_type: VehicleType | None = None
    vehicle_colour: VehicleColour | None = None
    confidence: int | None = Field(None, ge=0, le=100)
    image: str | None = Field(None, max_length=256, description="image reference")
    offline: bool = Field(False, description="recorded while the centre was unreachable")
    offline_decision: OfflineDecisionPayload | None = Field(
        None, description="what a lane agent did on its own while offline (kept with the read)"
    )


class GatePayload(_Common):
    """A barrier reports its state."""

    state: Literal["opened", "closed", "fault"]


class IntercomPayload(_Common):
    """A driver pressed the lane's call button."""


def parse_read(payload: Any) -> LaneRead:
    """Turn a decoded JSON lane read into a LaneRead; bad input raises a 400 error."""
    return to_read(parse_model(LaneReadPayload, payload))


def to_read(body: LaneReadPayload) -> LaneRead:
    """Turn a validated lane read into the domain event."""
    plate = parse_plate(body.plate) if body.plate else None
    return LaneRead(
        dedupe_key=_key(body),
        vendor=VENDOR,
        device_code=body.device,
        device_time=body.device_time,
        plate=plate,
        plate_colour=parse_plate_colour(body.plate_colour, plate) if plate else None,
        vehicle_type=body.vehicle_type,
        vehicle_colour=body.vehicle_colour,
        confidence=body.confidence,
        image_ref=body.image,
        offline=body.offline,
        payload=body.model_dump(mode="json"),
    )


def to_gate(body: GatePayload) -> GateReport:
    """Turn a validated gate report into the domain event."""
    return GateReport(
        event_key(VENDOR, "gate", body.device, body.event_id),
        VENDOR,
        body.device,
        body.device_time,
        GateState(body.state),
        body.model_dump(mode="json"),
    )


def to_intercom(body: IntercomPayload) -> IntercomCall:
    """Turn a validated intercom call into the domain event."""
    return IntercomCall(
        event_key(VENDOR, "intercom", body.device, body.event_id),
        VENDOR,
        body.device,
        body.device_time,
        body.model_dump(mode="json"),
    )


def _key(body: _Common) -> str:
    # Reads have a table of their own (lane_passages): no other kind shares their keys, and
    # lane agents' journals already hold them in this form.
    return check_event_ids(f"{VENDOR}:{body.device}:{body.event_id}", body.device)
