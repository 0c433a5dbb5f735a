"""Tables of the city's parking supply: operators, districts, zones, lots, berths, devices."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.store.base import Base

Coordinate = Numeric(9, 6)


class OperatorRow(Base):
    """An operator or lot owner, paid directly as a WeChat Pay sub-merchant."""

    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    sub_mchid: Mapped[str] = mapped_column(String(32), unique=True)
    # On-street fees collected as government non-tax revenue get fiscal e-receipts.
    fiscal_receipts: Mapped[bool] = mapped_column(default=False)


class DistrictRow(Base):
    """An administrative district of the city."""

    __tablename__ = "districts"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))


class TariffRow(Base):
    """One version of a tariff; the body is the validated tariff document."""

    __tablename__ = "tariffs"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int]
    effective_from: Mapped[datetime]
    body: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class ZoneRow(Base):
    """An on-street zone; its class (1/2/3) sets the tariff and the cap scope."""

    __tablename__ = "zones"
    __table_args__ = (CheckConstraint("zone_class IN (1, 2, 3)", name="zone_class"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    zone_class: Mapped[int]
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    tariff_code: Mapped[str] = mapped_column(String(64))


class LotRow(Base):
    """A gated lot (public, hospital, mall or residential)."""

    __tablename__ = "lots"
    __table_args__ = (
        CheckConstraint("kind IN ('public', 'hospital', 'mall', 'residential')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    tariff_code: Mapped[str] = mapped_column(String(64))
    capacity: Mapped[int]
    lat: Mapped[Decimal] = mapped_column(Coordinate, comment="GCJ-02 latitude")
    lng: Mapped[Decimal] = mapped_column(Coordinate, comment="GCJ-02 longitude")


class LotLevelRow(Base):
    """A level of a lot, e.g. B1 of an underground garage."""

    __tablename__ = "lot_levels"
    __table_args__ = (UniqueConstraint("lot_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"))
    code: Mapped[str] = mapped_column(String(16))
    capacity: Mapped[int]


class LaneRow(Base):
    """An entry or exit lane of a lot, with its camera and barrier."""

    __tablename__ = "lanes"
    __table_args__ = (
        UniqueConstraint("lot_id", "code"),
        CheckConstraint("direction IN ('entry', 'exit')", name="direction"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(128))
    direction: Mapped[str] = mapped_column(String(8))
    display: Mapped[dict[str, Any] | None] = mapped_column(
        comment="the lane's LED and voice profile (docs/lanes.md), none: the defaults"
    )


class BerthRow(Base):
    """A single parking space, on a street in a zone or on a level of a lot."""

    __tablename__ = "berths"
    __table_args__ = (
        CheckConstraint("(zone_id IS NULL) <> (lot_id IS NULL)", name="zone_xor_lot"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id"), index=True)
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"), index=True)
    level_id: Mapped[int | None] = mapped_column(ForeignKey("lot_levels.id"))
    street: Mapped[str | None] = mapped_column(String(128), index=True)
    lat: Mapped[Decimal] = mapped_column(Coordinate, comment="GCJ-02 latitude")
    lng: Mapped[Decimal] = mapped_column(Coordinate, comment="GCJ-02 longitude")
    closed: Mapped[bool] = mapped_column(default=False)


class DeviceRow(Base):
    """A sensor, camera, barrier or display, at a berth or a lane."""

    __tablename__ = "devices"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('berth_sensor', 'video', 'anpr_camera', 'barrier_gate', 'led_display')",
            name="kind",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    vendor: Mapped[str] = mapped_column(String(32))
    berth_id: Mapped[int | None] = mapped_column(ForeignKey("berths.id"))
    lane_id: Mapped[int | None] = mapped_column(ForeignKey("lanes.id"))
    last_seen_at: Mapped[datetime | None]


class HolidayOverrideRow(Base):
    """A local or future-year day type that the holiday package does not know or gets wrong."""

    __tablename__ = "holiday_overrides"
    __table_args__ = (
        CheckConstraint(
            "day_type IN ('workday', 'weekend', 'holiday', 'adjusted_workday')", name="day_type"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(unique=True)
    day_type: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
