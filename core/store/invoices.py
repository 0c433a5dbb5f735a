"""Tables and repository of invoices, their payment lines and drivers' saved buyer titles."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.invoices import (
    HOLDING,
    BuyerTitle,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    TitleKind,
)
from core.payments import SETTLED_STATUSES, Payment
from core.store.base import Base
from core.store.city import OperatorRow
from core.store.payments import PaymentRow, StaleWriteError, _payment


def _one_of(column: str, values: type[InvoiceStatus] | type[InvoiceKind] | type[TitleKind]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class InvoiceRow(Base):
    """One application for an invoice or fiscal receipt to one seller."""

    __tablename__ = "invoices"
    __table_args__ = (
        CheckConstraint(_one_of("status", InvoiceStatus), name="status"),
        CheckConstraint(_one_of("kind", InvoiceKind), name="kind"),
        CheckConstraint(_one_of("title_kind", TitleKind), name="title_kind"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        Index("ix_invoices_status_next_try_at", "status", "next_try_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_no: Mapped[str] = mapped_column(String(32), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("drivers.id"), index=True)
    sub_mchid: Mapped[str] = mapped_column(String(32), index=True)
    operator_code: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    title_kind: Mapped[str] = mapped_column(String(10))
    title_name: Mapped[str] = mapped_column(String(100))
    tax_id: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(255))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(default=0)
    next_try_at: Mapped[datetime | None]
    failure: Mapped[str | None] = mapped_column(String(200))
    document_code: Mapped[str | None] = mapped_column(String(32))
    document_number: Mapped[str | None] = mapped_column(String(32))
    check_code: Mapped[str | None] = mapped_column(String(32))
    file_url: Mapped[str | None] = mapped_column(String(500))
    replaces: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    issued_at: Mapped[datetime | None]
    reversed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)


class InvoiceLineRow(Base):
    """A payment on an invoice; `live_trade_no` is set while the invoice holds the payment."""

    __tablename__ = "invoice_lines"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_no: Mapped[str] = mapped_column(ForeignKey("invoices.invoice_no"), index=True)
    out_trade_no: Mapped[str] = mapped_column(ForeignKey("payments.out_trade_no"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    # Unique: a payment is on at most one live invoice, whatever concurrent requests do.
    live_trade_no: Mapped[str | None] = mapped_column(String(32), unique=True)


class InvoiceTitleRow(Base):
    """A buyer title a driver saved for reuse."""

    __tablename__ = "invoice_titles"
    __table_args__ = (CheckConstraint(_one_of("kind", TitleKind), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("drivers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(100))
    tax_id: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]


_SAVED = (
    "status",
    "attempts",
    "next_try_at",
    "failure",
    "document_code",
    "document_number",
    "check_code",
    "file_url",
    "issued_at",
    "reversed_at",
)


class InvoiceRepository:
    """Invoices and titles; saves are compare-and-set on the invoice's version."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._versions: dict[str, int] = {}

    async def add(self, invoice: Invoice, *, idempotency_key: str | None) -> None:
        """Record a new invoice holding its payments; StaleWriteError if one is held already."""
        title = invoice.title
        self._session.add(
            InvoiceRow(
                invoice_no=invoice.invoice_no,
                idempotency_key=idempotency_key,
                driver_id=invoice.driver_id,
                sub_mchid=invoice.sub_mchid,
                operator_code=invoice.operator_code,
                kind=invoice.kind.value,
                title_kind=title.kind.value,
                title_name=title.name,
                tax_id=title.tax_id,
                email=title.email,
                amount_fen=invoice.amount_fen,
                status=invoice.status.value,
                attempts=invoice.attempts,
                next_try_at=invoice.next_try_at,
                replaces=invoice.replaces,
                created_at=invoice.created_at,
                version=1,
            )
        )
        await self._flush(invoice.invoice_no)  # the lines refer to it: it goes first
        live = invoice.status in HOLDING
        for line in invoice.lines:
            self._session.add(
                InvoiceLineRow(
                    invoice_no=invoice.invoice_no,
                    out_trade_no=line.out_trade_no,
                    amount_fen=line.amount_fen,
                    live_trade_no=line.out_trade_no if live else None,
                )
            )
        await self._flush(invoice.invoice_no)
        self._versions[invoice.invoice_no] = 1

    async def _flush(self, invoice_no: str) -> None:
        try:
            await self._session.flush()
        except IntegrityError as exc:
            # e.g. a concurrent request put one of the payments on a live invoice first.
            raise StaleWriteError(detail=f"invoice {invoice_no}: {exc.orig}") from exc

    async def get(self, invoice_no: str) -> Invoice | None:
        """An invoice by its number."""
        row = await self._session.scalar(
            select(InvoiceRow).where(InvoiceRow.invoice_no == invoice_no)
        )
        return (await self._load([row]))[0] if row is not None else None

    async def by_idempotency_key(self, key: str) -> Invoice | None:
        """The invoice requested under a key."""
        row = await self._session.scalar(
            select(InvoiceRow).where(InvoiceRow.idempotency_key == key)
        )
        return (await self._load([row]))[0] if row is not None else None

    async def of_driver(self, driver_id: int, *, limit: int = 100) -> list[Invoice]:
        """A driver's invoices, newest first."""
        query = (
            select(InvoiceRow)
            .where(InvoiceRow.driver_id == driver_id)
            .order_by(InvoiceRow.id.desc())
            .limit(limit)
        )
        return await self._load(list(await self._session.scalars(query)))

    async def listed(
        self, *, status: InvoiceStatus | None, sub_mchid: str | None, limit: int, after_id: int
    ) -> list[tuple[int, Invoice]]:
        """Invoices for staff, oldest first from an id, optionally of one state or seller."""
        query = select(InvoiceRow).where(InvoiceRow.id > after_id).order_by(InvoiceRow.id)
        if status is not None:
            query = query.where(InvoiceRow.status == status.value)
        if sub_mchid is not None:
            query = query.where(InvoiceRow.sub_mchid == sub_mchid)
        rows = list(await self._session.scalars(query.limit(limit)))
        return list(zip((r.id for r in rows), await self._load(rows), strict=True))

    async def id_of(self, invoice_no: str) -> int:
        """The row id staff pages by."""
        found = await self._session.scalar(
            select(InvoiceRow.id).where(InvoiceRow.invoice_no == invoice_no)
        )
        return int(found or 0)

    async def totals_between(
        self, start: datetime, end: datetime, *, operators: frozenset[str] | None = None
    ) -> dict[InvoiceStatus, int]:
        """Fen of the invoices created in [start, end), by state (`operators`: only theirs)."""
        query = (
            select(InvoiceRow.status, func.sum(InvoiceRow.amount_fen))
            .where(InvoiceRow.created_at >= start, InvoiceRow.created_at < end)
            .group_by(InvoiceRow.status)
        )
        if operators is not None:
            query = query.where(InvoiceRow.operator_code.in_(sorted(operators)))
        return {InvoiceStatus(s): int(t or 0) for s, t in await self._session.execute(query)}

    async def due(self, now: datetime, *, limit: int = 50) -> list[Invoice]:
        """Invoices the sweep should send: to issue, to retry, or to reverse, oldest first."""
        waiting = [
            s.value
            for s in (
                InvoiceStatus.REQUESTED,
                InvoiceStatus.FAILED,
                InvoiceStatus.ISSUING,
                InvoiceStatus.REVERSING,
            )
        ]
        query = (
            select(InvoiceRow)
            .where(InvoiceRow.status.in_(waiting), InvoiceRow.next_try_at <= now)
            .order_by(InvoiceRow.next_try_at, InvoiceRow.id)
            .limit(limit)
        )
        return await self._load(list(await self._session.scalars(query)))

    async def holding(self, out_trade_no: str) -> Invoice | None:
        """The live invoice a payment is on, if any."""
        no = await self._session.scalar(
            select(InvoiceLineRow.invoice_no).where(InvoiceLineRow.live_trade_no == out_trade_no)
        )
        return await self.get(no) if no is not None else None

    async def live_trade_nos(self, out_trade_nos: list[str]) -> set[str]:
        """Those of the payments that a live invoice holds."""
        if not out_trade_nos:
            return set()
        query = select(InvoiceLineRow.live_trade_no).where(
            InvoiceLineRow.live_trade_no.in_(out_trade_nos)
        )
        return {no for no in await self._session.scalars(query) if no is not None}

    async def reversing_of(self, out_trade_no: str) -> list[Invoice]:
        """Invoices of a payment owing or under a reversal."""
        query = (
            select(InvoiceRow)
            .join(InvoiceLineRow, InvoiceLineRow.invoice_no == InvoiceRow.invoice_no)
            .where(
                InvoiceLineRow.out_trade_no == out_trade_no,
                InvoiceRow.status == InvoiceStatus.REVERSING.value,
            )
        )
        return await self._load(list(await self._session.scalars(query)))

    async def save(self, invoice: Invoice) -> None:
        """Write an invoice read by this unit; a reversed one lets go of its payments."""
        version = self._versions.get(invoice.invoice_no)
        if version is None:
            raise RuntimeError(f"{invoice.invoice_no} was not read in this unit of work")
        values: dict[str, Any] = {name: getattr(invoice, name) for name in _SAVED}
        values["status"] = invoice.status.value
        result = await self._session.execute(
            update(InvoiceRow)
            .where(InvoiceRow.invoice_no == invoice.invoice_no, InvoiceRow.version == version)
            .values(**values, version=version + 1)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            raise StaleWriteError(detail=f"invoice {invoice.invoice_no} changed since read")
        self._versions[invoice.invoice_no] = version + 1
        if invoice.status in (InvoiceStatus.REVERSING, InvoiceStatus.REVERSED):
            await self._session.execute(
                update(InvoiceLineRow)
                .where(InvoiceLineRow.invoice_no == invoice.invoice_no)
                .values(live_trade_no=None)
                .execution_options(synchronize_session=False)
            )

    async def settled_payments(self, driver_id: int, *, limit: int = 100) -> list[Payment]:
        """A driver's settled payments, newest first."""
        query = (
            select(PaymentRow)
            .where(
                PaymentRow.driver_id == driver_id,
                PaymentRow.status.in_([s.value for s in SETTLED_STATUSES]),
            )
            .order_by(PaymentRow.paid_at.desc(), PaymentRow.id.desc())
            .limit(limit)
        )
        return [_payment(r) for r in await self._session.scalars(query)]

    async def fiscal_seller(self, sub_mchid: str) -> bool:
        """Whether the operator paid as this sub-merchant issues fiscal e-receipts."""
        query = select(OperatorRow.fiscal_receipts).where(OperatorRow.sub_mchid == sub_mchid)
        return bool(await self._session.scalar(query))

    async def add_title(self, driver_id: int, title: BuyerTitle, now: datetime) -> int:
        """Save a title for reuse; its id."""
        row = InvoiceTitleRow(
            driver_id=driver_id,
            kind=title.kind.value,
            name=title.name,
            tax_id=title.tax_id,
            email=title.email,
            created_at=now,
        )
        self._session.add(row)
        await self._session.flush()
        return row.id

    async def titles(self, driver_id: int) -> list[tuple[int, BuyerTitle]]:
        """A driver's saved titles, oldest first."""
        rows = await self._session.scalars(
            select(InvoiceTitleRow)
            .where(InvoiceTitleRow.driver_id == driver_id)
            .order_by(InvoiceTitleRow.id)
        )
        return [(r.id, BuyerTitle(TitleKind(r.kind), r.name, r.tax_id, r.email)) for r in rows]

    async def remove_title(self, driver_id: int, title_id: int) -> bool:
        """Forget a saved title of this driver; whether there was one."""
        result = await self._session.execute(
            delete(InvoiceTitleRow).where(
                InvoiceTitleRow.id == title_id, InvoiceTitleRow.driver_id == driver_id
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def _load(self, rows: list[InvoiceRow]) -> list[Invoice]:
        if not rows:
            return []
        numbers = [r.invoice_no for r in rows]
        lines: dict[str, list[InvoiceLine]] = {n: [] for n in numbers}
        found = await self._session.scalars(
            select(InvoiceLineRow)
            .where(InvoiceLineRow.invoice_no.in_(numbers))
            .order_by(InvoiceLineRow.id)
        )
        for line in found:
            lines[line.invoice_no].append(InvoiceLine(line.out_trade_no, line.amount_fen))
        for row in rows:
            self._versions[row.invoice_no] = row.version
        return [_invoice(r, tuple(lines[r.invoice_no])) for r in rows]


def _invoice(row: InvoiceRow, lines: tuple[InvoiceLine, ...]) -> Invoice:
    return Invoice(
        invoice_no=row.invoice_no,
        driver_id=row.driver_id,
        sub_mchid=row.sub_mchid,
        operator_code=row.operator_code,
        kind=InvoiceKind(row.kind),
        title=BuyerTitle(TitleKind(row.title_kind), row.title_name, row.tax_id, row.email),
        lines=lines,
        status=InvoiceStatus(row.status),
        created_at=row.created_at,
        attempts=row.attempts,
        next_try_at=row.next_try_at,
        failure=row.failure,
        document_code=row.document_code,
        document_number=row.document_number,
        check_code=row.check_code,
        file_url=row.file_url,
        issued_at=row.issued_at,
        reversed_at=row.reversed_at,
        replaces=row.replaces,
    )
