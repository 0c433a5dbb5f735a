"""Reconcile a day through the sandbox's trade bill: signed request, gzip download, SHA1, report."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from core.bills import SHANGHAI
from core.clock import FrozenClock
from core.payment_gateway import GatewayRejectedError
from core.store.database import Database
from core.store.unit_of_work import UnitOfWork
from sandbox.wechatpay.orders import Order, paid
from sandbox.wechatpay.state import SANDBOX_KEY
from tests.e2e.test_walking_skeleton import staff_token
from tests.wechat_sandbox import (
    closed_stay,
    confirm,
    log_in,
    sandbox_post,
    sandbox_url,
    services,
    start_payment,
)

SUB = "1900000101"


async def headers_of(client: TestClient[Any, Any], username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {await staff_token(client, username)}"}


async def pay_a_stay(
    client: TestClient[Any, Any], server: TestServer, database: Database, clock: FrozenClock
) -> str:
    driver = await log_in(client, server, "li-lei")
    stay_ref = await closed_stay(database, clock, 800)
    started = await start_payment(client, driver, stay_ref)
    await confirm(client, server, started, driver)
    return str(started["payment"]["out_trade_no"])


def today(clock: FrozenClock) -> date:
    return clock.now().astimezone(SHANGHAI).date()


async def test_a_paid_and_partly_refunded_day_reconciles_without_differences(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    out_trade_no = await pay_a_stay(paying_client, wechat_sandbox, database, clock)
    finance = await headers_of(paying_client, "demo-finance")
    refunded = await paying_client.post(
        f"/ops/payments/{out_trade_no}/refunds",
        json={"amount_fen": 300, "reason": "地磁误报"},
        headers=finance,
    )
    assert refunded.status == 200, await refunded.text()
    # The refund completes (REFUND.SUCCESS notified); the bill lists it on the day it was asked.
    await sandbox_post(
        paying_client,
        wechat_sandbox,
        f"/sandbox/wechatpay/refunds/{(await refunded.json())['out_refund_no']}/complete",
        {},
    )
    day = today(clock)
    clock.advance(timedelta(days=1, hours=2))
    finance = await headers_of(paying_client, "demo-finance")

    answer = await paying_client.post(
        "/ops/payments/reconcile",
        json={"date": day.isoformat(), "sub_mchid": SUB},
        headers=finance,
    )

    assert answer.status == 200, await answer.text()
    report = await answer.json()
    assert report == {
        "date": day.isoformat(),
        "sub_mchid": SUB,
        "bill_found": True,
        "balanced": True,
        "matched_payments": 1,
        "matched_payment_fen": 800,
        "matched_refunds": 1,
        "matched_refund_fen": 300,
        "differences": [],
    }
    async with UnitOfWork(database.sessions) as uow:
        [link] = await uow.audit.page(action="payments_reconcile")
    assert (link.actor, link.target) == ("demo-finance", f"{SUB}:{day.isoformat()}")
    assert link.details["differences"] == 0
    # The other sub-merchant had nothing that day: WeChat Pay has no bill, and nothing differs.
    other = await paying_client.post(
        "/ops/payments/reconcile",
        json={"date": day.isoformat(), "sub_mchid": "1900000102"},
        headers=finance,
    )
    assert other.status == 200, await other.text()
    assert (await other.json())["bill_found"] is False
    assert (await other.json())["balanced"] is True


async def test_a_transaction_we_do_not_know_shows_in_the_report(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    ours = await pay_a_stay(paying_client, wechat_sandbox, database, clock)
    books = wechat_sandbox.app[SANDBOX_KEY].books
    stranger = Order(
        sp_appid="wx5a0db0c0e0f1a2b3",
        sp_mchid=books.sp_mchid,
        sub_mchid=SUB,
        out_trade_no="XX2026112509300000000001",
        description="不是我们下的单",
        notify_url="https://example.com/notify",
        total=1234,
        payer={"sp_openid": "o-stranger"},
        attach="",
        created_at=clock.now(),
        prepay_id="wx-stranger",
        request={},
    )
    paid(stranger, clock.now())
    books.orders[stranger.out_trade_no] = stranger
    day = today(clock)
    clock.advance(timedelta(days=1))

    answer = await paying_client.post(
        "/ops/payments/reconcile",
        json={"date": day.isoformat(), "sub_mchid": SUB},
        headers=await headers_of(paying_client, "demo-finance"),
    )

    assert answer.status == 200, await answer.text()
    report = await answer.json()
    assert (report["balanced"], report["matched_payments"], report["matched_payment_fen"]) == (
        False,
        1,
        800,
    )
    assert report["differences"] == [
        {
            "kind": "payment_not_ours",
            "out_trade_no": stranger.out_trade_no,
            "out_refund_no": None,
            "bill_fen": 1234,
            "our_fen": None,
        }
    ]
    assert ours != stranger.out_trade_no


async def test_our_payment_missing_from_the_bill_shows_in_the_report(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    ours = await pay_a_stay(paying_client, wechat_sandbox, database, clock)
    # WeChat Pay lost the order (as if our notification had been forged): it is not billed.
    del wechat_sandbox.app[SANDBOX_KEY].books.orders[ours]
    day = today(clock)
    clock.advance(timedelta(days=1))

    answer = await paying_client.post(
        "/ops/payments/reconcile",
        json={"date": day.isoformat(), "sub_mchid": SUB},
        headers=await headers_of(paying_client, "demo-finance"),
    )

    report = await answer.json()
    assert report["bill_found"] is False
    assert [(d["kind"], d["out_trade_no"], d["our_fen"]) for d in report["differences"]] == [
        ("payment_not_in_bill", ours, 800)
    ]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"date": "2026-11-25", "sub_mchid": SUB}, "bill_date"),  # today
        ({"date": "2026-11-26", "sub_mchid": SUB}, "bill_date"),  # the future
        ({"date": "2026-08-01", "sub_mchid": SUB}, "bill_date"),  # over three months ago
        ({"date": "2026-11-31", "sub_mchid": SUB}, "invalid_request"),
        ({"date": "2026-11-24"}, "invalid_request"),
        ({"date": "2026-11-24", "sub_mchid": "19000001x1"}, "invalid_request"),
    ],
)
async def test_bad_requests_are_refused_and_audit_nothing(
    paying_client: TestClient[Any, Any],
    database: Database,
    body: dict[str, str],
    code: str,
) -> None:
    answer = await paying_client.post(
        "/ops/payments/reconcile",
        json=body,
        headers=await headers_of(paying_client, "demo-finance"),
    )

    assert answer.status == 400, await answer.text()
    assert (await answer.json())["code"] == code
    async with UnitOfWork(database.sessions) as uow:
        assert await uow.audit.page(action="payments_reconcile") == []


async def test_an_unknown_sub_merchant_and_staff_without_the_permission_are_refused(
    paying_client: TestClient[Any, Any],
) -> None:
    body = {"date": "2026-11-24", "sub_mchid": "1900000999"}
    finance = await headers_of(paying_client, "demo-finance")
    unknown = await paying_client.post("/ops/payments/reconcile", json=body, headers=finance)
    assert unknown.status == 404
    assert (await unknown.json())["code"] == "sub_merchant_not_found"

    body["sub_mchid"] = SUB
    cashier = await headers_of(paying_client, "demo-cashier")
    denied = await paying_client.post("/ops/payments/reconcile", json=body, headers=cashier)
    assert denied.status == 403
    anonymous = await paying_client.post("/ops/payments/reconcile", json=body)
    assert anonymous.status == 401


async def test_the_sandbox_bill_routes_check_signatures_and_expire_links(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    await pay_a_stay(paying_client, wechat_sandbox, database, clock)
    day = today(clock)
    clock.advance(timedelta(days=1))
    query = f"bill_date={day.isoformat()}&bill_type=ALL&tar_type=GZIP&sub_mchid={SUB}"
    async with paying_client.session.get(
        f"{sandbox_url(wechat_sandbox)}/v3/bill/tradebill?{query}"
    ) as unsigned:
        assert unsigned.status == 401
        assert (await unsigned.json())["code"] == "SIGN_ERROR"

    gateway = services(paying_client).gateway
    _, answer = await gateway.call(
        "trade_bill", bill_date=day.isoformat(), bill_type="ALL", tar_type="GZIP", sub_mchid=SUB
    )
    assert answer["hash_type"] == "SHA1" and len(answer["hash_value"]) == 40
    assert len(await gateway.download(answer["download_url"])) > 0
    clock.advance(timedelta(minutes=6))
    with pytest.raises(GatewayRejectedError) as expired:
        await gateway.download(answer["download_url"])
    assert expired.value.provider_code == "INVALID_REQUEST"
    with pytest.raises(GatewayRejectedError) as creating:
        await gateway.call("trade_bill", bill_date=today(clock).isoformat(), sub_mchid=SUB)
    assert creating.value.provider_code == "STATEMENT_CREATING"


async def test_refunds_accepted_that_day_are_billed_even_before_they_complete(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    out_trade_no = await pay_a_stay(paying_client, wechat_sandbox, database, clock)
    finance = await headers_of(paying_client, "demo-finance")
    for amount in (100, 200):
        refunded = await paying_client.post(
            f"/ops/payments/{out_trade_no}/refunds",
            json={"amount_fen": amount, "reason": "分两次退"},
            headers=finance,
        )
        assert refunded.status == 200, await refunded.text()
    day = today(clock)
    clock.advance(timedelta(days=1))

    answer = await paying_client.post(
        "/ops/payments/reconcile",
        json={"date": day.isoformat(), "sub_mchid": SUB},
        headers=await headers_of(paying_client, "demo-finance"),
    )

    report = await answer.json()
    assert report["balanced"] is True, report
    assert (report["matched_refunds"], report["matched_refund_fen"]) == (2, 300)
