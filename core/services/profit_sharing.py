"""Daily profit sharing (分账): each shared payment's fen go from its sub-merchant to receivers.

`run_profit_sharing(uows, clock, gateway, period_date)` is the daily job: it first takes back
shares of payments refunded since they were shared, then records one order per profit-sharing
payment paid on the Beijing day `period_date` (its split fixed by the operator's contract) and
sends every order not yet finished. Orders and returns are recorded before the
provider is asked and carry numbers derived from the payment and refund, so running it again,
or on two workers, sends nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from core.bills import day_bounds
from core.clock import Clock
from core.errors import DomainError
from core.ledger import share_returned, shares_sent
from core.payments import Payment, RefundStatus
from core.profit_sharing import (
    ProfitSharingGateway,
    ReturnRequest,
    ReturnResult,
    ShareLine,
    ShareOrderReport,
    ShareOrderRequest,
    ShareOrderState,
)
from core.services.retrying import Uows, retrying
from core.settlement import month_of
from core.shares import (
    Contract,
    Receiver,
    ReceiverAccount,
    ShareBasis,
    Split,
    concession_due,
    share_to_return,
    split_payment,
)
from core.store.settlement import ShareLineRow, ShareOrderRow, ShareReturnRow
from core.store.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

SHARE_DESCRIPTIONS = {Receiver.CITY: "特许经营分成", Receiver.PLATFORM: "平台服务分成"}
RETURN_DESCRIPTION = "停车费退款，回退分账"


@dataclass(frozen=True, slots=True)
class SharingRun:
    """What one run did: orders finished, fen shared and returned, payments it could not send."""

    period: date
    orders_finished: int
    shared_fen: int
    returned_fen: int
    failed: tuple[str, ...]


async def run_profit_sharing(
    uows: Uows, clock: Clock, gateway: ProfitSharingGateway, period_date: date
) -> SharingRun:
    """Return shares of refunds, then share the payments of one Beijing day; idempotent.

    Orders of earlier days still open (refused, unreachable, PROCESSING) are sent again too.
    """
    returned = await return_refunded_shares(uows, clock, gateway)
    # Two workers at once: the second's orders clash on their numbers and it reads them anew.
    await retrying(lambda: _record_orders(uows, clock, period_date))
    async with uows() as uow:  # earlier days' open orders too: a failed send is retried
        pending = [o.out_order_no for o in await uow.settlement.open_orders()]
    finished, shared, failed = 0, 0, []
    for out_order_no in pending:
        try:
            fen = await send_order(uows, clock, gateway, out_order_no)
        except DomainError as exc:  # left open: the next run sends the same order again
            log.warning("profit sharing %s not sent: %s %s", out_order_no, exc.code, exc.detail)
            failed.append(out_order_no)
            continue
        if fen is not None:
            finished, shared = finished + 1, shared + fen
    return SharingRun(period_date, finished, shared, returned, tuple(failed))


async def _record_orders(uows: Uows, clock: Clock, period_date: date) -> None:
    """One order per unshared payment of the day, split by the contract in force that day."""
    start, end = day_bounds(period_date)
    async with uows() as uow:
        await uow.payments.lock_for_write()
        for contract in await uow.settlement.contracts(period_date):
            left = await concession_left(uow, contract, period_date)
            for payment in await uow.settlement.unshared(contract.operator_code, start, end):
                if payment.transaction_id is None:
                    continue
                in_flight = await uow.payments.in_flight_fen(payment.out_trade_no)
                held = max(payment.amount_fen - payment.refunded_fen - in_flight, 0)
                split = split_payment(contract, held, left)
                # What the month's concession fee still owes; on the percent basis there is none
                # to count down (it stays 0, so a second payment of the day is split as well).
                left = max(left - split.city_fen, 0)
                order, lines = _order_of(contract, payment, held, split, period_date, clock)
                await uow.settlement.add_order(order, lines)
        await uow.commit()


def _order_of(
    contract: Contract, payment: Payment, held: int, split: Split, period: date, clock: Clock
) -> tuple[ShareOrderRow, list[ShareLineRow]]:
    """The order of a payment (an unfreeze when nothing is shared) and a line per receiver."""
    order = ShareOrderRow(
        out_order_no=f"PS{payment.out_trade_no[2:]}",
        out_trade_no=payment.out_trade_no,
        transaction_id=str(payment.transaction_id),
        operator_code=contract.operator_code,
        sub_mchid=payment.sub_mchid,
        period=period,
        kind="share" if split.shared_fen else "unfreeze",
        state="created",
        held_fen=held,
        refunded_before_fen=payment.amount_fen - held,
        created_at=clock.now(),
    )
    parts = ((Receiver.CITY, split.city_fen), (Receiver.PLATFORM, split.platform_fen))
    lines = [
        ShareLineRow(
            receiver=receiver.value,
            account=_account(contract, receiver).mchid,
            amount_fen=fen,
            result="PENDING",
            returned_fen=0,
        )
        for receiver, fen in parts
        if fen > 0
    ]
    return order, lines


async def concession_left(uow: UnitOfWork, contract: Contract, day: date) -> int:
    """What the city is still owed of the month's concession fee by shares already recorded."""
    if contract.basis is not ShareBasis.CONCESSION_FEE:
        return 0
    first, last = month_of(day)
    due = concession_due(contract, await uow.settlement.berths_of(contract.operator_code))
    return max(due - await uow.settlement.city_sent(contract.operator_code, first, last), 0)


def _account(contract: Contract, receiver: Receiver) -> ReceiverAccount:
    return contract.city if receiver is Receiver.CITY else contract.platform


async def send_order(
    uows: Uows, clock: Clock, gateway: ProfitSharingGateway, out_order_no: str
) -> int | None:
    """Send (or query) one recorded order; answers the fen shared once it finished."""
    async with uows() as uow:
        order = await uow.settlement.order(out_order_no)
        if order is None or order.state == "finished":
            return None
        lines = await uow.settlement.lines(order.id)
        contract = await uow.settlement.contract(order.operator_code, order.period)
        known = await uow.settlement.known_receivers(order.sub_mchid)
    if order.state == "processing":
        report = await gateway.query(order.sub_mchid, order.transaction_id, out_order_no)
    elif order.kind == "unfreeze":
        report = await gateway.unfreeze(
            order.sub_mchid, order.transaction_id, out_order_no, "无需分账，解冻全部资金"
        )
    else:
        if contract is None:
            raise DomainError(detail=f"{order.operator_code} has no contract on {order.period}")
        await _add_receivers(uows, clock, gateway, order.sub_mchid, contract, lines, known)
        request = ShareOrderRequest(
            sub_mchid=order.sub_mchid,
            transaction_id=order.transaction_id,
            out_order_no=out_order_no,
            lines=tuple(
                ShareLine(
                    line.account, line.amount_fen, SHARE_DESCRIPTIONS[Receiver(line.receiver)]
                )
                for line in lines
            ),
        )
        report = await gateway.order(request)
    return await _apply_order(uows, clock, out_order_no, report)


async def _add_receivers(
    uows: Uows,
    clock: Clock,
    gateway: ProfitSharingGateway,
    sub_mchid: str,
    contract: Contract,
    lines: list[ShareLineRow],
    known: set[str],
) -> None:
    for line in lines:
        if line.account in known:
            continue
        await gateway.add_receiver(sub_mchid, _account(contract, Receiver(line.receiver)))
        async with uows() as uow:
            if line.account not in await uow.settlement.known_receivers(sub_mchid):
                uow.settlement.receiver_added(sub_mchid, line.account, clock.now())
                await uow.commit()
        known.add(line.account)


async def _apply_order(
    uows: Uows, clock: Clock, out_order_no: str, report: ShareOrderReport
) -> int | None:
    """Record the provider's answer; a finished order posts its shares once (row locked)."""
    async with uows() as uow:
        await uow.payments.lock_for_write()  # SQLite: wait for a concurrent run's answer first
        order = await uow.settlement.order(out_order_no, for_update=True)
        if order is None or order.state == "finished":
            return None
        order.order_id = report.order_id
        results = {line.account: line.result for line in report.lines}
        lines = await uow.settlement.lines(order.id)
        for line in lines:
            if line.account in results:
                line.result = results[line.account].value
        if report.state is not ShareOrderState.FINISHED:
            order.state = "processing"
            await uow.commit()
            return None
        order.state, order.finished_at = "finished", clock.now()
        sent = {line.receiver: line.amount_fen for line in lines if line.result == "SUCCESS"}
        if sum(sent.values()):
            entry = shares_sent(out_order_no, order.sub_mchid, order.operator_code, sent)
            await uow.ledger.post(entry, clock.now())
        await uow.commit()
        return sum(sent.values())


async def return_refunded_shares(uows: Uows, clock: Clock, gateway: ProfitSharingGateway) -> int:
    """Take back from receivers their part of refunds made since sharing; answers fen returned.

    Each receiver gives back `share_to_return` of what was refunded; the return's number is
    made of the latest refund's and the receiver's, so a second run asks nothing twice.
    """
    await retrying(lambda: _record_returns(uows, clock))
    async with uows() as uow:
        waiting = await uow.settlement.open_returns()
    returned = 0
    for row, line, order in waiting:
        request = ReturnRequest(
            sub_mchid=order.sub_mchid,
            out_order_no=order.out_order_no,
            out_return_no=row.out_return_no,
            account=line.account,
            amount_fen=row.amount_fen,
            description=RETURN_DESCRIPTION,
        )
        try:
            report = await gateway.return_share(request)
        except DomainError as exc:
            log.warning("share return %s not sent: %s %s", row.out_return_no, exc.code, exc.detail)
            continue
        returned += await _apply_return(
            uows, clock, row.out_return_no, report.result, report.return_id
        )
    return returned


async def _record_returns(uows: Uows, clock: Clock) -> None:
    async with uows() as uow:
        await uow.payments.lock_for_write()
        for order, payment in await uow.settlement.refunded_since_sharing():
            refunds = [
                r
                for r in await uow.payments.refunds_of(payment.out_trade_no)
                if r.status is RefundStatus.SUCCESS
            ]
            if not refunds:
                continue
            refunded = min(payment.refunded_fen - order.refunded_before_fen, order.held_fen)
            latest = max(refunds, key=lambda r: (r.succeeded_at or r.created_at, r.out_refund_no))
            for line in await uow.settlement.lines(order.id):
                # Returns still under way count as given back, or a second refund would ask twice.
                asked = line.returned_fen + await uow.settlement.pending_return_fen(line.id)
                back = share_to_return(line.amount_fen, order.held_fen, refunded, asked)
                number = f"PR{latest.out_refund_no[2:]}{line.receiver[0].upper()}"
                if line.result != "SUCCESS" or back <= 0:
                    continue
                if await uow.settlement.share_return(number) is not None:
                    continue
                await uow.settlement.add_return(
                    ShareReturnRow(
                        out_return_no=number,
                        line_id=line.id,
                        out_refund_no=latest.out_refund_no,
                        amount_fen=back,
                        result="CREATED",
                        created_at=clock.now(),
                    )
                )
        await uow.commit()


async def _apply_return(
    uows: Uows, clock: Clock, out_return_no: str, result: ReturnResult, return_id: str
) -> int:
    async with uows() as uow:
        await uow.payments.lock_for_write()
        row = await uow.settlement.share_return(out_return_no, for_update=True)
        if row is None or row.result in ("SUCCESS", "FAILED"):
            return 0
        row.result, row.return_id = result.value, return_id
        if result is not ReturnResult.SUCCESS:
            await uow.commit()
            return 0
        row.finished_at = clock.now()
        line = await uow.settlement.line(row.line_id)
        order = await uow.settlement.order_by_id(line.order_id)
        line.returned_fen += row.amount_fen
        entry = share_returned(
            out_return_no, order.sub_mchid, order.operator_code, line.receiver, row.amount_fen
        )
        await uow.ledger.post(entry, clock.now())
        await uow.commit()
        return row.amount_fen
