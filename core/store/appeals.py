"""Tables of fee appeals and WeChat Pay complaints (one queue), and actions awaiting approval."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.store.base import Base, JSONDocument


class AppealRow(Base):
    """A driver's appeal of a stay's fee, or a WeChat Pay consumer complaint."""

    __tablename__ = "appeals"
    __table_args__ = (
        CheckConstraint("kind IN ('appeal', 'wechatpay_complaint')", name="kind"),
        CheckConstraint(
            "status IN ('open', 'awaiting_approval', 'resolved', 'rejected')", name="status"
        ),
        Index("ix_appeals_status_due", "status", "due_at"),
        Index("ix_appeals_stay_ref", "stay_ref"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    category: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(24))
    stay_ref: Mapped[str | None] = mapped_column(String(32))
    driver_id: Mapped[int | None] = mapped_column(ForeignKey("drivers.id"), index=True)
    plate: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    photos: Mapped[list[str]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime]
    due_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(16), comment="reject, waive or refund")
    outcome_fen: Mapped[int | None] = mapped_column(BigInteger)
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    # WeChat Pay 消费者投诉 2.0: the complaint's id, sub-merchant, the order and WeChat's state.
    complaint_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    sub_mchid: Mapped[str | None] = mapped_column(String(32))
    out_trade_no: Mapped[str | None] = mapped_column(String(64))
    complaint_state: Mapped[str | None] = mapped_column(String(32))
    complaint: Mapped[dict[str, Any] | None]


class ApprovalRow(Base):
    """A waiver or refund over the requester's limit, waiting for a finance approver."""

    __tablename__ = "approvals"
    __table_args__ = (
        CheckConstraint("action IN ('waive', 'refund')", name="action"),
        CheckConstraint("status IN ('pending', 'approved', 'rejected', 'failed')", name="status"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        Index("ix_approvals_status", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeals.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(64), comment="stay ref or out_trade_no")
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    requester_role: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    decided_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)
