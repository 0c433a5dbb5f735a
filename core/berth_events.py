"""Berth sensor and video events as the domain sees them, whatever the vendor."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.plates import Plate, PlateColour


class BerthState(StrEnum):
    """What a sensor says about its berth."""

    OCCUPIED = "occupied"
    VACATED = "vacated"


@dataclass(frozen=True, slots=True)
class BerthEvent:
    """A berth became occupied or vacated, as a device saw it at device_time."""

    dedupe_key: str
    vendor: str
    device_code: str
    berth_code: str
    state: BerthState
    device_time: datetime
    plate: Plate | None = None
    plate_colour: PlateColour | None = None
    image_ref: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.device_time.tzinfo is None:
            raise ValueError("device_time must be timezone-aware")


class EventOutcome(StrEnum):
    """What became of an event."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    REVIEW = "review"
