"""Tables of people: drivers and their vehicles, staff and their scopes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.store.base import Base


class DriverRow(Base):
    """A driver, one person across the mini-program and the Official Account."""

    __tablename__ = "drivers"

    id: Mapped[int] = mapped_column(primary_key=True)
    unionid: Mapped[str | None] = mapped_column(String(64), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime]


class DriverOpenidRow(Base):
    """The openid a driver has in one WeChat app (each app gives its own)."""

    __tablename__ = "driver_openids"
    __table_args__ = (UniqueConstraint("appid", "openid"), UniqueConstraint("driver_id", "appid"))

    id: Mapped[int] = mapped_column(primary_key=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("drivers.id"))
    appid: Mapped[str] = mapped_column(String(32))
    openid: Mapped[str] = mapped_column(String(64))


class VehicleRow(Base):
    """A vehicle known by its plate."""

    __tablename__ = "vehicles"
    __table_args__ = (
        CheckConstraint(
            "plate_colour IN ('BLUE', 'GREEN', 'YELLOW', 'BLACK', 'WHITE', 'LIMEGREEN')",
            name="plate_colour",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plate: Mapped[str] = mapped_column(String(16), unique=True)
    plate_colour: Mapped[str] = mapped_column(String(10))
    vehicle_class: Mapped[str] = mapped_column(String(16), default="small")


class VehicleBindingRow(Base):
    """A driver's binding of a plate; only a verified one may see the plate's history."""

    __tablename__ = "vehicle_bindings"
    __table_args__ = (UniqueConstraint("driver_id", "vehicle_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("drivers.id"), index=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), index=True)
    created_at: Mapped[datetime]
    verified_at: Mapped[datetime | None]
    verified_by: Mapped[str | None] = mapped_column(String(32))


class StayScanRow(Base):
    """A driver scanned the code of the berth or exit lane a stay was at, while it was there."""

    __tablename__ = "stay_scans"
    __table_args__ = (UniqueConstraint("driver_id", "stay_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("drivers.id"), index=True)
    stay_id: Mapped[int] = mapped_column(ForeignKey("stays.id"), index=True)
    scanned_at: Mapped[datetime]


class StaffRow(Base):
    """A staff account with one role; scopes limit where it acts."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(24))
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    merchant_code: Mapped[str | None] = mapped_column(
        String(32), comment="the one merchant a merchant account acts for"
    )


class StaffScopeRow(Base):
    """One operator, district or lot a staff account may act on; none means city-wide."""

    __tablename__ = "staff_scopes"
    __table_args__ = (
        UniqueConstraint("staff_id", "kind", "code"),
        CheckConstraint("kind IN ('operator', 'district', 'lot')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(32))
