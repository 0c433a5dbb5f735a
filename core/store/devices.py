"""Tables of on-street operations: berth states, held events, device health, tickets, closures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.store.base import Base


class BerthStateRow(Base):
    """Whether a berth is occupied now; the version orders live-count updates."""

    __tablename__ = "berth_states"

    berth_id: Mapped[int] = mapped_column(ForeignKey("berths.id"), primary_key=True)
    occupied: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    changed_at: Mapped[datetime]


class BerthObservationRow(Base):
    """A berth event as the timeline uses it; its role says what it did, and is re-derived."""

    __tablename__ = "berth_observations"
    __table_args__ = (
        CheckConstraint("kind IN ('occupied', 'vacated', 'plate')", name="kind"),
        CheckConstraint(
            "role IN ('start', 'end', 'plate', 'noise', 'waiting', 'refused')", name="role"
        ),
        Index("ix_berth_observations_berth_time", "berth_id", "device_time"),
        Index("ix_berth_observations_role", "role", "device_time"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    device_event_id: Mapped[int] = mapped_column(ForeignKey("device_events.id"), unique=True)
    berth_id: Mapped[int] = mapped_column(ForeignKey("berths.id"))
    kind: Mapped[str] = mapped_column(String(8))
    device_code: Mapped[str] = mapped_column(String(64))
    device_time: Mapped[datetime]
    plate: Mapped[str | None] = mapped_column(String(16))
    image_ref: Mapped[str | None] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(8))
    stay_id: Mapped[int | None] = mapped_column(ForeignKey("stays.id"))
    note: Mapped[str | None] = mapped_column(Text)


class StayFlagRow(Base):
    """A reason a stay needs a human look although it was priced, e.g. a closed berth."""

    __tablename__ = "stay_flags"
    __table_args__ = (UniqueConstraint("stay_id", "flag"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stay_id: Mapped[int] = mapped_column(ForeignKey("stays.id"), index=True)
    flag: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class DeviceHealthRow(Base):
    """What a device last said about itself and how often it triggered falsely."""

    __tablename__ = "device_health"

    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    last_heartbeat_at: Mapped[datetime | None]
    last_event_at: Mapped[datetime | None]
    battery_pct: Mapped[int | None]
    signal_dbm: Mapped[int | None]
    fault_code: Mapped[str | None] = mapped_column(String(32))
    fault_text: Mapped[str | None] = mapped_column(Text)
    fault_at: Mapped[datetime | None]
    occupied_count: Mapped[int] = mapped_column(default=0)
    flicker_count: Mapped[int] = mapped_column(default=0)


class ViolationRow(Base):
    """An illegal-parking capture (违停抓拍): a car outside any berth or in a closed berth."""

    __tablename__ = "violations"
    __table_args__ = (
        CheckConstraint("kind IN ('outside_berth', 'closed_berth')", name="kind"),
        CheckConstraint("status IN ('open', 'served', 'dismissed')", name="status"),
        Index("ix_violations_status_observed", "status", "observed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    plate: Mapped[str | None] = mapped_column(String(16), index=True)
    plate_colour: Mapped[str | None] = mapped_column(String(10))
    device_code: Mapped[str] = mapped_column(String(64))
    berth_id: Mapped[int | None] = mapped_column(ForeignKey("berths.id"))
    location: Mapped[str] = mapped_column(String(128))
    observed_at: Mapped[datetime]
    images: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(12), default="open")
    created_at: Mapped[datetime]


class MaintenanceTicketRow(Base):
    """A maintenance ticket for one device, opened and closed by staff."""

    __tablename__ = "maintenance_tickets"
    __table_args__ = (CheckConstraint("status IN ('open', 'closed')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    status: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(Text)
    opened_by: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime]
    closed_by: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)


class BerthClosureRow(Base):
    """A period a berth is closed (roadworks, events); open-ended until ended by staff."""

    __tablename__ = "berth_closures"
    __table_args__ = (Index("ix_berth_closures_berth_starts", "berth_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    berth_id: Mapped[int] = mapped_column(ForeignKey("berths.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class NotificationRow(Base):
    """The outbox of driver notifications, written in the transaction that caused them."""

    __tablename__ = "notification_outbox"
    __table_args__ = (UniqueConstraint("driver_id", "kind", "reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("drivers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str] = mapped_column(String(64))
    body: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
