"""The payment state machine: transitions, idempotency on provider ids, WeChat Pay's time rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import payments
from core.clock import FrozenClock
from core.payments import (
    CloseTooEarlyError,
    Payment,
    PaymentMismatchError,
    PaymentStateError,
    PaymentStatus,
    Refund,
    RefundNotAllowedError,
    RefundStatus,
    RefundTooLargeError,
    RefundWindowClosedError,
)
from core.services.cashier import new_receipt_no

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def payment(**changes: object) -> Payment:
    base = Payment(
        out_trade_no="PK20261125090000ABCDEF123456",
        channel="wechat_jsapi",
        stay_ref="s1",
        plate="浙B12345",
        operator_code="OP-CITY",
        sub_mchid="1900000101",
        amount_fen=800,
        payer_openid="o-payer",
        appid="wx-app",
        status=PaymentStatus.CREATED,
        created_at=T0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def paid(**changes: object) -> Payment:
    pending = payments.attach_prepay(payment(), "wx-prepay").state
    settled = payments.settle(
        pending, transaction_id="4200001", amount_fen=800, sub_mchid="1900000101", paid_at=T0
    ).state
    return replace(settled, **changes)  # type: ignore[arg-type]


def refund(**changes: object) -> Refund:
    base = Refund(
        out_refund_no="RF1",
        out_trade_no="PK20261125090000ABCDEF123456",
        amount_fen=300,
        reason="测试",
        requested_by="staff:1",
        status=RefundStatus.REQUESTED,
        created_at=T0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_every_payment_names_its_sub_merchant() -> None:
    with pytest.raises(ValueError, match="sub-merchant"):
        payment(sub_mchid="")
    with pytest.raises(ValueError, match="positive"):
        payment(amount_fen=0)


def test_created_then_pending_is_idempotent_on_the_prepay_id() -> None:
    first = payments.attach_prepay(payment(), "wx-prepay")
    assert first.changed and first.state.status is PaymentStatus.PENDING
    again = payments.attach_prepay(first.state, "wx-prepay")
    assert not again.changed and again.state == first.state
    with pytest.raises(PaymentStateError):
        payments.attach_prepay(first.state, "wx-other")


def test_settle_happens_once_per_transaction_id() -> None:
    pending = payments.attach_prepay(payment(), "wx-prepay").state
    first = payments.settle(
        pending, transaction_id="4200001", amount_fen=800, sub_mchid="1900000101", paid_at=T0
    )
    assert first.changed
    assert (first.state.status, first.state.transaction_id) == (PaymentStatus.PAID, "4200001")
    resent = payments.settle(
        first.state, transaction_id="4200001", amount_fen=800, sub_mchid="1900000101", paid_at=T0
    )
    assert not resent.changed and resent.state == first.state
    with pytest.raises(PaymentMismatchError):
        payments.settle(
            first.state,
            transaction_id="4200002",
            amount_fen=800,
            sub_mchid="1900000101",
            paid_at=T0,
        )


@pytest.mark.parametrize(("amount", "sub_mchid"), [(799, "1900000101"), (800, "1900000102")])
def test_settle_refuses_another_amount_or_merchant(amount: int, sub_mchid: str) -> None:
    with pytest.raises(PaymentMismatchError):
        payments.settle(
            payment(status=PaymentStatus.PENDING),
            transaction_id="4200001",
            amount_fen=amount,
            sub_mchid=sub_mchid,
            paid_at=T0,
        )


def test_a_closed_order_reported_paid_is_settled_not_lost() -> None:
    closed = payments.close(payment(status=PaymentStatus.PENDING), T0 + timedelta(minutes=6))
    settled = payments.settle(
        closed.state, transaction_id="4200001", amount_fen=800, sub_mchid="1900000101", paid_at=T0
    )
    assert settled.state.status is PaymentStatus.PAID


def test_failed_payment_does_not_settle() -> None:
    failed = payments.fail(payment(status=PaymentStatus.PENDING)).state
    assert failed.status is PaymentStatus.FAILED
    assert not payments.fail(failed).changed
    with pytest.raises(PaymentStateError):
        payments.settle(
            failed, transaction_id="4200001", amount_fen=800, sub_mchid="1900000101", paid_at=T0
        )


def test_close_is_refused_within_five_minutes_and_idempotent_after() -> None:
    pending = payment(status=PaymentStatus.PENDING)
    with pytest.raises(CloseTooEarlyError):
        payments.close(pending, T0 + timedelta(minutes=4, seconds=59))
    assert not payments.can_close(pending, T0 + timedelta(minutes=4, seconds=59))
    assert payments.can_close(pending, T0 + timedelta(minutes=5))
    closed = payments.close(pending, T0 + timedelta(minutes=5))
    assert closed.changed and closed.state.status is PaymentStatus.CLOSED
    assert not payments.close(closed.state, T0 + timedelta(minutes=9)).changed


def test_the_provider_may_close_early_itself() -> None:
    closed = payments.close(payment(status=PaymentStatus.PENDING), T0, by_provider=True)
    assert closed.state.status is PaymentStatus.CLOSED


def test_a_paid_order_cannot_be_closed() -> None:
    with pytest.raises(PaymentStateError):
        payments.close(paid(), T0 + timedelta(hours=1))


def test_refund_rules_money_left_and_one_year() -> None:
    settled = paid()
    payments.check_refund(settled, 800, 0, T0 + timedelta(days=365))
    with pytest.raises(RefundTooLargeError):
        payments.check_refund(settled, 801, 0, T0)
    with pytest.raises(RefundTooLargeError):
        payments.check_refund(settled, 600, 300, T0)  # 300 already on the way
    with pytest.raises(RefundTooLargeError):
        payments.check_refund(settled, 0, 0, T0)
    with pytest.raises(RefundWindowClosedError):
        payments.check_refund(settled, 100, 0, payments.one_year_after(T0) + timedelta(seconds=1))
    with pytest.raises(RefundNotAllowedError):
        payments.check_refund(payment(status=PaymentStatus.PENDING), 100, 0, T0)


def test_one_year_after_a_leap_day() -> None:
    leap = datetime(2028, 2, 29, 12, 0, tzinfo=UTC)
    assert payments.one_year_after(leap) == datetime(2029, 2, 28, 12, 0, tzinfo=UTC)


def test_partial_then_full_refund_moves_the_status() -> None:
    part = payments.apply_refund(paid(), 300)
    assert (part.status, part.refunded_fen) == (PaymentStatus.PARTIALLY_REFUNDED, 300)
    assert payments.refundable_fen(part, 0) == 500
    whole = payments.apply_refund(part, 500)
    assert (whole.status, whole.refunded_fen) == (PaymentStatus.REFUNDED, 800)
    assert payments.refundable_fen(whole, 0) == 0
    with pytest.raises(PaymentStateError):
        payments.apply_refund(whole, 1)


def test_refund_transitions_are_idempotent_on_the_refund_id() -> None:
    accepted = payments.refund_accepted(refund(), "5000001")
    assert accepted.changed and accepted.state.status is RefundStatus.PROCESSING
    assert not payments.refund_accepted(accepted.state, "5000001").changed
    done = payments.refund_succeeded(accepted.state, refund_id="5000001", amount_fen=300, at=T0)
    assert done.changed and done.state.status is RefundStatus.SUCCESS
    again = payments.refund_succeeded(done.state, refund_id="5000001", amount_fen=300, at=T0)
    assert not again.changed
    with pytest.raises(PaymentMismatchError):
        payments.refund_succeeded(done.state, refund_id="5000002", amount_fen=300, at=T0)
    with pytest.raises(PaymentMismatchError):
        payments.refund_succeeded(accepted.state, refund_id="5000001", amount_fen=299, at=T0)


def test_a_refund_the_provider_gave_up_on_ends_once() -> None:
    ended = payments.refund_ended(refund(status=RefundStatus.PROCESSING), RefundStatus.ABNORMAL)
    assert ended.changed and ended.state.status is RefundStatus.ABNORMAL
    assert not payments.refund_ended(ended.state, RefundStatus.ABNORMAL).changed
    with pytest.raises(PaymentStateError):
        payments.refund_succeeded(ended.state, refund_id="5000001", amount_fen=300, at=T0)


def test_merchant_numbers_fit_wechat_pay() -> None:
    number = payments.new_out_trade_no(T0)
    assert number.startswith("PK20261125090000") and len(number) == 28
    assert number.isalnum() and number != payments.new_out_trade_no(T0)
    assert payments.new_out_refund_no(T0).startswith("RF20261125090000")


def test_a_receipt_number_carries_the_beijing_date() -> None:
    after_midnight_in_beijing = FrozenClock(datetime(2026, 11, 25, 17, 30, tzinfo=UTC))
    number = new_receipt_no(after_midnight_in_beijing)
    assert number.startswith("R20261126") and len(number) == 21 and number.isalnum()


@given(st.lists(st.integers(min_value=1, max_value=900), max_size=12))
def test_refunds_never_exceed_the_payment(amounts: list[int]) -> None:
    current = paid()
    for amount in amounts:
        try:
            payments.check_refund(current, amount, 0, T0)
        except RefundTooLargeError:
            assert amount > current.amount_fen - current.refunded_fen
            continue
        current = payments.apply_refund(current, amount)
        assert 0 < current.refunded_fen <= current.amount_fen
    expected = PaymentStatus.REFUNDED if current.refunded_fen == 800 else current.status
    assert current.status is expected


@given(
    st.integers(min_value=0, max_value=100_000),
    st.integers(min_value=1, max_value=100_000),
    st.data(),
)
def test_a_stay_refund_returns_overpayment_first_then_corrects_the_charge(
    fee: int, paid: int, data: st.DataObject
) -> None:
    amount = data.draw(st.integers(min_value=1, max_value=paid))
    returned, corrected = payments.split_stay_refund(amount, fee, paid)
    assert returned + corrected == amount and returned >= 0 and corrected >= 0
    assert returned <= max(paid - fee, 0)
    assert corrected <= fee  # the fee never goes below zero
    # A refund never turns into arrears: what is owed afterwards is what was owed before.
    owed_before, owed_after = fee - paid, (fee - corrected) - (paid - amount)
    assert max(owed_after, 0) == max(owed_before, 0)
    assert owed_after >= owed_before  # and it only ever takes back an overpayment


def test_a_stay_refund_split_by_example() -> None:
    assert payments.split_stay_refund(300, 800, 800) == (0, 300)  # a sensor misread
    assert payments.split_stay_refund(300, 600, 800) == (200, 100)  # re-priced down first
    with pytest.raises(ValueError):
        payments.split_stay_refund(900, 800, 800)
