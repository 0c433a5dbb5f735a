"""Device health: online from heartbeats or events, battery, faults, false triggers, tickets."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from core.device_health import (
    DeviceHealth,
    HealthPolicy,
    attention_reasons,
    false_trigger_rate,
    is_online,
)

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
POLICY = HealthPolicy(offline_minutes=30, low_battery_pct=20, max_false_trigger_rate=0.3)
HEALTHY = DeviceHealth(
    code="MAG-HS1-001",
    kind="berth_sensor",
    berth_code="HS1-001",
    last_heartbeat_at=NOW - timedelta(minutes=5),
    last_event_at=None,
    battery_pct=80,
    signal_dbm=-90,
    fault_code=None,
    occupied_count=40,
    flicker_count=2,
    open_tickets=0,
)


def test_a_healthy_device_needs_nothing() -> None:
    assert is_online(HEALTHY, NOW, POLICY)
    assert attention_reasons(HEALTHY, NOW, POLICY) == []


def test_each_reason_is_reported() -> None:
    silent = replace(HEALTHY, last_heartbeat_at=NOW - timedelta(minutes=31))
    assert attention_reasons(silent, NOW, POLICY) == ["offline"]
    # A recent event also proves the device is alive.
    assert is_online(replace(silent, last_event_at=NOW - timedelta(minutes=1)), NOW, POLICY)
    never = replace(HEALTHY, last_heartbeat_at=None)
    assert not is_online(never, NOW, POLICY)
    worn = replace(
        HEALTHY, battery_pct=19, fault_code="MAG_DRIFT", flicker_count=13, open_tickets=1
    )
    assert attention_reasons(worn, NOW, POLICY) == [
        "low_battery",
        "fault",
        "false_triggers",
        "open_ticket",
    ]


def test_false_trigger_rate_needs_enough_triggers() -> None:
    assert false_trigger_rate(0, 0) == 0.0
    assert false_trigger_rate(10, 4) == 0.4
    few = replace(HEALTHY, occupied_count=5, flicker_count=4)
    assert "false_triggers" not in attention_reasons(few, NOW, POLICY)
