"""Events of lane devices in gated lots: plate reads, gate states and intercom calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from core.plate_matching import VehicleLook
from core.plates import Plate, PlateColour


def plausible_confidence(value: Any) -> int | None:
    """A camera's confidence when it is a percentage; vendors send other scales or junk."""
    return value if isinstance(value, int) and 0 <= value <= 100 else None


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError("device_time must be timezone-aware")


@dataclass(frozen=True, slots=True)
class LaneRead:
    """A camera at a lane read a plate (or saw a car without one: `plate` None)."""

    dedupe_key: str
    vendor: str
    device_code: str
    device_time: datetime
    plate: Plate | None
    plate_colour: PlateColour | None = None
    vehicle_type: str | None = None
    vehicle_colour: str | None = None
    confidence: int | None = None
    image_ref: str | None = None
    offline: bool = False  # recorded while the centre was unreachable, sent later (断点续传)
    payload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _require_aware(self.device_time)

    @property
    def look(self) -> VehicleLook:
        """What the camera saw besides the plate text."""
        colour = self.plate_colour.value if self.plate_colour else None
        return VehicleLook(colour, self.vehicle_type, self.vehicle_colour)


class GateState(StrEnum):
    """What a barrier reports about itself."""

    OPENED = "opened"
    CLOSED = "closed"
    FAULT = "fault"  # stuck, hit, or the arm is off


@dataclass(frozen=True, slots=True)
class GateReport:
    """A barrier's state change."""

    dedupe_key: str
    vendor: str
    device_code: str
    device_time: datetime
    state: GateState
    payload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _require_aware(self.device_time)


@dataclass(frozen=True, slots=True)
class IntercomCall:
    """A driver pressed the lane's call button."""

    dedupe_key: str
    vendor: str
    device_code: str
    device_time: datetime
    payload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _require_aware(self.device_time)


LaneEvent = LaneRead | GateReport | IntercomCall

# Vehicle types and colours in the words the platform uses; parsers map vendor codes to them.
VehicleType = Literal["sedan", "suv", "mpv", "minibus", "bus", "small_truck", "truck", "motorcycle"]
VehicleColour = Literal[
    "white", "silver", "yellow", "pink", "red", "green", "blue", "brown", "black"
]
