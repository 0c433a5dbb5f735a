"""Paying a stay through the WeChat Pay sandbox over localhost HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from core.clock import FrozenClock
from core.store.database import Database
from core.store.payments import PaymentRow
from core.store.people import DriverOpenidRow, DriverRow
from tests.wechat_sandbox import (
    APPID,
    PLATE,
    MakeClient,
    closed_stay,
    confirm,
    entry_kinds,
    log_in,
    sandbox_post,
    start_payment,
)


async def count(database: Database, column: Any) -> int:
    async with database.sessions() as session:
        return int(await session.scalar(select(func.count(column))) or 0)


async def test_login_keeps_the_unionid_and_one_openid_per_app(
    paying_client: TestClient[Any, Any], wechat_sandbox: TestServer, database: Database
) -> None:
    first = await log_in(paying_client, wechat_sandbox, "li-lei")
    again = await log_in(paying_client, wechat_sandbox, "li-lei")
    other = await log_in(paying_client, wechat_sandbox, "han-meimei")
    assert first.driver_id == again.driver_id != other.driver_id
    async with database.sessions() as session:
        driver = await session.get(DriverRow, first.driver_id)
        assert driver is not None and driver.unionid == first.unionid
        openids = list(
            await session.scalars(
                select(DriverOpenidRow).where(DriverOpenidRow.driver_id == first.driver_id)
            )
        )
    assert [(o.appid, o.openid) for o in openids] == [(APPID, first.openid)]


async def test_a_used_login_code_is_refused(
    paying_client: TestClient[Any, Any], wechat_sandbox: TestServer
) -> None:
    issued = await sandbox_post(
        paying_client, wechat_sandbox, "/sandbox/wechat/login", {"appid": APPID, "person": "x"}
    )
    assert (await paying_client.post("/mp/login", json={"code": issued["code"]})).status == 200
    reused = await paying_client.post("/mp/login", json={"code": issued["code"]})
    assert reused.status == 401
    assert (await reused.json())["code"] == "wechat_code_invalid"


async def test_prepay_pay_notify_settles_once_and_a_resent_notify_changes_nothing(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    driver = await log_in(paying_client, wechat_sandbox, "li-lei")
    stay_ref = await closed_stay(database, clock, fee_fen=800)

    started = await start_payment(paying_client, driver, stay_ref)
    payment = started["payment"]
    assert (payment["status"], payment["amount_fen"], payment["plate"]) == ("pending", 800, PLATE)
    assert started["request_payment"]["appId"] == APPID
    # The same tap again (same idempotency key) is the same order, not a second one.
    assert (await start_payment(paying_client, driver, stay_ref))["payment"] == payment
    assert await count(database, PaymentRow.id) == 1

    paid = await confirm(paying_client, wechat_sandbox, started, driver)
    assert paid["trade_state"] == "SUCCESS"
    assert paid["notification"]["deliveries"] == [204]

    out_trade_no = payment["out_trade_no"]
    shown = await paying_client.get(f"/mp/payments/{out_trade_no}", headers=driver.headers)
    assert (await shown.json())["status"] == "paid"
    async with database.sessions() as session:
        row = await session.scalar(
            select(PaymentRow).where(PaymentRow.out_trade_no == out_trade_no)
        )
        assert row is not None
        assert (row.sub_mchid, row.transaction_id) == ("1900000101", paid["transaction_id"])
        assert row.settled_stay_ref == stay_ref
    assert await entry_kinds(database, out_trade_no) == ["payment_settled"]

    notification_id = paid["notification"]["id"]
    resent = await sandbox_post(
        paying_client,
        wechat_sandbox,
        f"/sandbox/wechatpay/notifications/{notification_id}/redeliver",
        {},
    )
    assert resent["deliveries"] == [204, 204]
    assert await entry_kinds(database, out_trade_no) == ["payment_settled"]

    # Paid stays are not paid again.
    again = await paying_client.post(
        f"/mp/stays/{stay_ref}/payments",
        json={"idempotency_key": "tap-0000002"},
        headers=driver.headers,
    )
    assert again.status == 409
    assert (await again.json())["code"] == "stay_already_paid"


async def test_an_unpaid_order_is_settled_by_query_when_no_notify_arrives(
    make_paying_client: MakeClient,
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    client = await make_paying_client(notify_url="http://127.0.0.1:9/lost")
    driver = await log_in(client, wechat_sandbox, "li-lei")
    started = await start_payment(client, driver, await closed_stay(database, clock))
    paid = await confirm(client, wechat_sandbox, started, driver)
    assert paid["notification"]["deliveries"] == [None]  # nobody listened
    out_trade_no = started["payment"]["out_trade_no"]
    assert await entry_kinds(database, out_trade_no) == []

    shown = await client.get(f"/mp/payments/{out_trade_no}", headers=driver.headers)
    assert (await shown.json())["status"] == "paid"
    shown_again = await client.get(f"/mp/payments/{out_trade_no}", headers=driver.headers)
    assert (await shown_again.json())["status"] == "paid"
    assert await entry_kinds(database, out_trade_no) == ["payment_settled"]


async def test_a_forged_notification_is_refused_and_changes_nothing(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    driver = await log_in(paying_client, wechat_sandbox, "li-lei")
    started = await start_payment(paying_client, driver, await closed_stay(database, clock))
    forged = await paying_client.post(
        "/mp/wechatpay/notify",
        data=b'{"id":"x","event_type":"TRANSACTION.SUCCESS","resource":{}}',
        headers={
            "Content-Type": "application/json",
            "Wechatpay-Timestamp": str(int(clock.now().timestamp())),
            "Wechatpay-Nonce": "N",
            "Wechatpay-Serial": "ABCDEF",
            "Wechatpay-Signature": "bm90IGEgc2lnbmF0dXJl",
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        },
    )
    assert forged.status == 401
    assert (await forged.json())["code"] == "FAIL"
    out_trade_no = started["payment"]["out_trade_no"]
    async with database.sessions() as session:
        status = await session.scalar(
            select(PaymentRow.status).where(PaymentRow.out_trade_no == out_trade_no)
        )
    assert status == "pending"


async def test_drivers_see_only_their_own_payments_and_need_a_token(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    owner = await log_in(paying_client, wechat_sandbox, "li-lei")
    stranger = await log_in(paying_client, wechat_sandbox, "han-meimei")
    started = await start_payment(paying_client, owner, await closed_stay(database, clock))
    out_trade_no = started["payment"]["out_trade_no"]
    foreign = await paying_client.get(f"/mp/payments/{out_trade_no}", headers=stranger.headers)
    assert foreign.status == 404
    anonymous = await paying_client.get(f"/mp/payments/{out_trade_no}")
    assert anonymous.status == 401


async def test_only_a_closed_priced_stay_can_be_paid(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    driver = await log_in(paying_client, wechat_sandbox, "li-lei")
    body = {"idempotency_key": "tap-0000001"}
    missing = await paying_client.post("/mp/stays/nope/payments", json=body, headers=driver.headers)
    assert missing.status == 404
    open_ref = await closed_stay(database, clock, status="open")
    still_open = await paying_client.post(
        f"/mp/stays/{open_ref}/payments", json=body, headers=driver.headers
    )
    assert still_open.status == 409
    assert (await still_open.json())["code"] == "stay_not_payable"
    assert await count(database, PaymentRow.id) == 0
