"""The steps officers take on unpaid on-street stays (notices served, escalations)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.store.base import Base


class ArrearsActionRow(Base):
    """One step on an unpaid stay: append-only, so the chase can be shown as it happened."""

    __tablename__ = "arrears_actions"
    __table_args__ = (CheckConstraint("step IN ('notice_served', 'escalated')", name="step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stay_id: Mapped[int] = mapped_column(ForeignKey("stays.id"), index=True)
    step: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str | None] = mapped_column(String(256), comment="photo or document ref")
    at: Mapped[datetime]
