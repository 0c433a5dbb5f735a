"""A plate's day on the street: one free period per zone class, a cap across stays, re-parking."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp.test_utils import TestClient

from core.clock import FrozenClock
from server.resources import CLOCK_KEY

PLATE = "浙B7S901"


async def park(
    client: TestClient[Any, Any], berth: str, start: str, end: str, plate: str = PLATE
) -> int:
    """Send occupied then vacated for a berth on 2026-11-25 and return the fee of the stay."""
    app = client.app
    assert app is not None
    clock = app[CLOCK_KEY]
    assert isinstance(clock, FrozenClock)
    for state, time in (("occupied", start), ("vacated", end)):
        # Devices report as things happen; a device_time far ahead of the centre is refused.
        clock.set(datetime.fromisoformat(f"2026-11-25T{time}:00+08:00"))
        response = await client.post(
            "/devices/sensors/events",
            json={
                "event_id": f"{berth}-{state}-{time}",
                "device": f"MAG-{berth}",
                "berth": berth,
                "state": state,
                "plate": plate,
                "device_time": f"2026-11-25T{time}:00+08:00",
            },
        )
        ack = await response.json()
        assert response.status == 200 and ack["outcome"] == "applied", ack
    fee: int = ack["fee_fen"]
    return fee


async def test_free_period_once_per_class_and_cap_across_stays(
    client: TestClient[Any, Any],
) -> None:
    # Class 1 (tariffs/onstreet-class1.toml): 30 free minutes once per plate per day per class.
    assert await park(client, "HS1-001", "09:00", "09:20") == 0
    # The free period is spent: 20 minutes now cost the day band's first hour, 500 fen.
    assert await park(client, "HS1-005", "14:00", "14:20") == 500
    # Class 2 is another scope, so its free period is still there.
    assert await park(client, "HS2-001", "15:00", "15:20") == 0
    # 15:30-23:00 alone: day 500 + 8 x 150 = 1,700, night 3 x 100 = 300, so 2,000;
    # the class 1 daily cap of 2,000 already holds 500, so this stay adds 1,500.
    assert await park(client, "HS1-002", "15:30", "23:00") == 1500
    # Re-parked on the same street within 10 minutes: the day is capped, nothing more to pay.
    assert await park(client, "HS1-003", "23:05", "23:30") == 0


async def test_another_plate_has_its_own_day(client: TestClient[Any, Any]) -> None:
    assert await park(client, "HS1-001", "09:00", "09:20") == 0
    assert await park(client, "HS1-002", "09:00", "09:20", plate="浙B7S902") == 0
