"""The fault run's traffic: a morning of berth visits and heartbeats, sent by HTTP and MQTT."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tests.conftest import SHANGHAI

ZONES = ("HS1", "HS2", "JB3")
BERTHS_PER_ZONE = 20
VISITS = 3
MORNING = datetime(2026, 11, 25, 6, 0, tzinfo=SHANGHAI)  # the app's clock stands at 09:00


@dataclass(frozen=True, slots=True)
class Event:
    """One device message: where it goes, what it says, and its dedupe key once stored."""

    transport: str  # "http" or "mqtt"
    path: str  # the HTTP path or the MQTT topic
    body: dict[str, Any]
    key: str
    kind: str  # "berth" or "heartbeat"

    @property
    def moment(self) -> str:
        """Its device time, to replay a berth's events in order."""
        return str(self.body["device_time"])


def morning(seed: int) -> list[Event]:
    """Every berth: three visits of its own plate; each occupied event has a heartbeat twin
    with the same event id (a shared id must not swallow either)."""
    rng = random.Random(seed)
    events: list[Event] = []
    for z, zone in enumerate(ZONES):
        for n in range(1, BERTHS_PER_ZONE + 1):
            berth = f"{zone}-{n:03d}"
            device = f"MAG-{berth}"
            plate = f"浙B{z + 1}{n:04d}"
            transport = "mqtt" if n % 2 else "http"
            start = MORNING + timedelta(minutes=rng.randrange(0, 10))
            for visit in range(VISITS):
                entered = start + timedelta(minutes=55 * visit)
                left = entered + timedelta(minutes=rng.randrange(20, 50))
                for state, at in (("occupied", entered), ("vacated", left)):
                    event_id = f"{berth}-{visit}-{state}"
                    body = {
                        "event_id": event_id,
                        "device": device,
                        "berth": berth,
                        "state": state,
                        "plate": plate,
                        "device_time": at.isoformat(),
                    }
                    events.append(_sensor(transport, device, body))
                    if state == "occupied":
                        beat = {
                            "event_id": event_id,
                            "device": device,
                            "battery_pct": 80,
                            "device_time": at.isoformat(),
                        }
                        events.append(_heartbeat(transport, device, beat))
    return events


def _sensor(transport: str, device: str, body: dict[str, Any]) -> Event:
    path = (
        f"parking/v1/sensors/{device}/events" if transport == "mqtt" else "/devices/sensors/events"
    )
    return Event(transport, path, body, f"own:berth:{device}:{body['event_id']}", "berth")


def _heartbeat(transport: str, device: str, body: dict[str, Any]) -> Event:
    path = (
        f"parking/v1/devices/{device}/heartbeat" if transport == "mqtt" else "/devices/heartbeats"
    )
    return Event(transport, path, body, f"own:heartbeat:{device}:{body['event_id']}", "heartbeat")
