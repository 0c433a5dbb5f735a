"""Passes and top-ups bought through the WeChat Pay sandbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from core.clock import FrozenClock
from core.passes import SHANGHAI, RefundExceedsBalanceError
from core.payment_gateway import ProviderRefundStatus, RefundReport
from core.services.payments import settle_payment
from core.services.refunds import apply_refund_report, request_refund
from core.store.database import Database
from core.store.lots import LotRightRow
from core.store.pass_sales import RightOrderRow
from core.store.payments import PaymentRow
from core.store.unit_of_work import UnitOfWork
from tests.wechat_sandbox import (
    Driver,
    MakeClient,
    balance,
    confirm,
    entry_kinds,
    log_in,
    services,
)

Uows = Callable[[], UnitOfWork]
TIANYI_SUB_MCHID = "1900000102"
NEW_PLATE = "浙B12345"  # no right in the demo lots
PASS_PLATE = "浙B88888"  # MP-TIANYI-001 until 2027-01-01
CARD_PLATE = "浙B77777"  # SV-TIANYI-001 holding 100 yuan


async def bind(client: TestClient[Any, Any], driver: Driver, plate: str) -> None:
    response = await client.post("/mp/me/plates", json={"plate": plate}, headers=driver.headers)
    assert response.status in (200, 201), await response.text()


async def order_pass(
    client: TestClient[Any, Any],
    driver: Driver,
    plate: str,
    months: int = 1,
    key: str = "pass-0001",
) -> dict[str, Any]:
    body = {"product": "M-SMALL", "plate": plate, "months": months, "idempotency_key": key}
    response = await client.post("/mp/lots/LOT-TIANYI/passes", json=body, headers=driver.headers)
    assert response.status == 200, await response.text()
    answer: dict[str, Any] = await response.json()
    return answer


async def top_up(
    client: TestClient[Any, Any], driver: Driver, plate: str, fen: int, key: str = "top-up-01"
) -> dict[str, Any]:
    body = {"plate": plate, "amount_fen": fen, "idempotency_key": key}
    response = await client.post(
        "/mp/lots/LOT-TIANYI/stored-value/top-ups", json=body, headers=driver.headers
    )
    assert response.status == 200, await response.text()
    answer: dict[str, Any] = await response.json()
    return answer


async def right_of(database: Database, out_trade_no: str) -> LotRightRow:
    async with database.sessions() as session:
        order = await session.scalar(
            select(RightOrderRow).where(RightOrderRow.out_trade_no == out_trade_no)
        )
        assert order is not None and order.right_id is not None
        right = await session.get(LotRightRow, order.right_id)
    assert right is not None
    return right


async def card(database: Database, ref: str) -> LotRightRow:
    async with database.sessions() as session:
        found = await session.scalar(select(LotRightRow).where(LotRightRow.ref == ref))
    assert found is not None
    return found


async def test_a_bought_pass_is_given_once_and_shown_in_my_rights(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    driver = await log_in(paying_client, wechat_sandbox, "li-lei")
    await bind(paying_client, driver, NEW_PLATE)
    started = await order_pass(paying_client, driver, NEW_PLATE, months=3)
    payment = started["payment"]
    assert (payment["purpose"], payment["stay_ref"], payment["amount_fen"]) == ("pass", None, 90000)
    assert started["request_payment"]["package"].startswith("prepay_id=")
    # The same key again is the same order.
    assert (await order_pass(paying_client, driver, NEW_PLATE, months=3))["payment"] == payment

    paid = await confirm(paying_client, wechat_sandbox, started, driver)
    assert paid["notification"]["deliveries"] == [204]
    out_trade_no = payment["out_trade_no"]
    right = await right_of(database, out_trade_no)
    assert (right.kind, right.status, right.valid_from) == ("monthly", "active", clock.now())
    assert right.valid_until == datetime(2027, 2, 25, tzinfo=SHANGHAI)
    assert await entry_kinds(database, out_trade_no) == ["pass_sold"]
    assert await balance(database, "deferred_revenue:OP-TIANYI") == -90000
    async with UnitOfWork(database.sessions) as uow:
        [link] = [a async for a in uow.audit.all_links() if a.target == out_trade_no]
    assert (link.actor, link.action) == ("system:pass_sales", "lot_pass_sold")

    rights = await (await paying_client.get("/mp/me/rights", headers=driver.headers)).json()
    assert [(r["ref"], r["plates"], r["last_day"]) for r in rights["rights"]] == [
        (right.ref, [NEW_PLATE], "2027-02-24")
    ]
    again = await paying_client.post(
        "/mp/lots/LOT-TIANYI/passes",
        json={
            "product": "M-SMALL",
            "plate": NEW_PLATE,
            "months": 3,
            "idempotency_key": "pass-0001",
        },
        headers=driver.headers,
    )
    assert (again.status, (await again.json())["code"]) == (409, "order_already_paid")


async def test_renewing_the_demo_pass_extends_it_from_its_end(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
) -> None:
    driver = await log_in(paying_client, wechat_sandbox, "wang")
    await bind(paying_client, driver, PASS_PLATE)
    quote = await paying_client.post(
        "/mp/lots/LOT-TIANYI/passes/quote",
        json={"product": "M-SMALL", "plate": PASS_PLATE, "months": 2},
        headers=driver.headers,
    )
    assert quote.status == 200, await quote.text()
    quoted = await quote.json()
    assert (quoted["renewal"], quoted["amount_fen"], quoted["last_day"]) == (
        True,
        60000,
        "2027-02-28",
    )
    started = await order_pass(paying_client, driver, PASS_PLATE, months=2)
    await confirm(paying_client, wechat_sandbox, started, driver)
    right = await right_of(database, started["payment"]["out_trade_no"])
    assert right.ref == "MP-TIANYI-001"
    assert right.valid_until == datetime(2027, 3, 1, tzinfo=SHANGHAI)


async def test_a_top_up_credits_the_demo_card_and_a_new_plate_gets_a_card(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
) -> None:
    driver = await log_in(paying_client, wechat_sandbox, "zhao")
    await bind(paying_client, driver, CARD_PLATE)
    await bind(paying_client, driver, NEW_PLATE)
    first = await top_up(paying_client, driver, CARD_PLATE, 5000)
    assert first["payment"]["purpose"] == "top_up"
    await confirm(paying_client, wechat_sandbox, first, driver)
    assert (await card(database, "SV-TIANYI-001")).balance_fen == 15000
    assert await balance(database, "stored_value:SV-TIANYI-001") == -5000

    second = await top_up(paying_client, driver, NEW_PLATE, 100, key="top-up-02")
    await confirm(paying_client, wechat_sandbox, second, driver)
    opened = await right_of(database, second["payment"]["out_trade_no"])
    assert (opened.kind, opened.balance_fen, opened.ref) == (
        "stored_value",
        100,
        f"SV-{second['payment']['out_trade_no']}",
    )
    rights = await (await paying_client.get("/mp/me/rights", headers=driver.headers)).json()
    # Neither binding is verified: the driver sees only the cards their own orders paid into.
    assert sorted((r["ref"], r["balance_fen"]) for r in rights["rights"]) == sorted(
        [("SV-TIANYI-001", 15000), (opened.ref, 100)]
    )


async def test_racing_notifies_and_queries_apply_each_order_once(
    make_paying_client: MakeClient,
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
    uow_factory: Uows,
) -> None:
    client = await make_paying_client(notify_url="http://127.0.0.1:9/lost")
    driver = await log_in(client, wechat_sandbox, "li-lei")
    await bind(client, driver, NEW_PLATE)
    await bind(client, driver, CARD_PLATE)
    orders = [
        await order_pass(client, driver, NEW_PLATE, 1, key="race-pass-1"),
        await order_pass(client, driver, NEW_PLATE, 2, key="race-pass-2"),
        await top_up(client, driver, CARD_PLATE, 3000, key="race-top-1"),
        await top_up(client, driver, CARD_PLATE, 700, key="race-top-2"),
    ]
    for order in orders:
        await confirm(client, wechat_sandbox, order, driver)  # the notifies are lost
    wechat = services(client)
    numbers = [o["payment"]["out_trade_no"] for o in orders]
    reports = [await wechat.gateway.query(n, TIANYI_SUB_MCHID) for n in numbers]
    ports = (uow_factory, clock, wechat.gateway, wechat.miniprogram, wechat.setup)

    # Every report three times at once: WeChat Pay's retries, a query and a second worker.
    outcomes = await asyncio.gather(*(settle_payment(*ports, r) for r in reports * 3))
    assert sum(o.changed for o in outcomes) == 4
    passes = {(await right_of(database, n)).id for n in numbers[:2]}
    assert len(passes) == 1  # the second order extended the pass the first made
    right = await right_of(database, numbers[0])
    assert right.valid_until == datetime(2027, 2, 25, tzinfo=SHANGHAI)  # 1 + 2 months
    assert (await card(database, "SV-TIANYI-001")).balance_fen == 10000 + 3000 + 700
    for number, kind in zip(
        numbers, ["pass_sold"] * 2 + ["stored_value_topped_up"] * 2, strict=True
    ):
        assert await entry_kinds(database, number) == [kind]


async def test_a_top_up_is_refunded_only_up_to_the_unspent_balance(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
    uow_factory: Uows,
) -> None:
    driver = await log_in(paying_client, wechat_sandbox, "li-lei")
    await bind(paying_client, driver, NEW_PLATE)
    started = await top_up(paying_client, driver, NEW_PLATE, 5000)
    await confirm(paying_client, wechat_sandbox, started, driver)
    out_trade_no = started["payment"]["out_trade_no"]
    opened = await right_of(database, out_trade_no)
    async with database.sessions() as session:  # 30 yuan spent at an exit
        row = await session.get_one(LotRightRow, opened.id)
        row.balance_fen = 2000
        await session.commit()
    wechat = services(paying_client)
    notify_url = wechat.setup.refund_notify_url

    async def refund(fen: int) -> Any:
        return await request_refund(
            uow_factory,
            clock,
            wechat.gateway,
            notify_url,
            out_trade_no=out_trade_no,
            amount_fen=fen,
            reason="车主申请退还余额",
            actor="test:finance",
        )

    with pytest.raises(RefundExceedsBalanceError):
        await refund(2001)
    assert (await card(database, opened.ref)).balance_fen == 2000
    first = await refund(1500)
    assert (await card(database, opened.ref)).balance_fen == 500  # held while in flight
    with pytest.raises(RefundExceedsBalanceError):
        await refund(501)
    # WeChat Pay gives up on the refund: the money is back on the card.
    await apply_refund_report(
        uow_factory,
        clock,
        RefundReport(
            first.out_refund_no,
            out_trade_no,
            TIANYI_SUB_MCHID,
            first.refund_id or "r-1",
            ProviderRefundStatus.CLOSED,
            1500,
        ),
    )
    assert (await card(database, opened.ref)).balance_fen == 2000
    done = await refund(2000)
    await apply_refund_report(
        uow_factory,
        clock,
        RefundReport(
            done.out_refund_no,
            out_trade_no,
            TIANYI_SUB_MCHID,
            done.refund_id or "r-2",
            ProviderRefundStatus.SUCCESS,
            2000,
            clock.now(),
        ),
    )
    assert (await card(database, opened.ref)).balance_fen == 0
    assert await entry_kinds(database, done.out_refund_no) == ["stored_value_refunded"]
    assert await balance(database, f"stored_value:{opened.ref}") == -3000


async def test_a_pass_refunded_in_full_takes_its_months_back(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
    uow_factory: Uows,
) -> None:
    driver = await log_in(paying_client, wechat_sandbox, "wang")
    await bind(paying_client, driver, PASS_PLATE)
    started = await order_pass(paying_client, driver, PASS_PLATE, months=1)
    await confirm(paying_client, wechat_sandbox, started, driver)
    out_trade_no = started["payment"]["out_trade_no"]
    assert (await card(database, "MP-TIANYI-001")).valid_until == datetime(
        2027, 2, 1, tzinfo=SHANGHAI
    )
    wechat = services(paying_client)
    partial = await request_refund(
        uow_factory,
        clock,
        wechat.gateway,
        wechat.setup.refund_notify_url,
        out_trade_no=out_trade_no,
        amount_fen=10000,
        reason="部分退款",
        actor="test:finance",
    )
    rest = await request_refund(
        uow_factory,
        clock,
        wechat.gateway,
        wechat.setup.refund_notify_url,
        out_trade_no=out_trade_no,
        amount_fen=20000,
        reason="全部退款",
        actor="test:finance",
    )
    for refund in (partial, rest):
        report = RefundReport(
            refund.out_refund_no,
            out_trade_no,
            TIANYI_SUB_MCHID,
            refund.refund_id or "r",
            ProviderRefundStatus.SUCCESS,
            refund.amount_fen,
            clock.now(),
        )
        await apply_refund_report(uow_factory, clock, report)
        if refund is partial:  # a partial refund moves money only
            assert (await card(database, "MP-TIANYI-001")).valid_until == datetime(
                2027, 2, 1, tzinfo=SHANGHAI
            )
    assert (await card(database, "MP-TIANYI-001")).valid_until == datetime(
        2027, 1, 1, tzinfo=SHANGHAI
    )
    assert await balance(database, "deferred_revenue:OP-TIANYI") == 0
    assert await entry_kinds(database, rest.out_refund_no) == ["pass_refunded"]


@pytest.mark.parametrize(
    ("path", "body", "status", "code", "message"),
    [
        (
            "/mp/lots/LOT-TIANYI/passes",
            {"product": "NOPE", "plate": NEW_PLATE, "months": 1, "idempotency_key": "bad-0001"},
            404,
            "pass_product_not_found",
            "该停车场没有此月卡产品",
        ),
        (
            "/mp/lots/LOT-NOPE/passes",
            {"product": "M-SMALL", "plate": NEW_PLATE, "months": 1, "idempotency_key": "bad-0002"},
            404,
            "lot_not_found",
            "停车场不存在",
        ),
        (
            "/mp/lots/LOT-TIANYI/passes",
            {"product": "M-SMALL", "plate": "浙B99999", "months": 1, "idempotency_key": "bad-0003"},
            404,
            "plate_not_bound",
            "您尚未绑定该车牌",
        ),
        (
            "/mp/lots/LOT-TIANYI/passes",
            {"product": "M-SMALL", "plate": NEW_PLATE, "months": 13, "idempotency_key": "bad-0004"},
            400,
            "pass_months_invalid",
            "购买月数须在1至12个月之间",
        ),
        (
            "/mp/lots/LOT-TIANYI/passes",
            {"product": "M-LARGE", "plate": NEW_PLATE, "months": 1, "idempotency_key": "bad-0005"},
            409,
            "pass_not_for_sale",
            "该月卡暂不支持线上购买，请到停车场管理处办理",
        ),
        (
            "/mp/lots/LOT-TIANYI/passes",
            {"product": "M-NEV", "plate": NEW_PLATE, "months": 1, "idempotency_key": "bad-0006"},
            400,
            "pass_vehicle_class",
            "该月卡不适用于此车型",
        ),
        (
            "/mp/lots/LOT-TIANYI/passes",
            {"product": "M-SMALL", "plate": NEW_PLATE, "months": 1},
            400,
            "invalid_request",
            "请求参数有误：idempotency_key",
        ),
        (
            "/mp/lots/LOT-TIANYI/stored-value/top-ups",
            {"plate": NEW_PLATE, "amount_fen": 99, "idempotency_key": "bad-0007"},
            400,
            "top_up_amount_invalid",
            "充值金额须在1.00元至5000.00元之间",
        ),
        (
            "/mp/lots/LOT-TIANYI/stored-value/top-ups",
            {"plate": NEW_PLATE, "amount_fen": 500001, "idempotency_key": "bad-0008"},
            400,
            "top_up_amount_invalid",
            "充值金额须在1.00元至5000.00元之间",
        ),
        (
            "/mp/lots/LOT-TIANYI/stored-value/top-ups",
            {"plate": "浙B99999", "amount_fen": 1000, "idempotency_key": "bad-0009"},
            404,
            "plate_not_bound",
            "您尚未绑定该车牌",
        ),
        (
            "/mp/lots/LOT-TIANYI/stored-value/top-ups",
            {"plate": NEW_PLATE, "amount_fen": 1000},
            400,
            "invalid_request",
            "请求参数有误：idempotency_key",
        ),
    ],
)
async def test_bad_orders_are_refused_in_chinese_and_change_nothing(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    path: str,
    body: dict[str, Any],
    status: int,
    code: str,
    message: str,
) -> None:
    driver = await log_in(paying_client, wechat_sandbox, "li-lei")
    await bind(paying_client, driver, NEW_PLATE)
    response = await paying_client.post(path, json=body, headers=driver.headers)
    assert response.status == status, await response.text()
    assert await response.json() == {"code": code, "message": message}
    async with database.sessions() as session:
        for table in (PaymentRow.id, RightOrderRow.id):
            assert await session.scalar(select(func.count(table))) == 0


async def test_an_idempotency_key_names_one_order_and_needs_a_driver(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
) -> None:
    driver = await log_in(paying_client, wechat_sandbox, "li-lei")
    await bind(paying_client, driver, NEW_PLATE)
    await order_pass(paying_client, driver, NEW_PLATE, 1, key="same-key-1")
    other = await paying_client.post(
        "/mp/lots/LOT-TIANYI/stored-value/top-ups",
        json={"plate": NEW_PLATE, "amount_fen": 1000, "idempotency_key": "same-key-1"},
        headers=driver.headers,
    )
    assert (other.status, (await other.json())["message"]) == (400, "该幂等键已用于其他订单")
    anonymous = await paying_client.get("/mp/me/rights")
    assert anonymous.status == 401
    async with database.sessions() as session:
        assert await session.scalar(select(func.count(PaymentRow.id))) == 1
    listed = await (await paying_client.get("/mp/lots/LOT-TIANYI/pass-products")).json()
    assert [(p["code"], p["online"]) for p in listed["products"]] == [
        ("M-LARGE", False),
        ("M-NEV", True),
        ("M-SMALL", True),
    ]
