"""Device events other than berth state changes: video plate reads, heartbeats and faults."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.berth_events import BerthEvent
from core.plates import Plate, PlateColour

# The stored keys' column width (device_events.dedupe_key).
MAX_KEY_LENGTH = 128


def event_key(vendor: str, scope: str, device: str, event_id: str) -> str:
    """A dedupe key scoped by vendor, kind and device, so one kind never swallows another."""
    key = f"{vendor}:{scope}:{device}:{event_id}"
    if len(key) <= MAX_KEY_LENGTH:
        return key
    # Long device codes and ids still fit the column, and a resend still hashes alike.
    return f"{vendor}:{scope}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


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
