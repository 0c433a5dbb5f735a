"""Device events other than berth state changes: video plate reads, heartbeats and faults."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.berth_events import BerthEvent
from core.plates import Plate, PlateColour


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError("device_time must be timezone-aware")


@dataclass(frozen=True, slots=True)
class PlateRead:
    """Video read a plate, at a berth or at a place outside any berth (`berth_code` None)."""

    dedupe_key: str
    vendor: str
    device_code: str
    device_time: datetime
    plate: Plate | None
    berth_code: str | None = None
    location: str = ""
    plate_colour: PlateColour | None = None
    image_refs: tuple[str, ...] = ()
    payload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _require_aware(self.device_time)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A device says it is alive, with its battery and radio signal when it knows them."""

    dedupe_key: str
    vendor: str
    device_code: str
    device_time: datetime
    battery_pct: int | None = None
    signal_dbm: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _require_aware(self.device_time)
        if self.battery_pct is not None and not 0 <= self.battery_pct <= 100:
            raise ValueError("battery_pct must be within 0..100")


@dataclass(frozen=True, slots=True)
class DeviceFault:
    """A device reports a fault (or, with `cleared`, that the fault is over)."""

    dedupe_key: str
    vendor: str
    device_code: str
    device_time: datetime
    fault_code: str
    description: str = ""
    cleared: bool = False
    payload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _require_aware(self.device_time)


DeviceEvent = BerthEvent | PlateRead | Heartbeat | DeviceFault
