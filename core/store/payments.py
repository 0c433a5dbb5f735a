"""Tables and repositories of payments and refunds; updates are compare-and-set on a version."""

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
    false,
    func,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.errors import ConflictError
from core.payments import (
    ACCEPTED_REFUNDS,
    IN_FLIGHT_REFUNDS,
    OPEN_STATUSES,
    SETTLED_STATUSES,
    Payment,
    PaymentPurpose,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from core.store.base import Base

_SETTLED = sorted(s.value for s in SETTLED_STATUSES)
_IN_FLIGHT = sorted(s.value for s in IN_FLIGHT_REFUNDS)


def _one_of(
    column: str, values: type[PaymentStatus] | type[RefundStatus] | type[PaymentPurpose]
) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class PaymentRow(Base):
    """A payment of a stay, pass or top-up to the sub-merchant of its operator, via one channel."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(_one_of("status", PaymentStatus), name="status"),
        CheckConstraint(_one_of("purpose", PaymentPurpose), name="purpose"),
        CheckConstraint("(purpose = 'stay') = (stay_ref IS NOT NULL)", name="stay_ref_of_stay"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("refunded_fen >= 0 AND refunded_fen <= amount_fen", name="refund_bounds"),
        Index("ix_payments_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    out_trade_no: Mapped[str] = mapped_column(String(32), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(8), server_default=PaymentPurpose.STAY.value)
    stay_ref: Mapped[str | None] = mapped_column(String(32), index=True)
    plate: Mapped[str] = mapped_column(String(16))
    operator_code: Mapped[str] = mapped_column(String(32))
    sub_mchid: Mapped[str] = mapped_column(String(32))
    appid: Mapped[str] = mapped_column(String(32))
    payer_openid: Mapped[str] = mapped_column(String(64))
    driver_id: Mapped[int | None] = mapped_column(ForeignKey("drivers.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    idempotency_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    prepay_id: Mapped[str | None] = mapped_column(String(64))
    transaction_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    # Set only on the payment that settles its stay: the unique key makes "one stay is paid
    # once" hold across concurrent transactions; a later payment stays NULL and is refunded.
    settled_stay_ref: Mapped[str | None] = mapped_column(String(32), unique=True)
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)
    profit_sharing: Mapped[bool] = mapped_column(default=False, server_default=false())


class RefundRow(Base):
    """A full or partial refund of a settled payment."""

    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint(_one_of("status", RefundStatus), name="status"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    out_refund_no: Mapped[str] = mapped_column(String(64), unique=True)
    out_trade_no: Mapped[str] = mapped_column(ForeignKey("payments.out_trade_no"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))
    refund_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime]
    succeeded_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)


class StaleWriteError(ConflictError):
    """Another transaction changed the row, or claimed the same unique value, first."""

    code = "concurrent_update"
    message_zh = "数据已被修改，请重试"


_PAYMENT_FIELDS = (
    "status",
    "prepay_id",
    "transaction_id",
    "paid_at",
    "closed_at",
    "refunded_fen",
)


def _payment(row: PaymentRow) -> Payment:
    return Payment(
        out_trade_no=row.out_trade_no,
        channel=row.channel,
        stay_ref=row.stay_ref,
        plate=row.plate,
        operator_code=row.operator_code,
        sub_mchid=row.sub_mchid,
        amount_fen=row.amount_fen,
        payer_openid=row.payer_openid,
        appid=row.appid,
        status=PaymentStatus(row.status),
        created_at=row.created_at,
        prepay_id=row.prepay_id,
        transaction_id=row.transaction_id,
        paid_at=row.paid_at,
        closed_at=row.closed_at,
        refunded_fen=row.refunded_fen,
        purpose=PaymentPurpose(row.purpose),
        profit_sharing=row.profit_sharing,
    )


def _refund(row: RefundRow) -> Refund:
    return Refund(
        out_refund_no=row.out_refund_no,
        out_trade_no=row.out_trade_no,
        amount_fen=row.amount_fen,
        reason=row.reason,
        requested_by=row.requested_by,
        status=RefundStatus(row.status),
        created_at=row.created_at,
        refund_id=row.refund_id,
        succeeded_at=row.succeeded_at,
    )


class PaymentRepository:
    """Payments and their refunds; saves write only if nobody changed the row since it was read."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._versions: dict[str, int] = {}

    async def add(
        self, payment: Payment, *, driver_id: int | None, idempotency_key: str | None
    ) -> None:
        """Record a new payment."""
        row = PaymentRow(
            out_trade_no=payment.out_trade_no,
            channel=payment.channel,
            purpose=payment.purpose.value,
            stay_ref=payment.stay_ref,
            plate=payment.plate,
            operator_code=payment.operator_code,
            sub_mchid=payment.sub_mchid,
            appid=payment.appid,
            payer_openid=payment.payer_openid,
            driver_id=driver_id,
            amount_fen=payment.amount_fen,
            status=payment.status.value,
            idempotency_key=idempotency_key,
            created_at=payment.created_at,
            refunded_fen=payment.refunded_fen,
            version=1,
            profit_sharing=payment.profit_sharing,
        )
        self._session.add(row)
        await self._flush(f"payment {payment.out_trade_no}")
        self._versions[payment.out_trade_no] = 1

    async def lock_for_write(self) -> None:
        """Take SQLite's one write lock now, before reading what this unit will change.

        SQLite opens the transaction at the first write; a unit that read first and writes after
        another writer committed fails at once ("database is locked") instead of waiting. A
        no-op write up front makes such units wait their turn (busy_timeout). PostgreSQL locks
        the rows read with `for_update` instead.
        """
        if self._session.get_bind().dialect.name == "sqlite":
            await self._session.execute(text("UPDATE payments SET version = version WHERE 0 = 1"))

    async def get(self, out_trade_no: str, *, for_update: bool = False) -> Payment | None:
        """A payment by its merchant order number; `for_update` before changing it."""
        query = select(PaymentRow).where(PaymentRow.out_trade_no == out_trade_no)
        if for_update:
            await self.lock_for_write()
            query = query.with_for_update()
        return self._track(await self._session.scalar(query))

    async def by_idempotency_key(self, key: str) -> Payment | None:
        """The payment created under an idempotency key."""
        row = await self._session.scalar(
            select(PaymentRow).where(PaymentRow.idempotency_key == key)
        )
        return self._track(row)

    async def settled_for_stay(self, stay_ref: str) -> Payment | None:
        """The payment that settled a stay, if one did."""
        row = await self._session.scalar(
            select(PaymentRow).where(PaymentRow.settled_stay_ref == stay_ref)
        )
        return self._track(row)

    async def held_for_stay(
        self, stay_ref: str, *, exclude: str | None = None, less_leaving: bool = False
    ) -> int:
        """What a stay's settled payments hold (`exclude`: but one order); with `less_leaving`,
        less the refunds asked for and not done yet (what may still be given back)."""
        net = PaymentRow.amount_fen - PaymentRow.refunded_fen
        paid = select(func.coalesce(func.sum(net), 0)).where(
            PaymentRow.stay_ref == stay_ref, PaymentRow.status.in_(_SETTLED)
        )
        leaving = (
            select(func.coalesce(func.sum(RefundRow.amount_fen), 0))
            .join(PaymentRow, PaymentRow.out_trade_no == RefundRow.out_trade_no)
            .where(PaymentRow.stay_ref == stay_ref, RefundRow.status.in_(_IN_FLIGHT))
        )
        if exclude is not None:
            paid = paid.where(PaymentRow.out_trade_no != exclude)
            leaving = leaving.where(PaymentRow.out_trade_no != exclude)
        held = int(await self._session.scalar(paid) or 0)
        if not less_leaving:
            return held
        return held - int(await self._session.scalar(leaving) or 0)

    async def paid_refs(self, stay_refs: list[str]) -> set[str]:
        """Those of the stays that settled payments still hold money for, in one query."""
        if not stay_refs:
            return set()
        net = PaymentRow.amount_fen - PaymentRow.refunded_fen
        query = (
            select(PaymentRow.stay_ref)
            .where(PaymentRow.stay_ref.in_(stay_refs), PaymentRow.status.in_(_SETTLED))
            .group_by(PaymentRow.stay_ref)
            .having(func.sum(net) > 0)
        )
        return {ref for ref in await self._session.scalars(query) if ref is not None}

    async def for_stay(self, stay_ref: str) -> list[Payment]:
        """Every payment of a stay, oldest first."""
        rows = await self._session.scalars(
            select(PaymentRow).where(PaymentRow.stay_ref == stay_ref).order_by(PaymentRow.id)
        )
        return [p for p in (self._track(r) for r in rows) if p is not None]

    async def recent(self, *, limit: int, before_id: int | None = None) -> list[Payment]:
        """The newest payments first (finance's list), below an id when paging."""
        query = select(PaymentRow).order_by(PaymentRow.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(PaymentRow.id < before_id)
        return [_payment(r) for r in await self._session.scalars(query)]

    async def open_created_before(self, moment: datetime, *, limit: int = 100) -> list[Payment]:
        """Unpaid payments older than a moment, oldest first."""
        query = (
            select(PaymentRow)
            .where(
                PaymentRow.status.in_([s.value for s in OPEN_STATUSES]),
                PaymentRow.created_at < moment,
            )
            .order_by(PaymentRow.created_at)
            .limit(limit)
        )
        return [p for p in (self._track(r) for r in await self._session.scalars(query)) if p]

    async def paid_between(self, sub_mchid: str, start: datetime, end: datetime) -> list[Payment]:
        """Payments to a sub-merchant whose payment succeeded in [start, end), by payment time."""
        query = (
            select(PaymentRow)
            .where(
                PaymentRow.sub_mchid == sub_mchid,
                PaymentRow.paid_at >= start,
                PaymentRow.paid_at < end,
                PaymentRow.status.in_([s.value for s in SETTLED_STATUSES]),
            )
            .order_by(PaymentRow.paid_at, PaymentRow.id)
        )
        return [_payment(r) for r in await self._session.scalars(query)]

    async def refunds_accepted_between(
        self, sub_mchid: str, start: datetime, end: datetime
    ) -> list[Refund]:
        """Refunds the provider accepted for a sub-merchant, asked for in [start, end)."""
        query = (
            select(RefundRow)
            .join(PaymentRow, PaymentRow.out_trade_no == RefundRow.out_trade_no)
            .where(
                PaymentRow.sub_mchid == sub_mchid,
                RefundRow.created_at >= start,
                RefundRow.created_at < end,
                RefundRow.status.in_([s.value for s in ACCEPTED_REFUNDS]),
            )
            .order_by(RefundRow.created_at, RefundRow.id)
        )
        return [_refund(r) for r in await self._session.scalars(query)]

    async def driver_of(self, out_trade_no: str) -> int | None:
        """The driver account that started a payment."""
        query = select(PaymentRow.driver_id).where(PaymentRow.out_trade_no == out_trade_no)
        return await self._session.scalar(query)

    async def save(self, payment: Payment, *, settles_stay: bool = False) -> None:
        """Write a payment read by this unit; StaleWriteError if it changed meanwhile."""
        values: dict[str, Any] = {
            name: getattr(payment, name) for name in _PAYMENT_FIELDS if name != "status"
        }
        values["status"] = payment.status.value
        if settles_stay:
            values["settled_stay_ref"] = payment.stay_ref
        await self._compare_and_set(PaymentRow, payment.out_trade_no, values)

    async def _compare_and_set(
        self, table: type[PaymentRow] | type[RefundRow], key: str, values: dict[str, Any]
    ) -> None:
        version = self._versions.get(key)
        if version is None:
            raise RuntimeError(f"{key} was not read in this unit of work")
        column = PaymentRow.out_trade_no if table is PaymentRow else RefundRow.out_refund_no
        try:
            result = await self._session.execute(
                update(table)
                .where(column == key, table.version == version)
                .values(**values, version=version + 1)
                .execution_options(synchronize_session=False)
            )
        except IntegrityError as exc:
            # e.g. two payments of one stay claiming settled_stay_ref at once: one wins.
            raise StaleWriteError(detail=f"{table.__tablename__} {key}: {exc.orig}") from exc
        if getattr(result, "rowcount", 0) != 1:
            raise StaleWriteError(detail=f"{table.__tablename__} {key} changed since read")
        self._versions[key] = version + 1

    async def _flush(self, what: str) -> None:
        try:
            await self._session.flush()
        except IntegrityError as exc:
            # The same idempotency key or number was recorded by a concurrent transaction.
            raise StaleWriteError(detail=f"{what}: {exc.orig}") from exc

    def _track(self, row: PaymentRow | None) -> Payment | None:
        if row is None:
            return None
        self._versions[row.out_trade_no] = row.version
        return _payment(row)

    async def add_refund(self, refund: Refund) -> None:
        """Record a new refund."""
        self._session.add(
            RefundRow(
                out_refund_no=refund.out_refund_no,
                out_trade_no=refund.out_trade_no,
                amount_fen=refund.amount_fen,
                reason=refund.reason,
                requested_by=refund.requested_by,
                status=refund.status.value,
                created_at=refund.created_at,
                version=1,
            )
        )
        await self._flush(f"refund {refund.out_refund_no}")
        self._versions[refund.out_refund_no] = 1

    async def get_refund(self, out_refund_no: str, *, for_update: bool = False) -> Refund | None:
        """A refund by its merchant refund number; `for_update` before changing it."""
        query = select(RefundRow).where(RefundRow.out_refund_no == out_refund_no)
        if for_update:
            await self.lock_for_write()
            query = query.with_for_update()
        row = await self._session.scalar(query)
        if row is None:
            return None
        self._versions[row.out_refund_no] = row.version
        return _refund(row)

    async def refunds_of(self, out_trade_no: str) -> list[Refund]:
        """Every refund of a payment, oldest first."""
        rows = await self._session.scalars(
            select(RefundRow).where(RefundRow.out_trade_no == out_trade_no).order_by(RefundRow.id)
        )
        return [_refund(r) for r in rows]

    async def refunds_in(self, status: RefundStatus, *, limit: int = 100) -> list[Refund]:
        """Refunds in one state, oldest first."""
        query = (
            select(RefundRow)
            .where(RefundRow.status == status.value)
            .order_by(RefundRow.id)
            .limit(limit)
        )
        return [_refund(r) for r in await self._session.scalars(query)]

    async def in_flight_fen(self, out_trade_no: str) -> int:
        """Fen of a payment's refunds that are asked for but not finished."""
        query = select(func.coalesce(func.sum(RefundRow.amount_fen), 0)).where(
            RefundRow.out_trade_no == out_trade_no,
            RefundRow.status.in_([s.value for s in IN_FLIGHT_REFUNDS]),
        )
        return int(await self._session.scalar(query) or 0)

    async def save_refund(self, refund: Refund) -> None:
        """Write a refund read by this unit; StaleWriteError if it changed meanwhile."""
        values = {
            "status": refund.status.value,
            "refund_id": refund.refund_id,
            "succeeded_at": refund.succeeded_at,
        }
        await self._compare_and_set(RefundRow, refund.out_refund_no, values)
