"""Profit sharing end to end through the WeChat Pay sandbox: contract, payment, shares, refund,
return, and the month's statement agreeing with the ledger to the fen (JSON, CSV, XLSX)."""

from __future__ import annotations

import asyncio
import io
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from openpyxl import load_workbook

from core.clock import FrozenClock
from core.payment_gateway import GatewayRejectedError
from core.payments import SHANGHAI
from core.profit_sharing import ShareLine, ShareOrderRequest
from core.store.database import Database
from core.store.unit_of_work import UnitOfWork
from sandbox.wechatpay.profitsharing import DESK_KEY
from sandbox.wechatpay.state import SANDBOX_KEY
from tests.e2e.test_walking_skeleton import staff_token
from tests.wechat_sandbox import (
    balance,
    closed_stay,
    confirm,
    entry_kinds,
    log_in,
    sandbox_post,
    services,
    start_payment,
)

SUB_MCHID = "1900000101"  # OP-CITY's sub-merchant in the demo city
CITY, PLATFORM = "1900000201", "1900000202"
CONTRACT = {
    "basis": "percent",
    "city_mchid": CITY,
    "city_name": "宁波市城乡市政服务有限公司",
    "platform_mchid": PLATFORM,
    "platform_name": "城市停车平台科技有限公司",
    "city_bp": 1_000,
    "platform_bp": 500,
    "reason": "特许经营合同第十二条：城市分成10%，平台服务费5%",
}


async def _run(client: TestClient[Any, Any], headers: dict[str, str], day: str) -> Any:
    response = await client.post("/ops/profit-sharing/runs", json={"date": day}, headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_shares_go_to_receivers_and_come_back_on_a_refund(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    finance = {"Authorization": f"Bearer {await staff_token(paying_client, 'demo-finance')}"}
    viewer = {"Authorization": f"Bearer {await staff_token(paying_client, 'demo-viewer')}"}
    denied = await paying_client.post(
        "/ops/operators/OP-CITY/contracts", json=CONTRACT, headers=viewer
    )
    assert denied.status == 403
    made = await paying_client.post(
        "/ops/operators/OP-CITY/contracts", json=CONTRACT, headers=finance
    )
    assert made.status == 200, await made.text()

    driver = await log_in(paying_client, wechat_sandbox, "li-lei")
    stay_ref = await closed_stay(database, clock, 800)
    started = await start_payment(paying_client, driver, stay_ref)
    await confirm(paying_client, wechat_sandbox, started, driver)
    out_trade_no = started["payment"]["out_trade_no"]
    books = wechat_sandbox.app[SANDBOX_KEY].books
    assert books.orders[out_trade_no].request["settle_info"] == {"profit_sharing": True}

    day = clock.now().astimezone(SHANGHAI).date().isoformat()
    first = await _run(paying_client, finance, day)
    assert (first["orders_finished"], first["shared_fen"], first["failed"]) == (1, 120, [])
    desk = wechat_sandbox.app[DESK_KEY]
    assert set(desk.receivers[SUB_MCHID]) == {CITY, PLATFORM}
    assert desk.receivers[SUB_MCHID][CITY] == CONTRACT["city_name"]  # decrypted by WeChat Pay
    out_order_no = f"PS{out_trade_no[2:]}"
    assert desk.received[(out_order_no, CITY)] == 80
    assert desk.received[(out_order_no, PLATFORM)] == 40
    transaction_id = books.orders[out_trade_no].transaction_id
    assert transaction_id is not None and desk.frozen[transaction_id] == 0  # the rest unfrozen
    assert await entry_kinds(database, out_order_no) == ["shares_sent"]
    assert await balance(database, f"wechat_clearing:{SUB_MCHID}") == 800 - 120
    assert await balance(database, "shares_sent:OP-CITY/city") == 80

    again = await _run(paying_client, finance, day)
    assert (again["orders_finished"], again["shared_fen"], again["returned_fen"]) == (0, 0, 0)
    assert await entry_kinds(database, out_order_no) == ["shares_sent"]

    refunded = await paying_client.post(
        f"/ops/payments/{out_trade_no}/refunds",
        json={"amount_fen": 300, "reason": "地磁误报，多收30分钟"},
        headers=finance,
    )
    assert refunded.status == 200, await refunded.text()
    out_refund_no = (await refunded.json())["out_refund_no"]
    await sandbox_post(
        paying_client, wechat_sandbox, f"/sandbox/wechatpay/refunds/{out_refund_no}/complete", {}
    )
    after_refund = await _run(paying_client, finance, day)
    # Each receiver gives back its share of the 300 fen refunded, rounded down: 30 + 15.
    assert after_refund["returned_fen"] == 45
    assert desk.received[(out_order_no, CITY)] == 50
    assert desk.received[(out_order_no, PLATFORM)] == 25
    assert await entry_kinds(database, f"PR{out_refund_no[2:]}C") == ["share_returned"]
    assert (await _run(paying_client, finance, day))["returned_fen"] == 0
    clearing = await balance(database, f"wechat_clearing:{SUB_MCHID}")
    assert clearing == 800 - 120 - 300 + 45

    month = day[:7]
    shown = await paying_client.get(
        f"/ops/settlement/statements/OP-CITY?month={month}", headers=viewer
    )
    assert shown.status == 200, await shown.text()
    statement = await shown.json()
    assert (statement["payments_fen"], statement["refunds_fen"]) == (800, 300)
    assert statement["shares_sent"] == {"city": 80, "platform": 40}
    assert statement["shares_returned"] == {"city": 30, "platform": 15}
    assert statement["net_fen"] == statement["ledger_clearing_fen"] == clearing
    assert statement["reconciled"] is True

    exported = await paying_client.get(
        f"/ops/settlement/statements/OP-CITY/export?month={month}&format=xlsx", headers=viewer
    )
    assert exported.status == 200
    sheet = load_workbook(io.BytesIO(await exported.read())).active
    assert sheet is not None
    rows = {row[0]: row[1] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert [c.value for c in sheet[1]] == ["项目", "金额（元）"]
    assert rows["收款金额"] == Decimal("8")
    assert rows["运营单位净收入"] == rows["账本清算科目变动"] == Decimal("4.25")
    assert sheet["B2"].number_format == "#,##0.00"
    as_csv = await paying_client.get(
        f"/ops/settlement/statements/OP-CITY/export?month={month}&format=csv", headers=viewer
    )
    text = (await as_csv.read()).decode("utf-8-sig")
    assert text.splitlines()[0] == "项目,金额（元）" and "运营单位净收入,4.25" in text

    async with UnitOfWork(database.sessions) as uow:
        payment = await uow.payments.get(out_trade_no)
        assert payment is not None and payment.profit_sharing


async def test_the_sandbox_refuses_what_wechat_pay_refuses(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    driver = await log_in(paying_client, wechat_sandbox, "han-mei")
    stay_ref = await closed_stay(database, clock, 1_000)
    started = await start_payment(paying_client, driver, stay_ref)  # no contract: not frozen
    await confirm(paying_client, wechat_sandbox, started, driver)
    order = wechat_sandbox.app[SANDBOX_KEY].books.orders[started["payment"]["out_trade_no"]]
    assert order.transaction_id is not None and "settle_info" not in order.request
    sharing = services(paying_client).profit_sharing
    request = ShareOrderRequest(
        SUB_MCHID, order.transaction_id, "PS-REFUSED-0001", (ShareLine(CITY, 100, "分成"),)
    )
    with pytest.raises(GatewayRejectedError) as refused:
        await sharing.order(request)
    assert refused.value.provider_code == "INVALID_REQUEST"  # not paid with profit sharing

    finance = {"Authorization": f"Bearer {await staff_token(paying_client, 'demo-finance')}"}
    ran = await _run(paying_client, finance, clock.now().astimezone(SHANGHAI).date().isoformat())
    assert (ran["orders_finished"], ran["shared_fen"]) == (0, 0)  # nothing to share
    async with UnitOfWork(database.sessions) as uow:
        assert await uow.settlement.open_orders() == []


async def test_a_concession_fee_is_taken_until_the_month_is_paid_then_payments_unfreeze(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    finance = {"Authorization": f"Bearer {await staff_token(paying_client, 'demo-finance')}"}
    contract = {
        **CONTRACT,
        "basis": "concession_fee",
        "city_bp": 0,
        "platform_bp": 0,
        "concession_fen_per_berth": 1,
        "reason": "特许经营合同：经营费每泊位每月按合同约定上缴",
    }
    made = await paying_client.post(
        "/ops/operators/OP-CITY/contracts", json=contract, headers=finance
    )
    assert made.status == 200, await made.text()
    async with UnitOfWork(database.sessions) as uow:
        due = await uow.settlement.berths_of("OP-CITY")
    assert 0 < due <= 300  # the demo city's street berths: one payment's 30% covers them

    driver = await log_in(paying_client, wechat_sandbox, "li-lei")
    paid = []
    for key in ("tap-0000001", "tap-0000002"):
        stay_ref = await closed_stay(database, clock, 1_000)
        started = await start_payment(paying_client, driver, stay_ref, key)
        await confirm(paying_client, wechat_sandbox, started, driver)
        paid.append(started["payment"]["out_trade_no"])
    day = clock.now().astimezone(SHANGHAI).date()
    ran = await _run(paying_client, finance, day.isoformat())
    assert (ran["orders_finished"], ran["shared_fen"]) == (2, due)
    async with UnitOfWork(database.sessions) as uow:
        first = await uow.settlement.order(f"PS{paid[0][2:]}")
        second = await uow.settlement.order(f"PS{paid[1][2:]}")
        assert first is not None and second is not None
        assert (first.kind, second.kind) == ("share", "unfreeze")
        assert [line.amount_fen for line in await uow.settlement.lines(first.id)] == [due]
    desk = wechat_sandbox.app[DESK_KEY]
    assert desk.orders[f"PS{paid[1][2:]}"].receivers == []  # released whole to the operator

    shown = await paying_client.get(
        f"/ops/settlement/statements/OP-CITY?month={day:%Y-%m}", headers=finance
    )
    statement = await shown.json()
    assert (statement["concession_due_fen"], statement["concession_paid_fen"]) == (due, due)
    assert statement["concession_outstanding_fen"] == 0
    assert statement["net_fen"] == 2_000 - due and statement["reconciled"] is True


async def test_two_runs_at_once_share_a_payment_once(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    finance = {"Authorization": f"Bearer {await staff_token(paying_client, 'demo-finance')}"}
    made = await paying_client.post(
        "/ops/operators/OP-CITY/contracts", json=CONTRACT, headers=finance
    )
    assert made.status == 200, await made.text()
    driver = await log_in(paying_client, wechat_sandbox, "li-lei")
    started = await start_payment(paying_client, driver, await closed_stay(database, clock, 600))
    await confirm(paying_client, wechat_sandbox, started, driver)
    day = clock.now().astimezone(SHANGHAI).date().isoformat()
    runs = await asyncio.gather(*(_run(paying_client, finance, day) for _ in range(3)))
    assert sum(run["shared_fen"] for run in runs) == 60 + 30
    out_order_no = f"PS{started['payment']['out_trade_no'][2:]}"
    assert await entry_kinds(database, out_order_no) == ["shares_sent"]
    assert await balance(database, f"wechat_clearing:{SUB_MCHID}") == 600 - 90
