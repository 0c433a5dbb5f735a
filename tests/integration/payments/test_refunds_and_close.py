"""Closing, refunding and double payments through the WeChat Pay sandbox, on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from core.clock import FrozenClock
from core.payment_gateway import GatewayRejectedError, RefundOrder, TradeState
from core.payments import (
    CloseTooEarlyError,
    PaymentStatus,
    RefundStatus,
    RefundTooLargeError,
    RefundWindowClosedError,
)
from core.services.payment_sweep import close_payment, sweep
from core.services.payments import settle_payment
from core.services.refunds import request_refund
from core.store.database import Database
from core.store.unit_of_work import UnitOfWork
from tests.wechat_sandbox import (
    PLATE,
    REFUND_TEMPLATE,
    Driver,
    MakeClient,
    balance,
    closed_stay,
    confirm,
    entry_kinds,
    log_in,
    sandbox_post,
    sandbox_url,
    services,
    start_payment,
)

Uows = Callable[[], UnitOfWork]
CLEARING = "wechat_clearing:1900000101"
RECEIVABLE = f"driver_receivable:{PLATE}"
REVENUE = "operator_revenue:OP-CITY"


async def paid_stay(
    client: TestClient[Any, Any], server: TestServer, database: Database, clock: FrozenClock
) -> tuple[Driver, str]:
    driver = await log_in(client, server, "li-lei")
    started = await start_payment(client, driver, await closed_stay(database, clock, 800))
    assert (await confirm(client, server, started, driver))["notification"]["deliveries"] == [204]
    return driver, str(started["payment"]["out_trade_no"])


async def status_of(uow_factory: Uows, out_trade_no: str) -> tuple[PaymentStatus, int]:
    async with uow_factory() as uow:
        payment = await uow.payments.get(out_trade_no)
    assert payment is not None
    return payment.status, payment.refunded_fen


async def complete_refund(client: TestClient[Any, Any], server: TestServer, number: str) -> None:
    done = await sandbox_post(client, server, f"/sandbox/wechatpay/refunds/{number}/complete", {})
    assert done["notification"]["deliveries"] == [204]


async def test_close_is_refused_within_five_minutes_by_us_and_by_wechat_pay(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
    uow_factory: Uows,
) -> None:
    driver = await log_in(paying_client, wechat_sandbox, "li-lei")
    started = await start_payment(paying_client, driver, await closed_stay(database, clock))
    out_trade_no = started["payment"]["out_trade_no"]
    wechat = services(paying_client)
    ports = (uow_factory, clock, wechat.gateway, wechat.miniprogram, wechat.setup)

    clock.advance(timedelta(minutes=4, seconds=59))
    with pytest.raises(CloseTooEarlyError):
        await close_payment(*ports, out_trade_no)
    with pytest.raises(GatewayRejectedError) as refused:  # the sandbox holds the same rule
        await wechat.gateway.close(out_trade_no, "1900000101")
    assert refused.value.provider_code == "INVALID_REQUEST"

    clock.advance(timedelta(seconds=1))
    closed = (await close_payment(*ports, out_trade_no)).payment
    assert closed.status is PaymentStatus.CLOSED
    report = await wechat.gateway.query(out_trade_no, "1900000101")
    assert report.trade_state is TradeState.CLOSED
    # The payer can no longer pay the closed order.
    body = dict(started["request_payment"], openid=driver.openid)
    async with paying_client.session.post(
        f"{sandbox_url(wechat_sandbox)}/sandbox/wechatpay/request-payment", json=body
    ) as late:
        assert late.status == 400


async def test_partial_then_full_refund_with_notifications(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
    uow_factory: Uows,
) -> None:
    _, out_trade_no = await paid_stay(paying_client, wechat_sandbox, database, clock)
    async with uow_factory() as uow:
        paid = await uow.payments.get(out_trade_no)
        assert paid is not None and paid.stay_ref is not None
        stay_ref = paid.stay_ref
    wechat = services(paying_client)
    notify_url = wechat.setup.refund_notify_url

    part = await request_refund(
        uow_factory,
        clock,
        wechat.gateway,
        notify_url,
        out_trade_no=out_trade_no,
        amount_fen=300,
        reason="收费有误，退部分",
        actor="system:test",
    )
    assert part.status is RefundStatus.PROCESSING and part.refund_id
    assert await status_of(uow_factory, out_trade_no) == (PaymentStatus.PAID, 0)
    with pytest.raises(RefundTooLargeError):  # 300 are on the way, 500 are left
        await request_refund(
            uow_factory,
            clock,
            wechat.gateway,
            notify_url,
            out_trade_no=out_trade_no,
            amount_fen=501,
            reason="x",
            actor="system:test",
        )
    await complete_refund(paying_client, wechat_sandbox, part.out_refund_no)
    assert await status_of(uow_factory, out_trade_no) == (PaymentStatus.PARTIALLY_REFUNDED, 300)
    assert await entry_kinds(database, part.out_refund_no) == ["payment_refunded"]

    rest = await request_refund(
        uow_factory,
        clock,
        wechat.gateway,
        notify_url,
        out_trade_no=out_trade_no,
        amount_fen=500,
        reason="全部退款",
        actor="system:test",
    )
    await complete_refund(paying_client, wechat_sandbox, rest.out_refund_no)
    # A repeated completion notice is acknowledged and changes nothing.
    await complete_refund_again(paying_client, wechat_sandbox)
    assert await status_of(uow_factory, out_trade_no) == (PaymentStatus.REFUNDED, 800)
    assert await balance(database, CLEARING) == 0
    # Refunds of the payment that settled the stay say its charge was wrong: the charge comes
    # down with them, so the money back never reappears as arrears nobody can pay.
    assert await balance(database, RECEIVABLE) == 0
    assert await balance(database, REVENUE) == 0
    assert await entry_kinds(database, stay_ref) == [
        "stay_charged",
        "stay_charge_reversed",
        "stay_charge_reversed",
    ]


async def complete_refund_again(client: TestClient[Any, Any], server: TestServer) -> None:
    async with client.session.get(f"{sandbox_url(server)}/sandbox/wechatpay/notifications") as r:
        last = (await r.json())[-1]
    assert last["event_type"] == "REFUND.SUCCESS"
    resent = await sandbox_post(
        client, server, f"/sandbox/wechatpay/notifications/{last['id']}/redeliver", {}
    )
    assert resent["deliveries"] == [204, 204]


async def test_no_refund_after_one_year_neither_here_nor_at_wechat_pay(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
    uow_factory: Uows,
) -> None:
    _, out_trade_no = await paid_stay(paying_client, wechat_sandbox, database, clock)
    wechat = services(paying_client)
    clock.advance(timedelta(days=366))
    with pytest.raises(RefundWindowClosedError):
        await request_refund(
            uow_factory,
            clock,
            wechat.gateway,
            wechat.setup.refund_notify_url,
            out_trade_no=out_trade_no,
            amount_fen=100,
            reason="太晚了",
            actor="system:test",
        )
    order = RefundOrder("RF-LATE-1", out_trade_no, "1900000101", 100, 800, "太晚了", "")
    with pytest.raises(GatewayRejectedError) as refused:
        await wechat.gateway.refund(order)
    assert "退款期限" in refused.value.provider_message


async def test_a_stay_paid_twice_is_refunded_once_and_the_driver_told(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
    uow_factory: Uows,
) -> None:
    driver = await log_in(paying_client, wechat_sandbox, "li-lei")
    await sandbox_post(
        paying_client,
        wechat_sandbox,
        "/sandbox/wechat/subscriptions",
        {"openid": driver.openid, "template_id": REFUND_TEMPLATE},
    )
    stay_ref = await closed_stay(database, clock, 800)
    # Two taps with different keys, e.g. on two phones: two orders for one stay.
    first = await start_payment(paying_client, driver, stay_ref, key="tap-first-1")
    second = await start_payment(paying_client, driver, stay_ref, key="tap-second-2")
    assert first["payment"]["out_trade_no"] != second["payment"]["out_trade_no"]
    await confirm(paying_client, wechat_sandbox, first, driver)
    await confirm(paying_client, wechat_sandbox, second, driver)

    kept, extra = first["payment"]["out_trade_no"], second["payment"]["out_trade_no"]
    assert (await status_of(uow_factory, kept))[0] is PaymentStatus.PAID
    async with uow_factory() as uow:
        [refund] = await uow.payments.refunds_of(extra)
        settled = await uow.payments.settled_for_stay(stay_ref)
    assert settled is not None and settled.out_trade_no == kept
    assert (refund.amount_fen, refund.status) == (800, RefundStatus.PROCESSING)

    async with paying_client.session.get(
        f"{sandbox_url(wechat_sandbox)}/sandbox/wechat/messages", params={"openid": driver.openid}
    ) as response:
        [message] = await response.json()
    assert message["template_id"] == REFUND_TEMPLATE
    assert message["data"]["amount1"]["value"] == "8.00元"

    await complete_refund(paying_client, wechat_sandbox, refund.out_refund_no)
    assert await status_of(uow_factory, extra) == (PaymentStatus.REFUNDED, 800)
    assert await balance(database, RECEIVABLE) == 0
    assert await balance(database, CLEARING) == 800
    # The refunded notification of the second payment, sent again, refunds nothing more.
    async with paying_client.session.get(
        f"{sandbox_url(wechat_sandbox)}/sandbox/wechatpay/notifications"
    ) as response:
        payment_notes = [
            n for n in await response.json() if n["event_type"] == "TRANSACTION.SUCCESS"
        ]
    for note in payment_notes:
        await sandbox_post(
            paying_client,
            wechat_sandbox,
            f"/sandbox/wechatpay/notifications/{note['id']}/redeliver",
            {},
        )
    async with uow_factory() as uow:
        assert len(await uow.payments.refunds_of(extra)) == 1
        assert await uow.payments.refunds_of(kept) == []


async def test_the_sweep_settles_an_unnotified_payment_and_closes_an_abandoned_order(
    make_paying_client: MakeClient,
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
    uow_factory: Uows,
) -> None:
    client = await make_paying_client(notify_url="http://127.0.0.1:9/lost")
    driver = await log_in(client, wechat_sandbox, "li-lei")
    abandoned = await start_payment(client, driver, await closed_stay(database, clock))
    forgotten = await start_payment(
        client, driver, await closed_stay(database, clock), key="tap-other-2"
    )
    await confirm(client, wechat_sandbox, forgotten, driver)  # its notify is lost
    wechat = services(client)
    ports = (uow_factory, clock, wechat.gateway, wechat.miniprogram, wechat.setup)
    left_open = abandoned["payment"]["out_trade_no"]
    paid_quietly = forgotten["payment"]["out_trade_no"]

    clock.advance(timedelta(minutes=34))  # orders live 30 minutes; the sweep waits 35
    await sweep(*ports)
    assert (await status_of(uow_factory, left_open))[0] is PaymentStatus.PENDING
    clock.advance(timedelta(minutes=2))
    await sweep(*ports)
    assert (await status_of(uow_factory, left_open))[0] is PaymentStatus.CLOSED
    assert (await status_of(uow_factory, paid_quietly))[0] is PaymentStatus.PAID
    assert (await wechat.gateway.query(left_open, "1900000101")).trade_state is TradeState.CLOSED
    assert await entry_kinds(database, paid_quietly) == ["payment_settled"]


async def test_concurrent_notifies_settle_each_payment_once_and_the_stay_once(
    make_paying_client: MakeClient,
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
    uow_factory: Uows,
) -> None:
    client = await make_paying_client(notify_url="http://127.0.0.1:9/lost")
    driver = await log_in(client, wechat_sandbox, "li-lei")
    stay_ref = await closed_stay(database, clock, 800)
    orders = [await start_payment(client, driver, stay_ref, key=f"tap-race-{n}") for n in range(2)]
    for order in orders:
        await confirm(client, wechat_sandbox, order, driver)
    wechat = services(client)
    numbers = [o["payment"]["out_trade_no"] for o in orders]
    reports = [await wechat.gateway.query(n, "1900000101") for n in numbers]
    ports = (uow_factory, clock, wechat.gateway, wechat.miniprogram, wechat.setup)

    # Each report twice, all four at once: as WeChat Pay's retries and two workers might.
    outcomes = await asyncio.gather(*(settle_payment(*ports, r) for r in reports + reports))
    assert sum(o.changed for o in outcomes) == 2
    assert sum(o.duplicate_refund is not None for o in outcomes) == 1
    async with uow_factory() as uow:
        holder = await uow.payments.settled_for_stay(stay_ref)
        refunds = [r for n in numbers for r in await uow.payments.refunds_of(n)]
    assert holder is not None and holder.out_trade_no in numbers
    assert [r.out_trade_no for r in refunds] == [n for n in numbers if n != holder.out_trade_no]
    for number in numbers:
        assert await entry_kinds(database, number) == ["payment_settled"]
