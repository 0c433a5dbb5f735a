"""Lot rights changed by drivers' paid orders: passes made or extended, cards credited.

Every function that creates or changes a right is here and small, so staff right changes
(core/services/lot_rights.py on the lot-admin branch) can share them: `create_pass`,
`extend_pass`, `open_card`, `credit_card`, `debit_card`, `withdraw_pass`.
"""

from __future__ import annotations

import logging
from datetime import datetime

from core.clock import Clock
from core.errors import ConflictError
from core.ledger import (
    JournalEntry,
    pass_refunded,
    pass_sold,
    stored_value_refunded,
    stored_value_topped_up,
)
from core.passes import SHANGHAI, check_refund_within_balance, pass_term
from core.payments import Payment, PaymentPurpose, Refund
from core.services import audit
from core.store.lots import LotRightRow
from core.store.pass_sales import RightOrderRow
from core.store.payments import StaleWriteError
from core.store.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "system:pass_sales"
# Stored value does not lapse while it holds money (a registered prepaid card has no expiry).
NO_EXPIRY = datetime(2100, 1, 1, tzinfo=SHANGHAI)


class OrderMissingError(ConflictError):
    """A pass or top-up payment without its order: data to look at by hand."""

    code = "order_missing"
    message_zh = "订单数据异常，已转人工核查"


async def apply_paid_order(uow: UnitOfWork, clock: Clock, payment: Payment) -> LotRightRow:
    """Inside a settlement: give a paid pass or top-up order its right, exactly once."""
    order = await _order(uow, payment.out_trade_no)
    if not await uow.pass_sales.claim(order, clock.now()):
        # The payment's compare-and-set already makes this unreachable; never apply twice.
        raise StaleWriteError(detail=f"order {payment.out_trade_no} applied already")
    await uow.lots.lock_lot(order.lot_id)  # lanes read passes and spend cards under this lock
    if order.kind == PaymentPurpose.PASS.value:
        right = await _apply_pass(uow, clock, order)
        entry = pass_sold(
            payment.out_trade_no, payment.sub_mchid, payment.operator_code, payment.amount_fen
        )
        action = "lot_pass_sold"
    else:
        right = await _apply_top_up(uow, clock, order)
        entry = stored_value_topped_up(
            payment.out_trade_no, payment.sub_mchid, right.ref, payment.amount_fen
        )
        action = "stored_value_topped_up"
    await uow.ledger.post(entry, clock.now())
    details = {"right": right.ref, "amount_fen": payment.amount_fen, "plate": order.plate}
    if order.valid_until_after is not None:
        details["valid_until"] = order.valid_until_after.isoformat()
    await audit.record(
        uow, clock, SYSTEM_ACTOR, action, payment.out_trade_no, "小程序支付", details
    )
    return right


async def _apply_pass(uow: UnitOfWork, clock: Clock, order: RightOrderRow) -> LotRightRow:
    """Extend the plate's pass in force, or create one from now; record the change."""
    now, months = clock.now(), order.months or 0
    current = await uow.pass_sales.pass_in_force(order.lot_id, order.plate, now, for_update=True)
    if current is None:
        term = pass_term(months, now)
        right = await create_pass(
            uow, clock, order.lot_id, order.plate, f"MP-{order.out_trade_no}", term.valid_until
        )
        before = None
    else:
        term = pass_term(months, now, (current.valid_from, current.valid_until))
        before = current.valid_until
        right = extend_pass(current, term.valid_until)
    order.right_id, order.valid_until_before, order.valid_until_after = (
        right.id,
        before,
        right.valid_until,
    )
    return right


async def _apply_top_up(uow: UnitOfWork, clock: Clock, order: RightOrderRow) -> LotRightRow:
    """Credit the plate's card in the lot, opening one when it has none."""
    card = await uow.pass_sales.card(order.lot_id, order.plate)
    if card is None:
        card = await open_card(uow, clock, order.lot_id, order.plate, f"SV-{order.out_trade_no}")
    credit_card(card, order.amount_fen)
    order.right_id = card.id
    return card


async def create_pass(
    uow: UnitOfWork, clock: Clock, lot_id: int, plate: str, ref: str, valid_until: datetime
) -> LotRightRow:
    """A new all-day monthly pass of one plate, valid from now."""
    return await _new_right(uow, clock, lot_id, plate, ref, "monthly", valid_until)


async def _new_right(
    uow: UnitOfWork,
    clock: Clock,
    lot_id: int,
    plate: str,
    ref: str,
    kind: str,
    valid_until: datetime,
) -> LotRightRow:
    """A right of one plate bought in the mini-program, valid from now, with no money on it."""
    right = LotRightRow(
        ref=ref,
        lot_id=lot_id,
        kind=kind,
        holder=f"小程序车主 {plate}",
        spaces=1,
        valid_from=clock.now(),
        valid_until=valid_until,
        balance_fen=0,
        status="active",
        created_at=clock.now(),
    )
    await uow.pass_sales.add(right)
    await uow.pass_sales.add_plate(right.id, plate)
    return right


def extend_pass(right: LotRightRow, valid_until: datetime) -> LotRightRow:
    """Move a pass's end later; never earlier."""
    if valid_until < right.valid_until:
        raise ValueError(f"{right.ref} would end {valid_until}, before {right.valid_until}")
    right.valid_until = valid_until
    return right


async def open_card(
    uow: UnitOfWork, clock: Clock, lot_id: int, plate: str, ref: str
) -> LotRightRow:
    """A new empty stored-value card of one plate in a lot."""
    return await _new_right(uow, clock, lot_id, plate, ref, "stored_value", NO_EXPIRY)


def credit_card(card: LotRightRow, amount_fen: int) -> None:
    """Add money to a card (the caller holds its row lock); it stays valid while it has any."""
    card.balance_fen += amount_fen
    card.valid_until = max(card.valid_until, NO_EXPIRY)


def debit_card(card: LotRightRow, amount_fen: int) -> None:
    """Take money off a card, never below zero (the caller holds its row lock)."""
    check_refund_within_balance(amount_fen, card.balance_fen)
    card.balance_fen -= amount_fen


async def hold_refund(uow: UnitOfWork, payment: Payment, amount_fen: int) -> None:
    """Inside a refund's recording: a top-up's refund leaves its card now, unspent money only.

    Taking it off at once means the driver cannot spend at the exit what is being refunded.
    """
    if payment.purpose is PaymentPurpose.TOP_UP:
        debit_card(await _applied_right(uow, payment), amount_fen)


async def release_refund(uow: UnitOfWork, payment: Payment, amount_fen: int) -> None:
    """A top-up's refund the provider did not make: its money goes back on the card."""
    if payment.purpose is PaymentPurpose.TOP_UP:
        card = await _applied_right(uow, payment)
        card.balance_fen += amount_fen


async def refund_entry(uow: UnitOfWork, payment: Payment, refund: Refund) -> JournalEntry:
    """The ledger entry of a pass's or a top-up's successful refund."""
    if payment.purpose is PaymentPurpose.PASS:
        return pass_refunded(
            refund.out_refund_no, payment.sub_mchid, payment.operator_code, refund.amount_fen
        )
    card = await _applied_right(uow, payment)
    return stored_value_refunded(
        refund.out_refund_no, payment.sub_mchid, card.ref, refund.amount_fen
    )


async def withdraw_pass(uow: UnitOfWork, payment: Payment) -> None:
    """A pass order refunded in full takes back the months it added, if nothing came after.

    When a later order or a staff change moved the pass's end since, its end is left alone and
    staff adjust the pass by hand (the refund is in the audit log with its reason).
    """
    if payment.purpose is not PaymentPurpose.PASS:
        return
    order = await _order(uow, payment.out_trade_no)
    right = await _applied_right(uow, payment)
    if order.valid_until_after is None or right.valid_until != order.valid_until_after:
        log.warning("pass %s changed since order %s; not shortened", right.ref, order.out_trade_no)
        return
    if order.valid_until_before is None:
        right.status = "cancelled"
    else:
        right.valid_until = order.valid_until_before


async def _order(uow: UnitOfWork, out_trade_no: str) -> RightOrderRow:
    order = await uow.pass_sales.order(out_trade_no)
    if order is None:
        raise OrderMissingError(detail=out_trade_no)
    return order


async def _applied_right(uow: UnitOfWork, payment: Payment) -> LotRightRow:
    """The right a settled order changed, locked (with its lot) for changing it again."""
    order = await _order(uow, payment.out_trade_no)
    if order.right_id is None:
        raise OrderMissingError(detail=f"{payment.out_trade_no} was never applied")
    await uow.lots.lock_lot(order.lot_id)
    return await uow.pass_sales.right_for_update(order.right_id)
