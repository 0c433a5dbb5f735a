"""Tables of what happens: stays, raw device events, the ledger and the audit chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from core.store.base import Base

# Closed on-street stays that cost something: the only ones that can be arrears.
_STREET_CHARGED = text("status = 'closed' AND lot_id IS NULL AND fee_fen > 0")


class StayRow(Base):
    """A vehicle's stay at a berth or in a lot, from entry to exit."""

    __tablename__ = "stays"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'closed', 'review', 'void')", name="status"),
        CheckConstraint("fee_fen IS NULL OR fee_fen >= 0", name="fee_not_negative"),
        Index("ix_stays_plate_status", "plate", "status"),
        Index("ix_stays_berth_status", "berth_id", "status"),
        # Officers' arrears lists walk these in order and skip the paid (partial: street
        # stays with a fee only, a fraction of all stays).
        Index(
            "ix_stays_unpaid_by_age",
            "exited_at",
            "id",
            postgresql_where=_STREET_CHARGED,
            sqlite_where=_STREET_CHARGED,
        ),
        Index(
            "ix_stays_unpaid_by_fee",
            "fee_fen",
            "id",
            postgresql_where=_STREET_CHARGED,
            sqlite_where=_STREET_CHARGED,
        ),
        Index(
            "ix_stays_unpaid_by_zone",
            "zone_id",
            "exited_at",
            "id",
            postgresql_where=_STREET_CHARGED,
            sqlite_where=_STREET_CHARGED,
        ),
        Index(
            "ix_stays_unpaid_by_berth",
            "berth_id",
            "exited_at",
            postgresql_where=_STREET_CHARGED,
            sqlite_where=_STREET_CHARGED,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(32), unique=True)
    plate: Mapped[str | None] = mapped_column(String(16))
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))
    berth_id: Mapped[int | None] = mapped_column(ForeignKey("berths.id"))
    vehicle_class: Mapped[str] = mapped_column(String(16), default="small")
    status: Mapped[str] = mapped_column(String(8))
    entered_at: Mapped[datetime]
    exited_at: Mapped[datetime | None]
    fee_fen: Mapped[int | None] = mapped_column(BigInteger)
    tariff_code: Mapped[str | None] = mapped_column(String(64))
    tariff_version: Mapped[int | None]
    quote: Mapped[dict[str, Any] | None]


class DeviceEventRow(Base):
    """A raw device event as received, kept whether it was applied, a duplicate or not."""

    __tablename__ = "device_events"
    __table_args__ = (
        CheckConstraint("outcome IN ('applied', 'review')", name="outcome"),
        Index("ix_device_events_device_time", "device_code", "device_time"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    vendor: Mapped[str] = mapped_column(String(32))
    device_code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    device_time: Mapped[datetime]
    received_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]]
    outcome: Mapped[str] = mapped_column(String(8))
    note: Mapped[str | None] = mapped_column(Text)


class LedgerEntryRow(Base):
    """A journal entry; its postings balance."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str] = mapped_column(String(64), index=True)
    # The daily revenue roll-up reads one day of entries at a time.
    created_at: Mapped[datetime] = mapped_column(index=True)


class LedgerPostingRow(Base):
    """One debit or credit line of an entry, in fen."""

    __tablename__ = "ledger_postings"
    __table_args__ = (
        CheckConstraint("debit_fen >= 0 AND credit_fen >= 0", name="not_negative"),
        CheckConstraint("(debit_fen = 0) <> (credit_fen = 0)", name="one_sided"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), index=True)
    account: Mapped[str] = mapped_column(String(96), index=True)
    debit_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    credit_fen: Mapped[int] = mapped_column(BigInteger, default=0)


class AuditRow(Base):
    """One link of the append-only, hash-chained audit log."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
