"""Parser of the project's own berth-event JSON (docs/devices.md), version 1."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from core.berth_events import BerthEvent, BerthState
from core.plates import parse_plate, parse_plate_colour
from server.http import parse_model

VENDOR = "own"

Code = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]


class BerthEventPayload(BaseModel):
    """A berth sensor or video event in the project's own format."""

    model_config = ConfigDict(extra="ignore")

    event_id: Code = Field(description="unique per device; a resend repeats it")
    device: Code = Field(description="device serial number")
    berth: Code = Field(description="berth code, e.g. HS1-001")
    state: Literal["occupied", "vacated"]
    device_time: AwareDatetime = Field(description="ISO 8601 with offset, device clock")
    plate: str | None = Field(None, max_length=16, description="plate read by video, if any")
    plate_colour: str | None = Field(None, description="BLUE, GREEN, YELLOW, ...")
    image: str | None = Field(None, max_length=256, description="image reference")


def parse(payload: Any) -> BerthEvent:
    """Turn a decoded JSON payload into a BerthEvent; bad input raises a 400 error."""
    return to_event(parse_model(BerthEventPayload, payload))


def to_event(body: BerthEventPayload) -> BerthEvent:
    """Turn a validated payload into a BerthEvent; a malformed plate raises a 400 error."""
    plate = parse_plate(body.plate) if body.plate else None
    colour = parse_plate_colour(body.plate_colour, plate) if plate else None
    return BerthEvent(
        dedupe_key=f"{VENDOR}:{body.device}:{body.event_id}",
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
