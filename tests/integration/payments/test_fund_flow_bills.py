"""A sub-merchant's fund-flow bill through the sandbox: signed request, sealed file, balances."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from core.bills import BillNotReadyError
from core.clock import FrozenClock
from core.fund_flow_bills import FundDirection
from core.payment_gateway import GatewayError, GatewayRejectedError
from core.store.database import Database
from tests.integration.payments.test_reconciliation import SUB, headers_of, pay_a_stay, today
from tests.wechat_sandbox import (
    closed_stay,
    confirm,
    log_in,
    sandbox_post,
    sandbox_url,
    services,
    start_payment,
)


async def pay_another_stay(
    client: TestClient[Any, Any], server: TestServer, database: Database, clock: FrozenClock
) -> None:
    driver = await log_in(client, server, "li-lei")
    started = await start_payment(
        client, driver, await closed_stay(database, clock, 800), key="tap-0000002"
    )
    await confirm(client, server, started, driver)


async def refund(
    client: TestClient[Any, Any], server: TestServer, out_trade_no: str, fen: int
) -> str:
    answer = await client.post(
        f"/ops/payments/{out_trade_no}/refunds",
        json={"amount_fen": fen, "reason": "地磁误报"},
        headers=await headers_of(client, "demo-finance"),
    )
    assert answer.status == 200, await answer.text()
    out_refund_no = str((await answer.json())["out_refund_no"])
    await sandbox_post(client, server, f"/sandbox/wechatpay/refunds/{out_refund_no}/complete", {})
    return out_refund_no


async def test_a_paid_and_partly_refunded_day_shows_income_fee_refund_and_balances(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    out_trade_no = await pay_a_stay(paying_client, wechat_sandbox, database, clock)
    out_refund_no = await refund(paying_client, wechat_sandbox, out_trade_no, 300)
    day = today(clock)
    clock.advance(timedelta(days=1, hours=2))

    bill = await services(paying_client).bills.fund_flow_bill(day, SUB)

    assert bill is not None
    paid, fee, refunded = bill.rows
    assert (paid.business_type, paid.direction, paid.amount_fen, paid.balance_fen) == (
        "交易",
        FundDirection.INCOME,
        800,
        800,
    )
    assert paid.voucher_no == out_trade_no
    # 0.6% of 8.00 yuan is 4.8 fen, charged as 5; of the 3.00 refunded, 1.8 fen comes back as 2.
    assert (fee.business_type, fee.amount_fen, fee.balance_fen) == ("扣除交易手续费", 5, 795)
    assert (refunded.business_type, refunded.direction) == ("退款", FundDirection.EXPENSE)
    assert (refunded.amount_fen, refunded.balance_fen) == (298, 497)
    assert refunded.voucher_no == out_refund_no
    assert refunded.remark == "退款总金额3.00元;含手续费0.02元"
    summary = bill.summary
    assert (summary.flow_count, summary.income_count, summary.expense_count) == (3, 1, 2)
    assert (summary.income_fen, summary.expense_fen, bill.net_fen) == (800, 303, 497)
    # The trade bill of the same day agrees: paid minus refunded minus the net fee.
    trades = await services(paying_client).bills.trade_bill(day, SUB)
    assert trades is not None
    assert trades.summary.settlement_fen - trades.summary.refund_fen - 3 == bill.net_fen


async def test_a_later_day_starts_from_the_balance_the_day_before_ended_with(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    await pay_a_stay(paying_client, wechat_sandbox, database, clock)
    first = today(clock)
    clock.advance(timedelta(days=1))
    bills = services(paying_client).bills
    quiet = today(clock)
    clock.advance(timedelta(days=1))
    await pay_another_stay(paying_client, wechat_sandbox, database, clock)
    third = today(clock)
    clock.advance(timedelta(days=1))

    assert await bills.fund_flow_bill(quiet, SUB) is None
    assert await bills.fund_flow_bill(first, "1900000102") is None  # another sub-merchant's
    later = await bills.fund_flow_bill(third, SUB)
    assert later is not None
    assert [r.balance_fen for r in later.rows] == [795 + 800, 795 + 795]
    earlier = await bills.fund_flow_bill(first, SUB)
    assert earlier is not None and earlier.rows[-1].balance_fen == 795


async def test_dates_and_parameters_are_checked_as_for_trade_bills(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    await pay_a_stay(paying_client, wechat_sandbox, database, clock)
    bills, gateway = services(paying_client).bills, services(paying_client).gateway
    with pytest.raises(BillNotReadyError):
        await bills.fund_flow_bill(today(clock), SUB)
    day = today(clock)
    clock.advance(timedelta(days=1))
    query = {"sub_mchid": SUB, "bill_date": day.isoformat(), "account_type": "BASIC"}
    for wrong in (
        {"bill_date": (today(clock) + timedelta(days=1)).isoformat()},
        {"bill_date": (today(clock) - timedelta(days=91)).isoformat()},
        {"bill_date": "2026/11/24"},
        {"account_type": "SAVINGS"},
        {"algorithm": "SM4_GCM"},
    ):
        with pytest.raises(GatewayRejectedError) as refused:
            await gateway.call("submch_fundflow_bill", **{**query, **wrong})
        assert refused.value.provider_code == "PARAM_ERROR", wrong
    with pytest.raises(GatewayRejectedError) as none:
        await gateway.call("submch_fundflow_bill", **{**query, "account_type": "OPERATION"})
    assert none.value.provider_code == "NO_STATEMENT_EXIST"
    _, answer = await gateway.call("submch_fundflow_bill", **query)
    [part] = answer["download_bill_list"]
    assert answer["download_bill_count"] == 1 and part["hash_type"] == "SHA1"
    with pytest.raises(GatewayError, match="decrypt"):
        gateway.decrypt_key(part["encrypt_key"][:-8] + "AAAAAAA=")


async def test_the_sandbox_refuses_unsigned_requests_and_links_expire(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    await pay_a_stay(paying_client, wechat_sandbox, database, clock)
    day = today(clock)
    clock.advance(timedelta(days=1))
    query = f"sub_mchid={SUB}&bill_date={day}&account_type=BASIC&algorithm=AEAD_AES_256_GCM"
    async with paying_client.session.get(
        f"{sandbox_url(wechat_sandbox)}/v3/bill/sub-merchant-fundflowbill?{query}"
    ) as unsigned:
        assert unsigned.status == 401
        assert (await unsigned.json())["code"] == "SIGN_ERROR"
    gateway = services(paying_client).gateway
    _, answer = await gateway.call(
        "submch_fundflow_bill", sub_mchid=SUB, bill_date=day.isoformat(), account_type="BASIC"
    )
    url = answer["download_bill_list"][0]["download_url"]
    clock.advance(timedelta(minutes=6))
    with pytest.raises(GatewayRejectedError) as expired:
        await gateway.download(url)
    assert expired.value.provider_code == "INVALID_REQUEST"
