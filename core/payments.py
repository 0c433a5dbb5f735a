"""Payments of any channel: a state machine whose transitions are idempotent on provider ids."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from core.errors import ConflictError, NotFoundError, ValidationFailedError

SHANGHAI = ZoneInfo("Asia/Shanghai")
# WeChat Pay refuses to close an order within five minutes of its creation.
CLOSE_AFTER = timedelta(minutes=5)

T = TypeVar("T")


class PaymentStatus(StrEnum):
    """Where a payment is: created -> pending -> paid | closed | failed; paid -> refunded."""

    CREATED = "created"  # recorded here, not yet accepted by the provider
    PENDING = "pending"  # the provider holds an order the payer can pay
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    CLOSED = "closed"
    FAILED = "failed"


OPEN_STATUSES = frozenset({PaymentStatus.CREATED, PaymentStatus.PENDING})
SETTLED_STATUSES = frozenset(
    {PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}
)


class PaymentPurpose(StrEnum):
    """What a payment buys; its settlement applies it (arrears are stays too)."""

    STAY = "stay"  # a stay's fee, paid at the exit or later (先离后缴)
    PASS = "pass"  # a monthly pass bought or renewed (right_orders holds the order)
    TOP_UP = "top_up"  # stored value added to a lot's card (right_orders holds the order)


class RefundStatus(StrEnum):
    """Where a refund is: requested -> processing -> success | closed | abnormal."""

    REQUESTED = "requested"  # recorded here, not yet accepted by the provider
    PROCESSING = "processing"
    SUCCESS = "success"
    CLOSED = "closed"
    ABNORMAL = "abnormal"


IN_FLIGHT_REFUNDS = frozenset({RefundStatus.REQUESTED, RefundStatus.PROCESSING})
# Refunds the provider took on: they appear in its bill of the day they were asked for.
ACCEPTED_REFUNDS = frozenset({RefundStatus.PROCESSING, RefundStatus.SUCCESS, RefundStatus.ABNORMAL})


class PaymentNotFoundError(NotFoundError):
    """No payment has this number."""

    code = "payment_not_found"
    message_zh = "支付单不存在"


class RefundNotFoundError(NotFoundError):
    """No refund has this number."""

    code = "refund_not_found"
    message_zh = "退款单不存在"


class PaymentStateError(ConflictError):
    """The payment is not in a state that allows this."""

    code = "payment_state"
    message_zh = "支付单当前状态不允许此操作"


class CloseTooEarlyError(ConflictError):
    """WeChat Pay does not close an order in its first five minutes."""

    code = "close_too_early"
    message_zh = "订单创建5分钟内不能关闭，请稍后再试"


class PaymentMismatchError(ConflictError):
    """The provider reports another amount, merchant or transaction than we recorded."""

    code = "payment_mismatch"
    message_zh = "支付结果与订单不一致，已转人工核查"


class RefundNotAllowedError(ConflictError):
    """Only a settled payment with money left can be refunded."""

    code = "refund_not_allowed"
    message_zh = "该支付单不能退款"


class RefundWindowClosedError(ConflictError):
    """WeChat Pay refunds only within a year of payment; later it is a manual payout."""

    code = "refund_window_closed"
    message_zh = "已超过一年退款期限，请走人工退款流程"


class RefundTooLargeError(ValidationFailedError):
    """The refund asks for more than is left of the payment."""

    code = "refund_too_large"
    message_zh = "退款金额超过可退金额"


@dataclass(frozen=True, slots=True)
class Transition(Generic[T]):
    """The state after an event and whether the event changed anything."""

    state: T
    changed: bool


@dataclass(frozen=True, slots=True)
class Payment:
    """A payment to the sub-merchant of the operator that owns what it buys (no 二清)."""

    out_trade_no: str
    channel: str
    stay_ref: str | None  # the stay paid; None for a pass or a top-up
    plate: str
    operator_code: str
    sub_mchid: str
    amount_fen: int
    payer_openid: str
    appid: str
    status: PaymentStatus
    created_at: datetime
    prepay_id: str | None = None
    transaction_id: str | None = None
    paid_at: datetime | None = None
    closed_at: datetime | None = None
    refunded_fen: int = 0
    purpose: PaymentPurpose = PaymentPurpose.STAY
    profit_sharing: bool = False  # held at the sub-merchant for the contract's shares

    def __post_init__(self) -> None:
        if self.amount_fen <= 0:
            raise ValueError("a payment is for a positive amount of fen")
        if not self.sub_mchid:
            raise ValueError("every payment names the sub-merchant that receives it")
        if (self.purpose is PaymentPurpose.STAY) != (self.stay_ref is not None):
            raise ValueError("a stay's payment names its stay, and only a stay's payment does")


@dataclass(frozen=True, slots=True)
class Refund:
    """Money going back to the payer of a settled payment."""

    out_refund_no: str
    out_trade_no: str
    amount_fen: int
    reason: str
    requested_by: str
    status: RefundStatus
    created_at: datetime
    refund_id: str | None = None
    succeeded_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.amount_fen <= 0:
            raise ValueError("a refund is for a positive amount of fen")


def new_out_trade_no(now: datetime) -> str:
    """A merchant order number: PK, Beijing time to the second, 12 random hex digits."""
    return f"PK{now.astimezone(SHANGHAI):%Y%m%d%H%M%S}{secrets.token_hex(6).upper()}"


def new_out_refund_no(now: datetime) -> str:
    """A merchant refund number, shaped like an order number with RF."""
    return f"RF{now.astimezone(SHANGHAI):%Y%m%d%H%M%S}{secrets.token_hex(6).upper()}"


def attach_prepay(payment: Payment, prepay_id: str) -> Transition[Payment]:
    """The provider accepted the order: created -> pending (again with the same id: no-op)."""
    if payment.status is PaymentStatus.PENDING and payment.prepay_id == prepay_id:
        return Transition(payment, False)
    if payment.status is not PaymentStatus.CREATED:
        raise PaymentStateError(detail=f"{payment.out_trade_no} is {payment.status}")
    return Transition(replace(payment, status=PaymentStatus.PENDING, prepay_id=prepay_id), True)


def settle(
    payment: Payment, *, transaction_id: str, amount_fen: int, sub_mchid: str, paid_at: datetime
) -> Transition[Payment]:
    """The provider says the payer paid: -> paid, once per transaction id."""
    if payment.status in SETTLED_STATUSES:
        if payment.transaction_id == transaction_id:
            return Transition(payment, False)
        raise PaymentMismatchError(
            detail=f"{payment.out_trade_no} settled by {payment.transaction_id}, "
            f"now {transaction_id}"
        )
    if payment.status is PaymentStatus.FAILED:
        raise PaymentStateError(detail=f"{payment.out_trade_no} failed")
    if amount_fen != payment.amount_fen or sub_mchid != payment.sub_mchid:
        raise PaymentMismatchError(
            detail=f"{payment.out_trade_no}: {amount_fen} fen to {sub_mchid}, "
            f"expected {payment.amount_fen} to {payment.sub_mchid}"
        )
    # A closed order can still arrive paid: the payer paid before the close reached the
    # provider. The provider's word decides where the money is, so it is settled, not lost.
    settled = replace(
        payment, status=PaymentStatus.PAID, transaction_id=transaction_id, paid_at=paid_at
    )
    return Transition(settled, True)


def can_close(payment: Payment, now: datetime) -> bool:
    """Whether the provider would accept closing this order now."""
    return payment.status in OPEN_STATUSES and now - payment.created_at >= CLOSE_AFTER


def close(payment: Payment, now: datetime, *, by_provider: bool = False) -> Transition[Payment]:
    """An unpaid order is withdrawn: -> closed; we never close within five minutes of creation.

    `by_provider` records a close the provider made itself (the order expired there).
    """
    if payment.status is PaymentStatus.CLOSED:
        return Transition(payment, False)
    if payment.status not in OPEN_STATUSES:
        raise PaymentStateError(detail=f"{payment.out_trade_no} is {payment.status}")
    if not by_provider and now - payment.created_at < CLOSE_AFTER:
        raise CloseTooEarlyError(detail=f"{payment.out_trade_no} created {payment.created_at}")
    return Transition(replace(payment, status=PaymentStatus.CLOSED, closed_at=now), True)


def fail(payment: Payment) -> Transition[Payment]:
    """The provider says the payment failed: pending -> failed."""
    if payment.status is PaymentStatus.FAILED:
        return Transition(payment, False)
    if payment.status not in OPEN_STATUSES:
        raise PaymentStateError(detail=f"{payment.out_trade_no} is {payment.status}")
    return Transition(replace(payment, status=PaymentStatus.FAILED), True)


def refundable_fen(payment: Payment, in_flight_fen: int) -> int:
    """What is left to refund once refunds already made or under way are counted."""
    if payment.status not in SETTLED_STATUSES:
        return 0
    return payment.amount_fen - payment.refunded_fen - in_flight_fen


def one_year_after(moment: datetime) -> datetime:
    """The same instant a calendar year later (28 February for a 29 February)."""
    try:
        return moment.replace(year=moment.year + 1)
    except ValueError:
        return moment.replace(year=moment.year + 1, day=28)


def check_refund(payment: Payment, amount_fen: int, in_flight_fen: int, now: datetime) -> None:
    """Raise unless `amount_fen` may be refunded from this payment now."""
    if payment.status not in SETTLED_STATUSES or payment.paid_at is None:
        raise RefundNotAllowedError(detail=f"{payment.out_trade_no} is {payment.status}")
    if now > one_year_after(payment.paid_at):
        raise RefundWindowClosedError(detail=f"{payment.out_trade_no} paid {payment.paid_at}")
    left = refundable_fen(payment, in_flight_fen)
    if amount_fen <= 0 or amount_fen > left:
        raise RefundTooLargeError(
            f"退款金额须在 1 至 {left} 分之间", detail=f"{amount_fen} of {left}"
        )


def split_stay_refund(amount_fen: int, fee_fen: int, paid_fen: int) -> tuple[int, int]:
    """A refund of a stay's payment as (overpayment returned, charge corrected), in fen.

    What was paid beyond the fee goes back first; the rest of the refund means the fee itself
    was too high, so the charge comes down by it rather than turning into arrears.
    """
    if not 0 < amount_fen <= paid_fen or fee_fen < 0:
        raise ValueError(f"refund {amount_fen} of {paid_fen} paid against {fee_fen}")
    returned = min(amount_fen, max(paid_fen - fee_fen, 0))
    return returned, amount_fen - returned


def refund_accepted(refund: Refund, refund_id: str) -> Transition[Refund]:
    """The provider took the refund: requested -> processing."""
    if refund.status is not RefundStatus.REQUESTED:
        if refund.refund_id in (None, refund_id):
            return Transition(replace(refund, refund_id=refund_id), refund.refund_id is None)
        raise PaymentMismatchError(detail=f"{refund.out_refund_no} is {refund.refund_id}")
    return Transition(replace(refund, status=RefundStatus.PROCESSING, refund_id=refund_id), True)


def refund_succeeded(
    refund: Refund, *, refund_id: str, amount_fen: int, at: datetime
) -> Transition[Refund]:
    """The money reached the payer: -> success, once per refund id."""
    if refund.status is RefundStatus.SUCCESS:
        if refund.refund_id == refund_id:
            return Transition(refund, False)
        raise PaymentMismatchError(detail=f"{refund.out_refund_no} is {refund.refund_id}")
    if refund.status not in IN_FLIGHT_REFUNDS:
        raise PaymentStateError(detail=f"{refund.out_refund_no} is {refund.status}")
    if amount_fen != refund.amount_fen or refund.refund_id not in (None, refund_id):
        raise PaymentMismatchError(detail=f"{refund.out_refund_no}: {amount_fen} by {refund_id}")
    done = replace(refund, status=RefundStatus.SUCCESS, refund_id=refund_id, succeeded_at=at)
    return Transition(done, True)


def refund_ended(refund: Refund, status: RefundStatus) -> Transition[Refund]:
    """The provider gave up on a refund (closed or abnormal); the money stays with us."""
    if refund.status is status:
        return Transition(refund, False)
    if refund.status not in IN_FLIGHT_REFUNDS or status not in (
        RefundStatus.CLOSED,
        RefundStatus.ABNORMAL,
    ):
        raise PaymentStateError(detail=f"{refund.out_refund_no} is {refund.status}")
    return Transition(replace(refund, status=status), True)


def apply_refund(payment: Payment, amount_fen: int) -> Payment:
    """A successful refund lowers what the payment still holds."""
    refunded = payment.refunded_fen + amount_fen
    if payment.status not in SETTLED_STATUSES or refunded > payment.amount_fen:
        raise PaymentStateError(detail=f"{payment.out_trade_no} cannot take {amount_fen} back")
    status = (
        PaymentStatus.REFUNDED
        if refunded == payment.amount_fen
        else PaymentStatus.PARTIALLY_REFUNDED
    )
    return replace(payment, status=status, refunded_fen=refunded)
