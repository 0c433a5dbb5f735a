"""Tables of networked lots: the register, their keys, messages, sessions, devices and outbox."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.store.base import Base


class NetworkLotRow(Base):
    """A lot run by another vendor's system that joined the platform (its `lots` row is shared)."""

    __tablename__ = "network_lots"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), unique=True)
    app_id: Mapped[str] = mapped_column(String(32), unique=True)
    vendor: Mapped[str] = mapped_column(String(64))
    contact: Mapped[str] = mapped_column(String(128))
    address: Mapped[str] = mapped_column(String(256))
    opening_hours: Mapped[str] = mapped_column(String(128))
    tariff_summary: Mapped[str | None] = mapped_column(String(256))
    webhook_url: Mapped[str | None] = mapped_column(String(512))
    registered_at: Mapped[datetime]
    last_seen_at: Mapped[datetime | None]
    silent_since: Mapped[datetime | None]
    free_spaces: Mapped[int | None]
    counted_at: Mapped[datetime | None]


class NetworkKeyRow(Base):
    """One key of a lot's app, sealed with the settings secret; two live during a rotation."""

    __tablename__ = "network_keys"
    __table_args__ = (UniqueConstraint("network_lot_id", "key_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_lot_id: Mapped[int] = mapped_column(ForeignKey("network_lots.id"), index=True)
    key_id: Mapped[str] = mapped_column(String(16))
    sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]


class NetworkMessageRow(Base):
    """A pushed message as received, once per message id: what makes a resend a no-op."""

    __tablename__ = "network_messages"
    __table_args__ = (
        UniqueConstraint("network_lot_id", "message_id"),
        Index("ix_network_messages_lot_kind_at", "network_lot_id", "kind", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    network_lot_id: Mapped[int] = mapped_column(ForeignKey("network_lots.id"))
    message_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]
    body: Mapped[dict[str, Any]]


class NetworkNonceRow(Base):
    """A nonce seen inside the replay window (when no Redis is configured)."""

    __tablename__ = "network_nonces"
    __table_args__ = (Index("ix_network_nonces_expires_at", "expires_at"),)

    app_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime]


class NetworkSessionRow(Base):
    """A lot's own session id (PP's order_id) and the stay it became on the platform."""

    __tablename__ = "network_sessions"
    __table_args__ = (UniqueConstraint("network_lot_id", "session_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_lot_id: Mapped[int] = mapped_column(ForeignKey("network_lots.id"))
    session_id: Mapped[str] = mapped_column(String(64))
    stay_id: Mapped[int] = mapped_column(ForeignKey("stays.id"), unique=True)
    site_paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)


class NetworkDeviceRow(Base):
    """The last state a lot reported for one of its lanes or devices."""

    __tablename__ = "network_devices"
    __table_args__ = (
        UniqueConstraint("network_lot_id", "device"),
        CheckConstraint("state IN ('fault', 'ok')", name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    network_lot_id: Mapped[int] = mapped_column(ForeignKey("network_lots.id"))
    device: Mapped[str] = mapped_column(String(64))
    lane: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(8))
    fault_code: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(256))
    since: Mapped[datetime]


class NetworkSummaryRow(Base):
    """A lot's own totals of a day, kept beside what the platform counted from its pushes."""

    __tablename__ = "network_summaries"
    __table_args__ = (UniqueConstraint("network_lot_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_lot_id: Mapped[int] = mapped_column(ForeignKey("network_lots.id"))
    day: Mapped[date]
    entries: Mapped[int]
    exits: Mapped[int]
    fee_fen: Mapped[int]
    paid_fen: Mapped[int]
    received_at: Mapped[datetime]


class NetworkOutboxRow(Base):
    """A notice to a lot's system (a payment taken for its stay), resent until it answers 2xx."""

    __tablename__ = "network_outbox"
    __table_args__ = (Index("ix_network_outbox_due", "delivered_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_lot_id: Mapped[int] = mapped_column(ForeignKey("network_lots.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    body: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(256))
