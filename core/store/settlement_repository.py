"""Reads and writes of contracts and profit sharing for the settlement services; no commits."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.payments import SETTLED_STATUSES, Payment, RefundStatus
from core.shares import Contract, ReceiverAccount, ShareBasis
from core.store.activity import LedgerEntryRow, LedgerPostingRow, StayRow
from core.store.city import BerthRow, OperatorRow, ZoneRow
from core.store.payments import PaymentRepository, PaymentRow, RefundRow, StaleWriteError
from core.store.settlement import (
    ContractRow,
    ShareLineRow,
    ShareOrderRow,
    ShareReceiverRow,
    ShareReturnRow,
)

_SETTLED = sorted(s.value for s in SETTLED_STATUSES)
OPEN_ORDER_STATES = ("created", "processing")


def contract_of(row: ContractRow) -> Contract:
    """The contract a stored version says."""
    return Contract(
        operator_code=row.operator_code,
        basis=ShareBasis(row.basis),
        city=ReceiverAccount(row.city_mchid, row.city_name),
        platform=ReceiverAccount(row.platform_mchid, row.platform_name),
        city_bp=row.city_bp,
        platform_bp=row.platform_bp,
        concession_fen_per_berth=row.concession_fen_per_berth,
        max_share_bp=row.max_share_bp,
        starts_on=row.starts_on,
    )


class SettlementRepository:
    """Contracts, receivers, sharing orders with their lines, and returns."""

    def __init__(self, session: AsyncSession, payments: PaymentRepository) -> None:
        self._session = session
        self._payments = payments

    def add_contract(self, row: ContractRow) -> None:
        """Store a new version of an operator's contract."""
        self._session.add(row)

    async def contract(self, operator_code: str, on: date) -> Contract | None:
        """The operator's contract in force on a day, if any."""
        query = (
            select(ContractRow)
            .where(ContractRow.operator_code == operator_code, ContractRow.starts_on <= on)
            .order_by(ContractRow.starts_on.desc(), ContractRow.id.desc())
            .limit(1)
        )
        row = await self._session.scalar(query)
        return None if row is None else contract_of(row)

    async def contracts(self, on: date) -> list[Contract]:
        """Every operator's contract in force on a day."""
        codes = await self._session.scalars(select(ContractRow.operator_code).distinct())
        found = [await self.contract(code, on) for code in sorted(codes)]
        return [c for c in found if c is not None]

    async def operator(self, operator_code: str) -> OperatorRow | None:
        """An operator by code."""
        row: OperatorRow | None = await self._session.scalar(
            select(OperatorRow).where(OperatorRow.code == operator_code)
        )
        return row

    async def operator_codes(self) -> list[str]:
        """Every operator's code."""
        return list(
            await self._session.scalars(select(OperatorRow.code).order_by(OperatorRow.code))
        )

    async def berths_of(self, operator_code: str) -> int:
        """How many on-street berths the operator's zones have (the concession fee's base)."""
        query = (
            select(func.count(BerthRow.id))
            .join(ZoneRow, ZoneRow.id == BerthRow.zone_id)
            .join(OperatorRow, OperatorRow.id == ZoneRow.operator_id)
            .where(OperatorRow.code == operator_code)
        )
        return int(await self._session.scalar(query) or 0)

    async def known_receivers(self, sub_mchid: str) -> set[str]:
        """Receivers already added for a sub-merchant."""
        query = select(ShareReceiverRow.account).where(ShareReceiverRow.sub_mchid == sub_mchid)
        return set(await self._session.scalars(query))

    def receiver_added(self, sub_mchid: str, account: str, at: datetime) -> None:
        """Note that WeChat Pay accepted a receiver for a sub-merchant."""
        self._session.add(ShareReceiverRow(sub_mchid=sub_mchid, account=account, added_at=at))

    async def unshared(self, operator_code: str, start: datetime, end: datetime) -> list[Payment]:
        """Profit-sharing payments of the operator paid in [start, end) with no order yet."""
        query = (
            select(PaymentRow.out_trade_no)
            .outerjoin(ShareOrderRow, ShareOrderRow.out_trade_no == PaymentRow.out_trade_no)
            .where(
                PaymentRow.operator_code == operator_code,
                PaymentRow.profit_sharing.is_(True),
                PaymentRow.status.in_(_SETTLED),
                PaymentRow.paid_at >= start,
                PaymentRow.paid_at < end,
                ShareOrderRow.id.is_(None),
            )
            .order_by(PaymentRow.paid_at, PaymentRow.id)
        )
        found = [await self._payments.get(no) for no in await self._session.scalars(query)]
        return [p for p in found if p is not None]

    async def add_order(self, order: ShareOrderRow, lines: list[ShareLineRow]) -> None:
        """Record a sharing order and its lines (flushed, so they have ids)."""
        self._session.add(order)
        await self._flush(order.out_order_no)
        for line in lines:
            line.order_id = order.id
            self._session.add(line)
        await self._flush(order.out_order_no)

    async def order(self, out_order_no: str, *, for_update: bool = False) -> ShareOrderRow | None:
        """A sharing order by its number."""
        query = select(ShareOrderRow).where(ShareOrderRow.out_order_no == out_order_no)
        if for_update:
            query = query.with_for_update()
        row: ShareOrderRow | None = await self._session.scalar(query)
        return row

    async def lines(self, order_id: int) -> list[ShareLineRow]:
        """The receivers' lines of an order."""
        query = select(ShareLineRow).where(ShareLineRow.order_id == order_id)
        return list(await self._session.scalars(query.order_by(ShareLineRow.id)))

    async def open_orders(self, period: date | None = None) -> list[ShareOrderRow]:
        """Orders not yet finished at the provider (of one day, or of any)."""
        query = select(ShareOrderRow).where(ShareOrderRow.state.in_(OPEN_ORDER_STATES))
        if period is not None:
            query = query.where(ShareOrderRow.period == period)
        return list(await self._session.scalars(query.order_by(ShareOrderRow.id)))

    async def city_sent(self, operator_code: str, first: date, last: date) -> int:
        """Fen the city kept of shares of payments made between two days (inclusive)."""
        query = (
            select(func.coalesce(func.sum(ShareLineRow.amount_fen - ShareLineRow.returned_fen), 0))
            .join(ShareOrderRow, ShareOrderRow.id == ShareLineRow.order_id)
            .where(
                ShareOrderRow.operator_code == operator_code,
                ShareOrderRow.period >= first,
                ShareOrderRow.period <= last,
                ShareLineRow.receiver == "city",
                ShareLineRow.result != "CLOSED",
            )
        )
        return int(await self._session.scalar(query) or 0)

    async def refunded_since_sharing(self) -> list[tuple[ShareOrderRow, Payment]]:
        """Finished share orders whose payment was refunded after the shares were computed."""
        query = (
            select(ShareOrderRow)
            .join(PaymentRow, PaymentRow.out_trade_no == ShareOrderRow.out_trade_no)
            .where(
                ShareOrderRow.kind == "share",
                ShareOrderRow.state == "finished",
                PaymentRow.refunded_fen > ShareOrderRow.refunded_before_fen,
            )
            .order_by(ShareOrderRow.id)
        )
        found = []
        for row in await self._session.scalars(query):
            payment = await self._payments.get(row.out_trade_no)
            if payment is not None:
                found.append((row, payment))
        return found

    async def add_return(self, row: ShareReturnRow) -> None:
        """Record a return before the provider is asked (flushed)."""
        self._session.add(row)
        await self._flush(row.out_return_no)

    async def _flush(self, what: str) -> None:
        try:
            await self._session.flush()
        except IntegrityError as exc:
            # A concurrent run recorded the same number first; retrying reads it.
            raise StaleWriteError(detail=f"{what}: {exc.orig}") from exc

    async def share_return(
        self, out_return_no: str, *, for_update: bool = False
    ) -> ShareReturnRow | None:
        """A return by its number."""
        query = select(ShareReturnRow).where(ShareReturnRow.out_return_no == out_return_no)
        if for_update:
            query = query.with_for_update()
        row: ShareReturnRow | None = await self._session.scalar(query)
        return row

    async def line(self, line_id: int) -> ShareLineRow:
        """One line by id."""
        row = await self._session.get(ShareLineRow, line_id)
        if row is None:
            raise LookupError(f"share line {line_id}")
        return row

    async def order_by_id(self, order_id: int) -> ShareOrderRow:
        """One order by id."""
        row = await self._session.get(ShareOrderRow, order_id)
        if row is None:
            raise LookupError(f"share order {order_id}")
        return row

    async def pending_return_fen(self, line_id: int) -> int:
        """Fen of a line's returns asked for and not yet answered."""
        query = select(func.coalesce(func.sum(ShareReturnRow.amount_fen), 0)).where(
            ShareReturnRow.line_id == line_id,
            ShareReturnRow.result.in_(("CREATED", "PROCESSING")),
        )
        return int(await self._session.scalar(query) or 0)

    async def open_returns(self) -> list[tuple[ShareReturnRow, ShareLineRow, ShareOrderRow]]:
        """Returns not yet answered SUCCESS or FAILED, with their line and order."""
        query = (
            select(ShareReturnRow, ShareLineRow, ShareOrderRow)
            .join(ShareLineRow, ShareLineRow.id == ShareReturnRow.line_id)
            .join(ShareOrderRow, ShareOrderRow.id == ShareLineRow.order_id)
            .where(ShareReturnRow.result.in_(("CREATED", "PROCESSING")))
            .order_by(ShareReturnRow.id)
        )
        return [(r, line, order) for r, line, order in (await self._session.execute(query))]

    async def sent_between(
        self, operator_code: str, start: datetime, end: datetime
    ) -> dict[str, int]:
        """Fen sent to each receiver by orders finished in [start, end)."""
        query = (
            select(ShareLineRow.receiver, func.sum(ShareLineRow.amount_fen))
            .join(ShareOrderRow, ShareOrderRow.id == ShareLineRow.order_id)
            .where(
                ShareOrderRow.operator_code == operator_code,
                ShareOrderRow.finished_at >= start,
                ShareOrderRow.finished_at < end,
                ShareLineRow.result == "SUCCESS",
            )
            .group_by(ShareLineRow.receiver)
        )
        return {r: int(fen) for r, fen in await self._session.execute(query)}

    async def returned_between(
        self, operator_code: str, start: datetime, end: datetime
    ) -> dict[str, int]:
        """Fen given back by each receiver in returns finished in [start, end)."""
        query = (
            select(ShareLineRow.receiver, func.sum(ShareReturnRow.amount_fen))
            .join(ShareLineRow, ShareLineRow.id == ShareReturnRow.line_id)
            .join(ShareOrderRow, ShareOrderRow.id == ShareLineRow.order_id)
            .where(
                and_(
                    ShareOrderRow.operator_code == operator_code,
                    ShareReturnRow.finished_at >= start,
                    ShareReturnRow.finished_at < end,
                    ShareReturnRow.result == "SUCCESS",
                )
            )
            .group_by(ShareLineRow.receiver)
        )
        return {r: int(fen) for r, fen in await self._session.execute(query)}

    async def refunds_succeeded(self, sub_mchid: str, start: datetime, end: datetime) -> int:
        """Fen refunded from the sub-merchant's payments, by refunds that succeeded in the span."""
        query = (
            select(func.coalesce(func.sum(RefundRow.amount_fen), 0))
            .join(PaymentRow, PaymentRow.out_trade_no == RefundRow.out_trade_no)
            .where(
                PaymentRow.sub_mchid == sub_mchid,
                RefundRow.status == RefundStatus.SUCCESS.value,
                RefundRow.succeeded_at >= start,
                RefundRow.succeeded_at < end,
            )
        )
        return int(await self._session.scalar(query) or 0)

    async def movement(self, account_key: str, start: datetime, end: datetime) -> int:
        """Debits less credits of one ledger account by entries posted in the span."""
        query = (
            select(
                func.coalesce(func.sum(LedgerPostingRow.debit_fen - LedgerPostingRow.credit_fen), 0)
            )
            .join(LedgerEntryRow, LedgerEntryRow.id == LedgerPostingRow.entry_id)
            .where(
                LedgerPostingRow.account == account_key,
                LedgerEntryRow.created_at >= start,
                LedgerEntryRow.created_at < end,
            )
        )
        return int(await self._session.scalar(query) or 0)

    async def street_stay_payments(
        self, operator_code: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime, int]]:
        """(paid at, car left at, fen held) of the operator's street-stay payments in the span."""
        query = (
            select(
                PaymentRow.paid_at,
                StayRow.exited_at,
                PaymentRow.amount_fen - PaymentRow.refunded_fen,
            )
            .join(StayRow, StayRow.ref == PaymentRow.stay_ref)
            .where(
                PaymentRow.operator_code == operator_code,
                PaymentRow.status.in_(_SETTLED),
                PaymentRow.paid_at >= start,
                PaymentRow.paid_at < end,
                StayRow.lot_id.is_(None),
                StayRow.exited_at.is_not(None),
            )
        )
        return [(paid, left, int(fen)) for paid, left, fen in await self._session.execute(query)]
