"""The WeChat Pay sandbox keeps WeChat Pay's rules: repeat-safe prepay, close, refund window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.wechat.directory import Directory
from sandbox.wechatpay.orders import PayBooks, SandboxApiError

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def prepay_request(**changes: Any) -> dict[str, Any]:
    request = {
        "sp_appid": "wx-app",
        "sp_mchid": "1900000100",
        "sub_mchid": "1900000101",
        "description": "停车费",
        "out_trade_no": "PK0001",
        "notify_url": "https://example.invalid/notify",
        "amount": {"total": 800, "currency": "CNY"},
        "payer": {"sp_openid": "o-payer"},
    }
    request.update(changes)
    return request


def refund_request(refund: int, number: str = "RF1", **changes: Any) -> dict[str, Any]:
    request = {
        "sub_mchid": "1900000101",
        "out_trade_no": "PK0001",
        "out_refund_no": number,
        "amount": {"refund": refund, "total": 800, "currency": "CNY"},
    }
    request.update(changes)
    return request


def code_of(error: pytest.ExceptionInfo[SandboxApiError]) -> tuple[int, str]:
    return error.value.status, error.value.code


def test_an_identical_prepay_is_the_same_order_and_a_different_one_is_refused() -> None:
    books = PayBooks("1900000100")
    first = books.prepay(prepay_request(), T0)
    assert books.prepay(prepay_request(), T0 + timedelta(minutes=1)).prepay_id == first.prepay_id
    with pytest.raises(SandboxApiError) as refused:
        books.prepay(prepay_request(amount={"total": 900, "currency": "CNY"}), T0)
    assert code_of(refused) == (403, "OUT_TRADE_NO_USED")


def test_orders_are_found_only_under_their_sub_merchant() -> None:
    books = PayBooks("1900000100")
    books.prepay(prepay_request(), T0)
    with pytest.raises(SandboxApiError) as missing:
        books.order("PK0001", "1900000102")
    assert code_of(missing) == (404, "ORDER_NOT_EXIST")


def test_close_waits_five_minutes_and_never_closes_a_paid_order() -> None:
    books = PayBooks("1900000100")
    order = books.prepay(prepay_request(), T0)
    with pytest.raises(SandboxApiError) as early:
        books.close(order, T0 + timedelta(minutes=4, seconds=59))
    assert code_of(early) == (400, "INVALID_REQUEST")
    books.pay(order, "SUCCESS", T0 + timedelta(minutes=1))
    with pytest.raises(SandboxApiError) as paid:
        books.close(order, T0 + timedelta(minutes=10))
    assert code_of(paid) == (400, "ORDERPAID")


def test_a_prepay_expires_after_two_hours() -> None:
    books = PayBooks("1900000100")
    order = books.prepay(prepay_request(), T0)
    with pytest.raises(SandboxApiError):
        books.pay(order, "SUCCESS", T0 + timedelta(hours=2, seconds=1))


def test_refunds_partial_then_full_never_more_and_never_after_a_year() -> None:
    books = PayBooks("1900000100")
    order = books.prepay(prepay_request(), T0)
    with pytest.raises(SandboxApiError):  # not paid yet
        books.refund(refund_request(100), T0)
    books.pay(order, "SUCCESS", T0)
    part = books.refund(refund_request(300), T0)
    assert (part.status, order.refunded, order.trade_state) == ("PROCESSING", 300, "REFUND")
    assert books.refund(refund_request(300), T0) is part  # the same refund number again
    with pytest.raises(SandboxApiError) as too_much:
        books.refund(refund_request(501, "RF2"), T0)
    assert "超过" in too_much.value.message
    books.refund(refund_request(500, "RF2"), T0)
    assert order.refunded == 800
    assert books.complete_refund(part, T0) and not books.complete_refund(part, T0)

    late = PayBooks("1900000100")
    late_order = late.prepay(prepay_request(), T0)
    late.pay(late_order, "SUCCESS", T0)
    late.refund(refund_request(100), T0 + timedelta(days=365))  # within the year
    with pytest.raises(SandboxApiError) as expired:
        late.refund(refund_request(100, "RF9"), T0 + timedelta(days=366))
    assert "期限" in expired.value.message


def test_login_codes_are_single_use_per_app_and_expire() -> None:
    directory = Directory({"wx-a": "s-a", "wx-b": "s-b"})
    in_a, in_b = directory.user("wx-a", "li-lei"), directory.user("wx-b", "li-lei")
    assert in_a.openid != in_b.openid and in_a.unionid == in_b.unionid
    code = directory.issue_code(in_a, T0)
    assert directory.redeem(code, "wx-b", T0) is None
    found = directory.redeem(code, "wx-a", T0)
    assert found is not None and found.user == in_a
    assert directory.redeem(code, "wx-a", T0) is None
    stale = directory.issue_code(in_a, T0)
    assert directory.redeem(stale, "wx-a", T0 + timedelta(minutes=5, seconds=1)) is None


def test_subscribe_messages_spend_one_authorisation_each() -> None:
    directory = Directory({"wx-a": "s-a"})
    openid = directory.user("wx-a", "li-lei").openid
    assert not directory.spend(openid, "tpl")
    directory.grant(openid, "tpl", 2)
    assert directory.spend(openid, "tpl") and directory.spend(openid, "tpl")
    assert not directory.spend(openid, "tpl")
    assert directory.remaining(openid, "tpl") == 0
