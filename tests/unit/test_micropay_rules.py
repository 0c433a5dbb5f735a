"""Pure rules of payment codes: the cashier's messages, the poll budget, the sandbox's codes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from adapters.wechatpay_micropay import MicropayTiming
from core.cashier import FAILURE_ZH, micropay_failure_zh
from sandbox.wechatpay.codes import CodeDesk, Scenario, scenario_of
from sandbox.wechatpay.orders import PayBooks, SandboxApiError

NOW = datetime(2026, 11, 25, 11, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def request(auth_code: str, out_trade_no: str = "R20261125ABCDEF", total: int = 600) -> Any:
    return {
        "sp_appid": "wx5a0db0c0e0f1a2b3",
        "sp_mchid": "1900000100",
        "sub_mchid": "1900000101",
        "description": "停车费",
        "out_trade_no": out_trade_no,
        "payer": {"auth_code": auth_code},
        "amount": {"total": total, "currency": "CNY"},
        "scene_info": {"device_id": "LOT-HOSP-X1"},
    }


def test_the_cashier_is_told_in_chinese_why_a_code_did_not_pay() -> None:
    assert "撤销" in micropay_failure_zh("REVOKED")
    assert "余额不足" in micropay_failure_zh("NOTENOUGH")
    assert "刷新" in micropay_failure_zh("AUTHCODEEXPIRE")
    assert micropay_failure_zh("SOMETHING_NEW") == FAILURE_ZH


def test_the_poll_budget_follows_tencents_five_and_thirty_seconds() -> None:
    assert MicropayTiming().polls == 6
    assert MicropayTiming(5, 12).polls == 3
    assert MicropayTiming(50, 30).polls == 1


@pytest.mark.parametrize(
    ("code", "scenario"),
    [
        ("130000000000000001", Scenario.PAYS),
        ("101100000000000001", Scenario.PASSWORD),
        ("152200000000000001", Scenario.NEVER_CONFIRMS),
        ("133300000000000001", Scenario.NOT_ENOUGH),
        ("134400000000000001", Scenario.CANCELS),
        ("135500000000000001", Scenario.SYSTEM_ERROR),
        ("136600000000000001", Scenario.FORGED),
        ("137700000000000001", Scenario.PAYS),
    ],
)
def test_the_third_and_fourth_digits_choose_what_the_driver_does(
    code: str, scenario: Scenario
) -> None:
    assert scenario_of(code) is scenario


def test_a_code_pays_once_and_an_order_number_names_one_request() -> None:
    desk, books = CodeDesk(), PayBooks("1900000100")
    order, first = desk.charge(books, request("130000000000000001"), NOW)
    assert first and order.trade_state == "SUCCESS" and order.transaction_id
    assert desk.charge(books, request("130000000000000001"), NOW) == (order, False)
    with pytest.raises(SandboxApiError) as reused:
        desk.charge(books, request("130000000000000001", "R20261125OTHER1"), NOW)
    assert reused.value.code == "AUTHCODEEXPIRE"
    with pytest.raises(SandboxApiError) as changed:
        desk.charge(books, request("130000000000000001", total=700), NOW)
    assert changed.value.code == "OUT_TRADE_NO_USED"
    with pytest.raises(SandboxApiError) as invalid:
        desk.charge(books, request("250000000000000001", "R20261125OTHER2"), NOW)
    assert invalid.value.code == "AUTH_CODE_INVALID"


def test_a_password_is_typed_by_the_second_query_and_a_reverse_closes_the_order() -> None:
    desk, books = CodeDesk(), PayBooks("1900000100")
    order, _ = desk.charge(books, request("131100000000000001"), NOW)
    assert desk.charge_answer(order, True) == (202, {"trade_state": "USERPAYING"})
    desk.on_query(order, NOW)
    assert order.trade_state == "USERPAYING"
    desk.on_query(order, NOW)
    assert order.trade_state == "SUCCESS" and desk.charge_answer(order, False)[0] == 200
    desk.reverse(order)
    assert order.trade_state == "REVOKED"
    assert desk.charge_answer(order, False)[1]["code"] == "ORDERREVERSED"


def test_a_refunded_order_cannot_be_reversed_and_a_forged_one_is_marked() -> None:
    desk, books = CodeDesk(), PayBooks("1900000100")
    order, _ = desk.charge(books, request("136600000000000001"), NOW)
    assert desk.forged(order.out_trade_no) and not desk.forged("R-unknown")
    order.refunded = 100
    with pytest.raises(SandboxApiError):
        desk.reverse(order)
