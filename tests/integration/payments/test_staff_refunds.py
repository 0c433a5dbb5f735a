"""Staff refund a payment over HTTP: permission, audited reason, WeChat Pay sandbox, ledger."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from core.clock import FrozenClock
from core.store.database import Database
from core.store.unit_of_work import UnitOfWork
from tests.e2e.test_walking_skeleton import staff_token
from tests.wechat_sandbox import (
    closed_stay,
    confirm,
    entry_kinds,
    log_in,
    sandbox_post,
    start_payment,
)


async def test_finance_refunds_part_of_a_payment_with_an_audited_reason(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    driver = await log_in(paying_client, wechat_sandbox, "li-lei")
    stay_ref = await closed_stay(database, clock, 800)
    started = await start_payment(paying_client, driver, stay_ref)
    await confirm(paying_client, wechat_sandbox, started, driver)
    out_trade_no = started["payment"]["out_trade_no"]
    body = {"amount_fen": 300, "reason": "地磁误报，多收30分钟"}

    viewer = {"Authorization": f"Bearer {await staff_token(paying_client, 'demo-viewer')}"}
    denied = await paying_client.post(
        f"/ops/payments/{out_trade_no}/refunds", json=body, headers=viewer
    )
    assert denied.status == 403

    finance = {"Authorization": f"Bearer {await staff_token(paying_client, 'demo-finance')}"}
    refunded = await paying_client.post(
        f"/ops/payments/{out_trade_no}/refunds", json=body, headers=finance
    )
    assert refunded.status == 200, await refunded.text()
    refund = await refunded.json()
    assert (refund["status"], refund["amount_fen"], refund["requested_by"]) == (
        "processing",
        300,
        "demo-finance",
    )
    too_much = await paying_client.post(
        f"/ops/payments/{out_trade_no}/refunds",
        json={"amount_fen": 501, "reason": "再退一次"},
        headers=finance,
    )
    assert too_much.status == 400
    assert (await too_much.json())["code"] == "refund_too_large"

    async with UnitOfWork(database.sessions) as uow:
        [link] = await uow.audit.page(action="payment_refund")
    assert (link.actor, link.target, link.reason) == ("demo-finance", out_trade_no, body["reason"])
    assert link.details["amount_fen"] == 300

    await sandbox_post(
        paying_client,
        wechat_sandbox,
        f"/sandbox/wechatpay/refunds/{refund['out_refund_no']}/complete",
        {},
    )
    listed = await paying_client.get(f"/ops/stays/{stay_ref}/payments", headers=finance)
    [payment] = (await listed.json())["payments"]
    assert (payment["status"], payment["refunded_fen"], payment["sub_mchid"]) == (
        "partially_refunded",
        300,
        "1900000101",
    )
    assert [r["status"] for r in payment["refunds"]] == ["success"]
    assert await entry_kinds(database, refund["out_refund_no"]) == ["payment_refunded"]
    # The fee was 300 fen too high: it comes down, and the money back is not new arrears.
    assert await entry_kinds(database, stay_ref) == ["stay_charged", "stay_charge_reversed"]
    async with UnitOfWork(database.sessions) as uow:
        stay = await uow.stays.by_ref(stay_ref)
        assert stay is not None and stay.fee_fen == 500
        assert await uow.ledger.balance_fen(f"driver_receivable:{stay.plate}") == 0
    owed = await (await paying_client.get(f"/mp/plates/{stay.plate}/stays")).json()
    assert owed["stays"] == []
