"""Tables of driver features: subscribe-message authorisations and how each notice went out."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.store.activity import StayRow
from core.store.base import Base


class SubscribeGrantRow(Base):
    """Authorisations a driver gave for one subscribe-message template; each send spends one."""

    __tablename__ = "subscribe_grants"
    __table_args__ = (
        UniqueConstraint("driver_id", "template_id"),
        CheckConstraint("remaining >= 0", name="remaining_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("drivers.id"))
    template_id: Mapped[str] = mapped_column(String(64))
    remaining: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime]


class NoticeDeliveryRow(Base):
    """How one outbox notice reached its driver: a subscribe message, an SMS, or not at all."""

    __tablename__ = "notice_deliveries"
    __table_args__ = (CheckConstraint("channel IN ('subscribe', 'sms', 'none')", name="channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notification_outbox.id"), unique=True)
    channel: Mapped[str] = mapped_column(String(12))
    note: Mapped[str | None] = mapped_column(String(128))
    at: Mapped[datetime]


# Free counts of lots read open stays per lot; the stays table has no index for that yet.
STAYS_LOT_STATUS_INDEX = Index("ix_stays_lot_status", StayRow.lot_id, StayRow.status)
