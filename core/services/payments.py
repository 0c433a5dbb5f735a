"""Use cases of paying a stay, a pass or a top-up: open an order, settle it once, query it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core import payments
from core.clock import Clock
from core.drivers import DriverNotifier
from core.errors import ConflictError, NotFoundError, ValidationFailedError
from core.lanes import LaneCommand
from core.ledger import payment_settled
from core.payment_gateway import (
    GatewayRejectedError,
    JsapiOrder,
    PaymentGateway,
    RequestPayment,
    TradeState,
    TransactionReport,
)
from core.payments import (
    SHANGHAI,
    Payment,
    PaymentNotFoundError,
    PaymentPurpose,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from core.services import lanes, network_notices, pass_sales, refunds, vehicles
from core.services.retrying import Uows, retrying
from core.services.stays import paid_toward
from core.store.activity import StayRow
from core.store.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

CHANNEL_WECHAT_JSAPI = "wechat_jsapi"
# Parking-service deductions and combined sub-orders are queried by core.services.auto_pay.
QUERIED_ELSEWHERE = frozenset({"wechat_parking", "wechat_combine"})
DUPLICATE_REASON = "同一停车记录重复支付，自动退款"
SYSTEM_ACTOR = refunds.DUPLICATE_ACTOR
DESCRIPTIONS = {
    PaymentPurpose.STAY: "停车费",
    PaymentPurpose.PASS: "月卡",
    PaymentPurpose.TOP_UP: "储值充值",
}


@dataclass(frozen=True, slots=True)
class PaymentSetup:
    """The channel's fixed parameters: the paying app, notify URLs, how long orders live."""

    appid: str
    notify_url: str
    refund_notify_url: str
    order_minutes: int = 30


class StayNotPayableError(ConflictError):
    """Only a closed stay with a fee can be paid."""

    code = "stay_not_payable"
    message_zh = "该停车记录暂不能支付"


class StayAlreadyPaidError(ConflictError):
    """The stay has a settled payment already."""

    code = "stay_already_paid"
    message_zh = "该停车记录已支付，无需重复支付"


class OrderAlreadyPaidError(ConflictError):
    """The pass or top-up order of this idempotency key is paid already."""

    code = "order_already_paid"
    message_zh = "该订单已支付，无需重复支付"


class DriverNotLinkedError(ConflictError):
    """The driver has no openid in the paying app, so WeChat cannot charge them."""

    code = "driver_not_linked"
    message_zh = "请在小程序中重新登录后再支付"


@dataclass(frozen=True, slots=True)
class StartedPayment:
    """An order the payer can pay, with the wx.requestPayment parameters."""

    payment: Payment
    request_payment: RequestPayment


@dataclass(frozen=True, slots=True)
class Settlement:
    """What applying a provider's report did; `duplicate_refund` when the stay was paid before,
    `lane_commands` (a paid lot stay's exit opening) for the caller to publish after the commit."""

    payment: Payment
    changed: bool
    duplicate_refund: Refund | None = None
    lane_commands: tuple[LaneCommand, ...] = ()


async def start_stay_payment(
    uows: Uows,
    clock: Clock,
    gateway: PaymentGateway,
    setup: PaymentSetup,
    *,
    driver_id: int,
    stay_ref: str,
    idempotency_key: str,
) -> StartedPayment:
    """Open (or reopen, for the same idempotency key) a JSAPI order for a stay's fee."""
    key = f"{driver_id}:{idempotency_key}"
    payment = await retrying(lambda: _reserve(uows, clock, setup, driver_id, stay_ref, key))
    if payment.stay_ref != stay_ref:
        raise ValidationFailedError("该幂等键已用于其他停车记录", detail=key)
    return await open_reserved(uows, clock, gateway, setup, payment)


async def open_reserved(
    uows: Uows, clock: Clock, gateway: PaymentGateway, setup: PaymentSetup, payment: Payment
) -> StartedPayment:
    """Open a recorded payment of any purpose at the provider (once) and sign its payment."""
    if payment.status is PaymentStatus.CREATED:
        payment = await _open_at_provider(uows, clock, gateway, setup, payment)
    if payment.status in payments.SETTLED_STATUSES:
        if payment.purpose is PaymentPurpose.STAY:
            raise StayAlreadyPaidError(detail=payment.out_trade_no)
        raise OrderAlreadyPaidError(detail=payment.out_trade_no)
    if payment.status is not PaymentStatus.PENDING or payment.prepay_id is None:
        raise payments.PaymentStateError(detail=f"{payment.out_trade_no} is {payment.status}")
    signed = gateway.request_payment(payment.appid, payment.prepay_id, clock.now())
    return StartedPayment(payment, signed)


async def payer_openid(uow: UnitOfWork, setup: PaymentSetup, driver_id: int) -> str:
    """The driver's openid in the paying app, which WeChat Pay charges."""
    openid = await uow.drivers.openid(driver_id, setup.appid)
    if openid is None:
        raise DriverNotLinkedError(detail=f"driver {driver_id} in {setup.appid}")
    return openid


async def _reserve(
    uows: Uows, clock: Clock, setup: PaymentSetup, driver_id: int, stay_ref: str, key: str
) -> Payment:
    """The payment of this idempotency key, recorded before the provider is called."""
    async with uows() as uow:
        await uow.payments.lock_for_write()
        existing = await uow.payments.by_idempotency_key(key)
        if existing is not None:
            return existing
        stay = await uow.stays.by_ref(stay_ref)
        if stay is None:
            raise NotFoundError("停车记录不存在", detail=stay_ref)
        if stay.status != "closed" or not stay.fee_fen or not stay.plate:
            raise StayNotPayableError(detail=f"{stay_ref} is {stay.status}, fee {stay.fee_fen}")
        # What is still due: all of it, or the rest when the fee grew after a payment.
        due = stay.fee_fen - await paid_toward(uow, stay)
        if due <= 0:
            raise StayAlreadyPaidError(detail=stay_ref)
        openid = await payer_openid(uow, setup, driver_id)
        operator = await uow.city.operator(stay.operator_id)
        now = clock.now()
        payment = Payment(
            out_trade_no=payments.new_out_trade_no(now),
            channel=CHANNEL_WECHAT_JSAPI,
            stay_ref=stay.ref,
            plate=stay.plate,
            operator_code=operator.code,
            sub_mchid=operator.sub_mchid,
            amount_fen=due,
            payer_openid=openid,
            appid=setup.appid,
            status=PaymentStatus.CREATED,
            created_at=now,
            profit_sharing=await shared_by_contract(uow, operator.code, now),
        )
        await uow.payments.add(payment, driver_id=driver_id, idempotency_key=key)
        await uow.commit()
        return payment


async def shared_by_contract(uow: UnitOfWork, operator_code: str, now: datetime) -> bool:
    """Whether a stay's payment to the operator is opened frozen for profit sharing (分账): a
    contract is in force on the Beijing day (core/shares.py). Every WeChat Pay channel of a stay
    asks it: JSAPI, payment code, parking-service deduction, combined sub-order."""
    contract = await uow.settlement.contract(operator_code, now.astimezone(SHANGHAI).date())
    return contract is not None


async def _open_at_provider(
    uows: Uows, clock: Clock, gateway: PaymentGateway, setup: PaymentSetup, payment: Payment
) -> Payment:
    order = JsapiOrder(
        out_trade_no=payment.out_trade_no,
        sub_mchid=payment.sub_mchid,
        appid=payment.appid,
        payer_openid=payment.payer_openid,
        amount_fen=payment.amount_fen,
        description=f"{DESCRIPTIONS[payment.purpose]}-{payment.plate}",
        notify_url=setup.notify_url,
        expires_at=payment.created_at + timedelta(minutes=setup.order_minutes),
        attach=payment.stay_ref or payment.purpose.value,
        profit_sharing=payment.profit_sharing,
    )
    try:
        prepay_id = await gateway.create_jsapi(order)
    except GatewayRejectedError as exc:
        # A refusal is final for this order number; a network failure is not, so the
        # payment stays "created" and the same idempotency key tries the same order again.
        log.warning("prepay of %s refused: %s", payment.out_trade_no, exc.detail)
        await update_payment(uows, payment.out_trade_no, payments.fail)
        raise
    return await update_payment(
        uows, payment.out_trade_no, lambda p: payments.attach_prepay(p, prepay_id)
    )


async def update_payment(
    uows: Uows,
    out_trade_no: str,
    change: Callable[[Payment], payments.Transition[Payment]],
) -> Payment:
    async with uows() as uow:
        payment = await load_payment(uow, out_trade_no, for_update=True)
        transition = change(payment)
        if transition.changed:
            await uow.payments.save(transition.state)
            await uow.commit()
        return transition.state


async def settle_payment(
    uows: Uows,
    clock: Clock,
    gateway: PaymentGateway,
    notifier: DriverNotifier,
    setup: PaymentSetup,
    report: TransactionReport,
) -> Settlement:
    """Apply a SUCCESS report exactly once; a second payment of the same stay is refunded."""
    settlement = await retrying(lambda: _settle_once(uows, clock, report))
    refund = settlement.duplicate_refund
    if settlement.changed and refund is not None:
        paid = settlement.payment
        log.warning("stay %s paid twice; refunding %s", paid.stay_ref, paid.out_trade_no)
        await refunds.submit_and_tell(
            uows, clock, gateway, notifier, setup.refund_notify_url, refund.out_refund_no
        )
    return settlement


async def _settle_once(uows: Uows, clock: Clock, report: TransactionReport) -> Settlement:
    async with uows() as uow:
        payment = await load_payment(uow, report.out_trade_no, for_update=True)
        if report.transaction_id is None:
            raise payments.PaymentMismatchError(detail=f"{report.out_trade_no} has no transaction")
        transition = payments.settle(
            payment,
            transaction_id=report.transaction_id,
            amount_fen=report.amount_fen,
            sub_mchid=report.sub_mchid,
            paid_at=report.success_time or clock.now(),
        )
        if not transition.changed:
            return Settlement(payment, False)
        if payment.purpose is PaymentPurpose.STAY:
            settlement = await _settle_stay(uow, clock, payment, transition.state)
        else:
            await uow.payments.save(transition.state)
            await pass_sales.apply_paid_order(uow, clock, transition.state)
            settlement = Settlement(transition.state, True)
        await uow.commit()
        return settlement


async def _settle_stay(
    uow: UnitOfWork, clock: Clock, payment: Payment, settled: Payment
) -> Settlement:
    """A stay paid: it counts while money is due; a payment of a stay already paid is refunded."""
    stay_ref = payment.stay_ref or ""  # never empty: Payment checks a stay's payment has one
    # Payments of one stay settle one after another, so two top-ups cannot both count.
    stay = await uow.stays.by_ref(stay_ref, for_update=True)
    holder = await uow.payments.settled_for_stay(stay_ref)
    first = holder is None or holder.out_trade_no == payment.out_trade_no
    duplicate = await _already_paid(uow, stay, payment, first=first)
    await uow.payments.save(settled, settles_stay=first and not duplicate)
    entry = payment_settled(
        payment.out_trade_no, payment.plate, payment.sub_mchid, payment.amount_fen
    )
    await uow.ledger.post(entry, clock.now())
    await vehicles.verify_payer(uow, payment.out_trade_no, payment.plate, stay_ref)
    if duplicate:
        return Settlement(settled, True, await refund_duplicate(uow, clock, payment))
    commands: list[LaneCommand] = []
    if stay is not None and stay.lot_id is not None:  # a paid lot stay opens its exit lane
        commands = await lanes.settle_exit_payment(
            uow, clock, stay_ref, settled.amount_fen, "wechat", paid_at=settled.paid_at
        )
        await network_notices.payment_taken(uow, clock, stay, settled)  # a networked lot's
    elif stay is not None and stay.status in ("closed", "void"):
        # The fee came down while the order was open (a waiver, late sensor events): what the
        # payments hold beyond it goes back (sent by the payment sweep).
        fee = stay.fee_fen or 0 if stay.status == "closed" else 0
        await refunds.refund_overpayment(uow, clock, stay_ref, fee)
    return Settlement(settled, True, None, tuple(commands))


async def refund_duplicate(
    uow: UnitOfWork, clock: Clock, payment: Payment, amount_fen: int | None = None
) -> Refund:
    """A refund of a second payment of one stay (all of it unless `amount_fen`), requested now;
    sent after the commit."""
    refund = Refund(
        out_refund_no=payments.new_out_refund_no(clock.now()),
        out_trade_no=payment.out_trade_no,
        amount_fen=payment.amount_fen if amount_fen is None else amount_fen,
        reason=DUPLICATE_REASON,
        requested_by=SYSTEM_ACTOR,
        status=RefundStatus.REQUESTED,
        created_at=clock.now(),
    )
    await uow.payments.add_refund(refund)
    return refund


async def _already_paid(
    uow: UnitOfWork, stay: StayRow | None, payment: Payment, *, first: bool
) -> bool:
    """Whether the stay holds its fee without this payment, which is then a second payment.

    At a lot: a cashier, a card or WeChat paid while this order was open. On the street: after
    the settling payment another counts as a top-up only while money is still due.
    """
    if stay is None:
        return False
    if stay.lot_id is not None:
        return await paid_toward(uow, stay) + payment.amount_fen > (stay.fee_fen or 0)
    if first:
        return False
    held = await uow.payments.held_for_stay(stay.ref, exclude=payment.out_trade_no)
    return held >= (stay.fee_fen or 0)


async def refresh_payment(
    uows: Uows,
    clock: Clock,
    gateway: PaymentGateway,
    notifier: DriverNotifier,
    setup: PaymentSetup,
    out_trade_no: str,
) -> Settlement:
    """Ask the provider about an unpaid order and apply what it says (no notify needed), as
    the notify would: the caller publishes the settlement's lane commands after."""
    async with uows() as uow:
        payment = await load_payment(uow, out_trade_no)
    if payment.status not in payments.OPEN_STATUSES or payment.channel in QUERIED_ELSEWHERE:
        return Settlement(payment, False)
    report = await gateway.query(payment.out_trade_no, payment.sub_mchid)
    if report.trade_state in (TradeState.SUCCESS, TradeState.REFUND):
        return await settle_payment(uows, clock, gateway, notifier, setup, report)
    if report.trade_state in (TradeState.CLOSED, TradeState.REVOKED):
        now = clock.now()
        closed = await update_payment(
            uows, out_trade_no, lambda p: payments.close(p, now, by_provider=True)
        )
        return Settlement(closed, closed.status is not payment.status)
    if report.trade_state is TradeState.PAYERROR:
        failed = await update_payment(uows, out_trade_no, payments.fail)
        return Settlement(failed, failed.status is not payment.status)
    return Settlement(payment, False)


async def load_payment(uow: UnitOfWork, out_trade_no: str, *, for_update: bool = False) -> Payment:
    payment = await uow.payments.get(out_trade_no, for_update=for_update)
    if payment is None:
        raise PaymentNotFoundError(detail=out_trade_no)
    return payment
