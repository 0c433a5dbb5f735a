"""Tables of gated lots: rights, policies, passages, the attendant queue, cashiers, merchants."""

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
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.store.base import Base


class LotRightRow(Base):
    """A pass or a resident's space in a lot (月租, 特种, 储值, 业主/租用车位)."""

    __tablename__ = "lot_rights"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('monthly', 'special', 'stored_value', 'owned_space', 'rented_space')",
            name="kind",
        ),
        CheckConstraint("status IN ('active', 'cancelled')", name="status"),
        CheckConstraint("spaces >= 1", name="spaces"),
        CheckConstraint("balance_fen >= 0", name="balance_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(32), unique=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    holder: Mapped[str] = mapped_column(String(64))
    spaces: Mapped[int] = mapped_column(default=1)
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    windows: Mapped[str | None] = mapped_column(String(64), comment="e.g. 20:00-08:00")
    balance_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime]


class LotRightPlateRow(Base):
    """A plate a right covers; several plates may share one right's spaces (一位多车)."""

    __tablename__ = "lot_right_plates"
    __table_args__ = (UniqueConstraint("right_id", "plate"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    right_id: Mapped[int] = mapped_column(ForeignKey("lot_rights.id"))
    plate: Mapped[str] = mapped_column(String(16), index=True)


class LotPolicyRow(Base):
    """Entry rules of one lot; a lot without a row uses the defaults of its kind."""

    __tablename__ = "lot_policies"
    __table_args__ = (
        CheckConstraint("block_action IN ('refuse', 'flag')", name="block_action"),
        CheckConstraint("arrears_action IN ('refuse', 'flag')", name="arrears_action"),
    )

    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), primary_key=True)
    sold_spaces: Mapped[int] = mapped_column(default=0)
    temporary_capacity: Mapped[int | None]
    block_action: Mapped[str] = mapped_column(String(8), default="refuse")
    arrears_threshold_fen: Mapped[int | None] = mapped_column(BigInteger)
    arrears_action: Mapped[str] = mapped_column(String(8), default="refuse")
    stale_after_hours: Mapped[int] = mapped_column(default=720)
    min_confidence: Mapped[int] = mapped_column(default=0)
    # Show a plate's other unpaid stays on the exit fee and take them in one payment (合单).
    collect_arrears_at_exit: Mapped[bool] = mapped_column(default=False, server_default=false())


class PlateBlockRow(Base):
    """A plate on a lot's block list (or every lot's, when lot_id is empty)."""

    __tablename__ = "plate_blocks"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))
    plate: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    active: Mapped[bool] = mapped_column(default=True)
    lifted_by: Mapped[str | None] = mapped_column(String(64))
    lifted_at: Mapped[datetime | None]


class LotStayRow(Base):
    """What a lot adds to a stay: the entry read, the right used, payments at exit."""

    __tablename__ = "lot_stays"

    stay_id: Mapped[int] = mapped_column(ForeignKey("stays.id"), primary_key=True)
    access: Mapped[str] = mapped_column(String(16))
    right_id: Mapped[int | None] = mapped_column(ForeignKey("lot_rights.id"), index=True)
    entry_lane_id: Mapped[int | None] = mapped_column(ForeignKey("lanes.id"))
    entry_image_ref: Mapped[str | None] = mapped_column(String(256))
    plate_colour: Mapped[str | None] = mapped_column(String(16))
    vehicle_type: Mapped[str | None] = mapped_column(String(16))
    vehicle_colour: Mapped[str | None] = mapped_column(String(16))
    driver_id: Mapped[int | None] = mapped_column(ForeignKey("drivers.id"))
    exit_lane_id: Mapped[int | None] = mapped_column(ForeignKey("lanes.id"))
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_at: Mapped[datetime | None]
    validation_fen: Mapped[int] = mapped_column(BigInteger, default=0)


class LanePassageRow(Base):
    """One read at a lane and the decision taken; the HTTP answer to a resend repeats it."""

    __tablename__ = "lane_passages"
    __table_args__ = (
        CheckConstraint("direction IN ('entry', 'exit')", name="direction"),
        CheckConstraint("action IN ('open', 'refuse', 'pay', 'hold')", name="action"),
        CheckConstraint(
            "status IN ('done', 'awaiting_payment', 'held', 'resolved', 'cancelled')",
            name="status",
        ),
        Index("ix_lane_passages_lane_status", "lane_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(32), unique=True)
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    lane_id: Mapped[int] = mapped_column(ForeignKey("lanes.id"))
    direction: Mapped[str] = mapped_column(String(8))
    plate: Mapped[str | None] = mapped_column(String(16))
    plate_colour: Mapped[str | None] = mapped_column(String(16))
    vehicle_type: Mapped[str | None] = mapped_column(String(16))
    vehicle_colour: Mapped[str | None] = mapped_column(String(16))
    confidence: Mapped[int | None]
    image_ref: Mapped[str | None] = mapped_column(String(256))
    read_at: Mapped[datetime]
    stay_id: Mapped[int | None] = mapped_column(ForeignKey("stays.id"), index=True)
    action: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(32))
    display: Mapped[str] = mapped_column(String(128))
    fee_fen: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    details: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class AttendantTaskRow(Base):
    """A lane waiting for the remote attendant (云坐席)."""

    __tablename__ = "attendant_tasks"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'closed')", name="status"),
        Index("ix_attendant_tasks_status", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lane_id: Mapped[int] = mapped_column(ForeignKey("lanes.id"))
    passage_id: Mapped[int | None] = mapped_column(ForeignKey("lane_passages.id"))
    reason: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(8), default="open")
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(64))
    resolution: Mapped[str | None] = mapped_column(String(32))


class CashierShiftRow(Base):
    """A cashier's shift at a lane or the lot office; the takings during it are theirs."""

    __tablename__ = "cashier_shifts"
    __table_args__ = (CheckConstraint("status IN ('open', 'closed')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(32), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"))
    lane_id: Mapped[int | None] = mapped_column(ForeignKey("lanes.id"))
    status: Mapped[str] = mapped_column(String(8), default="open")
    opening_float_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    expected_cash_fen: Mapped[int | None] = mapped_column(BigInteger)
    counted_cash_fen: Mapped[int | None] = mapped_column(BigInteger)
    difference_fen: Mapped[int | None] = mapped_column(BigInteger)
    explanation: Mapped[str | None] = mapped_column(Text)


class ShiftTakingRow(Base):
    """Money (or a free release) a cashier took for a stay during a shift."""

    __tablename__ = "shift_takings"
    __table_args__ = (
        CheckConstraint("channel IN ('cash', 'micropay', 'free')", name="channel"),
        CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("cashier_shifts.id"), index=True)
    stay_ref: Mapped[str] = mapped_column(String(32), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(Text)
    receipt_no: Mapped[str] = mapped_column(String(32), unique=True)
    provider_ref: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class MerchantRow(Base):
    """A shop or hospital department that gives drivers parking validation in a lot."""

    __tablename__ = "merchants"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"))


class MerchantValidationRow(Base):
    """A single-use validation, recorded when redeemed so a copy is refused."""

    __tablename__ = "merchant_validations"
    __table_args__ = (CheckConstraint("kind IN ('minutes', 'amount')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    nonce: Mapped[str] = mapped_column(String(32), unique=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    value: Mapped[int]
    stay_id: Mapped[int] = mapped_column(ForeignKey("stays.id"), index=True)
    redeemed_at: Mapped[datetime]
    applied_fen: Mapped[int | None] = mapped_column(BigInteger)
