"""Device health rules: online from heartbeats, low battery, faults and false-trigger rate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    """Thresholds past which a device needs attention."""

    offline_minutes: int = 30
    low_battery_pct: int = 20
    max_false_trigger_rate: float = 0.3
    min_triggers_for_rate: int = 10


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    """What the centre knows of one device's health."""

    code: str
    kind: str
    berth_code: str | None
    last_heartbeat_at: datetime | None
    last_event_at: datetime | None
    battery_pct: int | None
    signal_dbm: int | None
    fault_code: str | None
    occupied_count: int
    flicker_count: int
    open_tickets: int


def last_seen(health: DeviceHealth) -> datetime | None:
    """The latest moment the device spoke, by heartbeat or event."""
    moments = [m for m in (health.last_heartbeat_at, health.last_event_at) if m is not None]
    return max(moments) if moments else None


def is_online(health: DeviceHealth, now: datetime, policy: HealthPolicy) -> bool:
    """Whether the device spoke within the offline window."""
    seen = last_seen(health)
    return seen is not None and now - seen <= timedelta(minutes=policy.offline_minutes)


def false_trigger_rate(occupied_count: int, flicker_count: int) -> float:
    """Share of occupied triggers that turned out to be flickers; 0 with no triggers."""
    return flicker_count / occupied_count if occupied_count else 0.0


def attention_reasons(health: DeviceHealth, now: datetime, policy: HealthPolicy) -> list[str]:
    """Why a device needs a technician, in a stable order; empty when it is fine."""
    reasons = []
    if not is_online(health, now, policy):
        reasons.append("offline")
    if health.battery_pct is not None and health.battery_pct < policy.low_battery_pct:
        reasons.append("low_battery")
    if health.fault_code is not None:
        reasons.append("fault")
    rate = false_trigger_rate(health.occupied_count, health.flicker_count)
    if health.occupied_count >= policy.min_triggers_for_rate and (
        rate > policy.max_false_trigger_rate
    ):
        reasons.append("false_triggers")
    if health.open_tickets:
        reasons.append("open_ticket")
    return reasons
