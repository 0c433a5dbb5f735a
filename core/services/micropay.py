"""A cashier charges the driver's payment code (付款码): recorded, charged, then settled once."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from core import payments
from core.cashier import (
    FAILURE_ZH,
    MicropayGateway,
    MicropayOrder,
    MicropayResult,
    micropay_failure_zh,
)
from core.clock import Clock
from core.errors import ConflictError, DomainError, ValidationFailedError
from core.ledger import payment_settled
from core.payment_gateway import GatewayError, GatewayNotConfiguredError, PaymentGateway
from core.payments import Payment, PaymentStatus, Refund
from core.services import audit, refunds
from core.services.cashier import (
    TakingResult,
    amount_due,
    current_shift,
    keep_taking,
    new_receipt_no,
)
from core.services.lane_entry import receivable_subject
from core.services.lanes import settle_exit_payment
from core.services.payments import refund_duplicate, shared_by_contract
from core.services.retrying import Uows, retrying
from core.staff import StaffIdentity
from core.store.lots import CashierShiftRow
from core.store.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

CHANNEL_WECHAT_MICROPAY = "wechat_micropay"
DESCRIPTION = "停车费"


class MicropayFailedError(ConflictError):
    """The payment code was not charged; the message says why, for the cashier."""

    code = "micropay_failed"
    message_zh = FAILURE_ZH


class MicropayUnconfirmedError(DomainError):
    """WeChat Pay's answer could not be had or trusted; the payment sweep settles it later."""

    code = "micropay_unconfirmed"
    status = 502
    message_zh = "付款码支付结果暂未确认，请勿放行，也不要重复扫码，系统稍后会自动核对"


class MicropayRefundedError(ConflictError):
    """The stay was paid another way while the code was charged: the money goes back."""

    code = "micropay_refunded"
    message_zh = "该停车记录已由其他方式付清，本次付款码所付款项将原路退回车主"


class AuthCodeUsedError(ValidationFailedError):
    """A payment code is single-use: this one already paid (or tried to pay) another stay."""

    code = "auth_code_used"
    message_zh = "该付款码已用于其他停车记录，请车主刷新付款码"


@dataclass(frozen=True, slots=True)
class MicropayPorts:
    """What a payment-code taking needs: the charger, refunds of a duplicate, the paying app."""

    gateway: MicropayGateway
    refunds: PaymentGateway
    appid: str
    refund_notify_url: str


@dataclass(frozen=True, slots=True)
class _Reserved:
    payment: Payment
    shift_ref: str
    device_id: str


@dataclass(frozen=True, slots=True)
class _Settled:
    taking: TakingResult
    refund: Refund | None = None


async def take_micropay(
    uows: Uows,
    clock: Clock,
    ports: MicropayPorts | None,
    staff: StaffIdentity,
    stay_ref: str,
    auth_code: str,
) -> TakingResult:
    """Charge a stay's fee to the driver's payment code; the same code again charges nothing.

    The payment is recorded (and committed) before WeChat Pay is called, and no database
    transaction stays open while the adapter waits for the driver's password.
    """
    if ports is None:
        raise GatewayNotConfiguredError(detail="no micropay gateway")
    reserved = await retrying(
        lambda: _reserve(uows, clock, ports.appid, staff, stay_ref, auth_code)
    )
    payment = reserved.payment
    if payment.status in payments.SETTLED_STATUSES:
        return await _replay(uows, payment)
    if payment.status not in payments.OPEN_STATUSES:
        raise MicropayFailedError(detail=f"{payment.out_trade_no} is {payment.status}")
    result = await _charge(ports.gateway, reserved, auth_code)
    if not result.paid:
        await retrying(lambda: _unpaid(uows, clock, payment.out_trade_no, result.state))
        message = micropay_failure_zh(result.state)
        raise MicropayFailedError(message, detail=f"{payment.out_trade_no}: {result.state}")
    if result.transaction_id is None:
        raise MicropayUnconfirmedError(detail=f"{payment.out_trade_no} paid without a transaction")
    transaction_id = result.transaction_id
    settled = await retrying(lambda: _settle(uows, clock, staff, reserved, transaction_id))
    if settled.refund is not None:
        await _refund_duplicate(uows, clock, ports, settled.refund)
        raise MicropayRefundedError(detail=f"{payment.stay_ref}: {payment.out_trade_no}")
    return settled.taking


async def _charge(gateway: MicropayGateway, reserved: _Reserved, auth_code: str) -> MicropayResult:
    """Ask WeChat Pay; an answer that cannot be had or trusted leaves the payment open."""
    payment = reserved.payment
    order = MicropayOrder(
        payment.out_trade_no,
        payment.sub_mchid,
        auth_code,
        payment.amount_fen,
        DESCRIPTION,
        reserved.device_id,
        profit_sharing=payment.profit_sharing,
    )
    try:
        return await gateway.micropay(order)
    except GatewayError as exc:
        log.error("micropay %s unconfirmed: %s", payment.out_trade_no, exc.detail)
        raise MicropayUnconfirmedError(detail=f"{payment.out_trade_no}: {exc.detail}") from exc


async def _replay(uows: Uows, payment: Payment) -> TakingResult:
    """The same code again after it paid: the same answer, and nothing charged."""
    async with uows() as uow:
        leaving = await uow.payments.in_flight_fen(payment.out_trade_no)
    if payment.refunded_fen or leaving:  # it came second, and went back
        raise MicropayRefundedError(detail=f"{payment.stay_ref}: {payment.out_trade_no}")
    return TakingResult(payment.out_trade_no, payment.amount_fen, None, [])


def _idempotency_key(auth_code: str) -> str:
    # A payment code pays once, so it identifies the payment; only its hash is kept.
    return "micropay:" + hashlib.sha256(auth_code.encode()).hexdigest()


async def _reserve(
    uows: Uows, clock: Clock, appid: str, staff: StaffIdentity, stay_ref: str, auth_code: str
) -> _Reserved:
    """The payment of this code, recorded before WeChat Pay is asked to charge it."""
    async with uows() as uow:
        await uow.payments.lock_for_write()
        shift = await current_shift(uow, staff)
        device_id = await _device_id(uow, shift)
        key = _idempotency_key(auth_code)
        existing = await uow.payments.by_idempotency_key(key)
        if existing is not None:
            if existing.stay_ref != stay_ref:
                raise AuthCodeUsedError(detail=f"code of {existing.out_trade_no}")
            return _Reserved(existing, shift.ref, device_id)
        stay, details, due = await amount_due(uow, shift, stay_ref)
        operator = await uow.city.operator(stay.operator_id)
        payment = Payment(
            out_trade_no=new_receipt_no(clock),
            channel=CHANNEL_WECHAT_MICROPAY,
            stay_ref=stay.ref,
            plate=receivable_subject(stay, details),
            operator_code=operator.code,
            sub_mchid=operator.sub_mchid,
            amount_fen=due,
            payer_openid="",  # WeChat Pay does not say who shows a payment code
            appid=appid,
            status=PaymentStatus.CREATED,
            created_at=clock.now(),
            profit_sharing=await shared_by_contract(uow, operator.code, clock.now()),
        )
        await uow.payments.add(payment, driver_id=None, idempotency_key=key)
        await uow.commit()
        return _Reserved(payment, shift.ref, device_id)


async def _device_id(uow: UnitOfWork, shift: CashierShiftRow) -> str:
    lot = await uow.city.lot(shift.lot_id)
    if shift.lane_id is None:
        return f"{lot.code}-office"
    lane, _ = await uow.lots.lane_by_id(shift.lane_id)
    return f"{lot.code}-{lane.code}"


async def _unpaid(uows: Uows, clock: Clock, out_trade_no: str, state: str) -> None:
    """Not charged: reversed orders are closed, every other refusal is a failure."""
    async with uows() as uow:
        payment = await _payment(uow, out_trade_no)
        if state == "REVOKED":
            transition = payments.close(payment, clock.now(), by_provider=True)
        else:
            transition = payments.fail(payment)
        if transition.changed:
            await uow.payments.save(transition.state)
            await uow.commit()


async def _settle(
    uows: Uows, clock: Clock, staff: StaffIdentity, reserved: _Reserved, transaction_id: str
) -> _Settled:
    """Settle the charge once; if the stay got paid meanwhile, keep it and record a refund."""
    async with uows() as uow:
        await uow.payments.lock_for_write()
        payment = await _payment(uow, reserved.payment.out_trade_no)
        transition = payments.settle(
            payment,
            transaction_id=transaction_id,
            amount_fen=payment.amount_fen,
            sub_mchid=payment.sub_mchid,
            paid_at=clock.now(),
        )
        if not transition.changed:
            return _Settled(TakingResult(payment.out_trade_no, payment.amount_fen, None, []))
        duplicate = await _paid_meanwhile(uow, payment)
        first = await uow.payments.settled_for_stay(_stay_of(payment)) is None
        await uow.payments.save(transition.state, settles_stay=first and not duplicate)
        entry = payment_settled(
            payment.out_trade_no, payment.plate, payment.sub_mchid, payment.amount_fen
        )
        await uow.ledger.post(entry, clock.now())
        details: dict[str, object] = {
            "shift": reserved.shift_ref,
            "amount_fen": payment.amount_fen,
            "transaction_id": transaction_id,
        }
        if duplicate:
            settled = await _keep_duplicate(uow, clock, payment, details)
            why = "付款码重复支付，自动退款"
        else:
            settled = await _keep_taking(uow, clock, payment, reserved.shift_ref, transaction_id)
            why = "付款码收费"
        target = f"stay:{payment.stay_ref}"
        await audit.record(uow, clock, staff, "cashier.micropay", target, why, details)
        await uow.commit()
        return settled


async def _keep_taking(
    uow: UnitOfWork, clock: Clock, payment: Payment, shift_ref: str, transaction_id: str
) -> _Settled:
    """The shift's taking, and the lane where the car waits opens."""
    shift = await uow.lots.shift_by_ref(shift_ref)
    assert shift is not None, "a reserved payment names an existing shift"
    amount, stay_ref = payment.amount_fen, _stay_of(payment)
    no = payment.out_trade_no
    keep_taking(uow, shift, stay_ref, "micropay", amount, no, clock, transaction_id)
    commands = await settle_exit_payment(uow, clock, stay_ref, amount, "micropay")
    return _Settled(TakingResult(no, amount, None, commands))


async def _keep_duplicate(
    uow: UnitOfWork, clock: Clock, payment: Payment, details: dict[str, object]
) -> _Settled:
    """A second payment of the stay: recorded, and refunded in full (sent after commit)."""
    refund = await refund_duplicate(uow, clock, payment)
    details["refund"] = refund.out_refund_no
    taking = TakingResult(payment.out_trade_no, payment.amount_fen, None, [])
    return _Settled(taking, refund)


async def _paid_meanwhile(uow: UnitOfWork, payment: Payment) -> bool:
    """Whether the lot already got the fee by any channel (cash, card, WeChat) meanwhile.

    A payment after the settling one counts while money is due (the fee grew), as at the lane.
    The stay is locked, so payments of one stay settle one after another.
    """
    stay = await uow.stays.by_ref(_stay_of(payment), for_update=True)
    details = await uow.lots.lot_stay(stay.id) if stay is not None else None
    if stay is None or details is None:
        return False
    return details.paid_fen + payment.amount_fen > (stay.fee_fen or 0)


async def _refund_duplicate(uows: Uows, clock: Clock, ports: MicropayPorts, refund: Refund) -> None:
    """Send the refund now; if WeChat Pay does not take it yet, the payment sweep resends it."""
    try:
        await refunds.submit_refund(
            uows, clock, ports.refunds, ports.refund_notify_url, refund.out_refund_no
        )
    except DomainError as exc:
        log.error("refund %s of a duplicate micropay not sent yet: %s", refund.out_refund_no, exc)


async def _payment(uow: UnitOfWork, out_trade_no: str) -> Payment:
    payment = await uow.payments.get(out_trade_no, for_update=True)
    if payment is None:
        raise payments.PaymentNotFoundError(detail=out_trade_no)
    return payment


def _stay_of(payment: Payment) -> str:
    """The stay a payment-code payment pays: a cashier takes codes for stays only."""
    assert payment.stay_ref is not None, "a payment-code payment names its stay"
    return payment.stay_ref
