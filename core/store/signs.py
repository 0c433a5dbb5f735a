"""Tables of guidance signs (停车诱导屏): which lots and zones each sign shows, and how."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from core.store.base import Base, JSONDocument


class GuidanceSignRow(Base):
    """A guidance sign: its targets (lots and zones), its format and where it is reached."""

    __tablename__ = "guidance_signs"
    __table_args__ = (
        CheckConstraint("transport IN ('mqtt', 'http')", name="transport"),
        CheckConstraint("min_interval_seconds >= 1", name="min_interval"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    transport: Mapped[str] = mapped_column(String(8))
    address: Mapped[str] = mapped_column(
        String(512), comment="HTTP URL; over MQTT the topic is parking-signs/v1/<code>"
    )
    format: Mapped[str] = mapped_column(String(32))
    targets: Mapped[list[Any]] = mapped_column(
        JSONDocument, comment="[{kind, code, label}] in display order"
    )
    options: Mapped[dict[str, Any]] = mapped_column(comment="format options, e.g. screen size")
    min_interval_seconds: Mapped[int] = mapped_column(default=5)
    enabled: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime]
