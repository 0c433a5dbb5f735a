"""Daily roll-up tables the reports read; a job rebuilds a day's rows whole (docs/operations.md).

Dimension columns hold '' rather than NULL when they do not apply (a pass has no zone), so
grouping and filtering need no NULL cases.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from core.store.base import Base

Code = String(32)


class RevenueDayRow(Base):
    """Money of one day by place, operator, sub-merchant, channel and flow, from the ledger."""

    __tablename__ = "revenue_days"
    __table_args__ = (Index("ix_revenue_days_day", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date]
    operator_code: Mapped[str] = mapped_column(Code)
    sub_mchid: Mapped[str] = mapped_column(Code)
    district_code: Mapped[str] = mapped_column(Code)
    lot_code: Mapped[str] = mapped_column(Code)
    zone_code: Mapped[str] = mapped_column(Code)
    channel: Mapped[str] = mapped_column(String(20))
    flow: Mapped[str] = mapped_column(String(12))
    entries: Mapped[int]
    amount_fen: Mapped[int] = mapped_column(BigInteger)


class OccupancyHourRow(Base):
    """Occupied berth-seconds and arrivals of one zone or lot in one Beijing hour."""

    __tablename__ = "occupancy_hours"
    __table_args__ = (Index("ix_occupancy_hours_day", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date]
    hour: Mapped[int] = mapped_column(SmallInteger)
    operator_code: Mapped[str] = mapped_column(Code)
    district_code: Mapped[str] = mapped_column(Code)
    place_code: Mapped[str] = mapped_column(Code)
    berths: Mapped[int]
    arrivals: Mapped[int]
    occupied_seconds: Mapped[int] = mapped_column(BigInteger)


class ArrearsDayRow(Base):
    """Unpaid on-street stays at the end of a day by zone and age bucket."""

    __tablename__ = "arrears_days"
    __table_args__ = (Index("ix_arrears_days_day", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date]
    operator_code: Mapped[str] = mapped_column(Code)
    district_code: Mapped[str] = mapped_column(Code)
    zone_code: Mapped[str] = mapped_column(Code)
    bucket: Mapped[str] = mapped_column(String(8))
    stays: Mapped[int]
    due_fen: Mapped[int] = mapped_column(BigInteger)


class ShiftDayRow(Base):
    """Cashier shifts closed on a day, by lot and cashier: expected against counted cash."""

    __tablename__ = "shift_days"
    __table_args__ = (Index("ix_shift_days_day", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date]
    operator_code: Mapped[str] = mapped_column(Code)
    district_code: Mapped[str] = mapped_column(Code)
    lot_code: Mapped[str] = mapped_column(Code)
    cashier: Mapped[str] = mapped_column(String(64))
    shifts: Mapped[int]
    expected_cash_fen: Mapped[int] = mapped_column(BigInteger)
    counted_cash_fen: Mapped[int] = mapped_column(BigInteger)
    difference_fen: Mapped[int] = mapped_column(BigInteger)


class DeviceDayRow(Base):
    """Devices of one kind at a place and the device-hours in which they were heard."""

    __tablename__ = "device_days"
    __table_args__ = (Index("ix_device_days_day", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date]
    operator_code: Mapped[str] = mapped_column(Code)
    district_code: Mapped[str] = mapped_column(Code)
    place_code: Mapped[str] = mapped_column(Code)
    kind: Mapped[str] = mapped_column(String(32))
    devices: Mapped[int]
    hours_heard: Mapped[int]


class InvoiceDayRow(Base):
    """Invoices issued and reversed on a day by seller and kind."""

    __tablename__ = "invoice_days"
    __table_args__ = (Index("ix_invoice_days_day", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date]
    operator_code: Mapped[str] = mapped_column(Code)
    kind: Mapped[str] = mapped_column(String(16))
    issued: Mapped[int]
    issued_fen: Mapped[int] = mapped_column(BigInteger)
    reversed: Mapped[int]
    reversed_fen: Mapped[int] = mapped_column(BigInteger)
