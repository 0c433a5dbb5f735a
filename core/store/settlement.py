"""Tables of operator contracts and profit sharing: receivers added, orders, lines, returns."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.store.base import Base


class ContractRow(Base):
    """One version of an operator's contract; the latest one starting by a day applies."""

    __tablename__ = "operator_contracts"
    __table_args__ = (
        CheckConstraint("basis IN ('percent', 'concession_fee')", name="basis"),
        Index("ix_operator_contracts_operator_starts", "operator_code", "starts_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_code: Mapped[str] = mapped_column(String(32))
    basis: Mapped[str] = mapped_column(String(16))
    city_mchid: Mapped[str] = mapped_column(String(32))
    city_name: Mapped[str] = mapped_column(String(128))
    platform_mchid: Mapped[str] = mapped_column(String(32))
    platform_name: Mapped[str] = mapped_column(String(128))
    city_bp: Mapped[int]
    platform_bp: Mapped[int]
    concession_fen_per_berth: Mapped[int] = mapped_column(BigInteger)
    max_share_bp: Mapped[int]
    starts_on: Mapped[date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class ShareReceiverRow(Base):
    """A receiver WeChat Pay has been told about for one sub-merchant."""

    __tablename__ = "share_receivers"
    __table_args__ = (UniqueConstraint("sub_mchid", "account"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sub_mchid: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(32))
    added_at: Mapped[datetime]


class ShareOrderRow(Base):
    """The one sharing (or unfreeze) order of a payment, recorded before the provider is asked."""

    __tablename__ = "share_orders"
    __table_args__ = (
        CheckConstraint("kind IN ('share', 'unfreeze')", name="kind"),
        CheckConstraint("state IN ('created', 'processing', 'finished')", name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    out_order_no: Mapped[str] = mapped_column(String(64), unique=True)
    out_trade_no: Mapped[str] = mapped_column(ForeignKey("payments.out_trade_no"), unique=True)
    transaction_id: Mapped[str] = mapped_column(String(32))
    operator_code: Mapped[str] = mapped_column(String(32), index=True)
    sub_mchid: Mapped[str] = mapped_column(String(32))
    period: Mapped[date] = mapped_column(Date, index=True, comment="Beijing day of payment")
    kind: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(12))
    held_fen: Mapped[int] = mapped_column(BigInteger, comment="paid less refunded when shared")
    refunded_before_fen: Mapped[int] = mapped_column(BigInteger)
    order_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class ShareLineRow(Base):
    """One receiver's fen in a sharing order, and what it has given back since."""

    __tablename__ = "share_lines"
    __table_args__ = (
        CheckConstraint("receiver IN ('city', 'platform')", name="receiver"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("returned_fen >= 0 AND returned_fen <= amount_fen", name="returned"),
        UniqueConstraint("order_id", "receiver"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("share_orders.id"))
    receiver: Mapped[str] = mapped_column(String(8))
    account: Mapped[str] = mapped_column(String(32))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    result: Mapped[str] = mapped_column(String(12), comment="PENDING, SUCCESS or CLOSED")
    returned_fen: Mapped[int] = mapped_column(BigInteger, default=0)


class ShareReturnRow(Base):
    """A share taken back from a receiver after a refund of the payment."""

    __tablename__ = "share_returns"

    id: Mapped[int] = mapped_column(primary_key=True)
    out_return_no: Mapped[str] = mapped_column(String(64), unique=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("share_lines.id"), index=True)
    out_refund_no: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    result: Mapped[str] = mapped_column(String(12), comment="CREATED, PROCESSING, SUCCESS, FAILED")
    return_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
