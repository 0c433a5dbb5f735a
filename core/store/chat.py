"""Tables of the Official Account chat: who follows it, and requests for a human."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.store.base import Base


class ChatUserRow(Base):
    """A WeChat user of the Official Account: following or not, and when they last wrote."""

    __tablename__ = "chat_users"
    __table_args__ = (UniqueConstraint("appid", "openid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    appid: Mapped[str] = mapped_column(String(32))
    openid: Mapped[str] = mapped_column(String(64))
    driver_id: Mapped[int | None] = mapped_column(ForeignKey("drivers.id"), index=True)
    subscribed: Mapped[bool] = mapped_column(default=True)
    subscribed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    # WeChat lets an account send customer-service messages for 48 hours after this.
    last_message_at: Mapped[datetime | None]


class ChatHandoffRow(Base):
    """A driver's request for a human in chat, waiting for a support agent (issue #16)."""

    __tablename__ = "chat_handoffs"
    __table_args__ = (CheckConstraint("status IN ('open', 'taken', 'closed')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    appid: Mapped[str] = mapped_column(String(32))
    openid: Mapped[str] = mapped_column(String(64), index=True)
    driver_id: Mapped[int | None] = mapped_column(ForeignKey("drivers.id"), index=True)
    reason: Mapped[str] = mapped_column(String(16), comment="asked, complaint or missed")
    message: Mapped[str] = mapped_column(String(500), comment="what the driver wrote")
    status: Mapped[str] = mapped_column(String(8), default="open", index=True)
    created_at: Mapped[datetime]
    taken_by: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[datetime | None]
    # The support console's part (issue #16, migration 0030_support_chat).
    claimed_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    last_activity_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16), comment="closed, handed_back or idle")
    category: Mapped[str | None] = mapped_column(String(32))
    resolution: Mapped[str | None] = mapped_column(String(500))
    rating: Mapped[int | None]
    rated_at: Mapped[datetime | None]


class ChatMessageRow(Base):
    """One message of a conversation held by a support agent (driver, agent or system)."""

    __tablename__ = "chat_messages"
    __table_args__ = (CheckConstraint("sender IN ('driver', 'agent', 'system')", name="sender"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("chat_handoffs.id"), index=True)
    sender: Mapped[str] = mapped_column(String(8))
    author: Mapped[str | None] = mapped_column(String(64), comment="the agent's username")
    kind: Mapped[str] = mapped_column(String(16), comment="text, miniprogram, canned, image, ...")
    body: Mapped[str] = mapped_column(String(2048))
    created_at: Mapped[datetime]
