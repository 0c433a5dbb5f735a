"""Every WeChat Pay channel of a stay is opened frozen for profit sharing (分账) while the
operator's contract is in force, and the daily run shares it: combined sub-orders, parking-
service deductions (无感支付) and payment codes at the cashier, like the mini-program's JSAPI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from core.clock import FrozenClock
from core.payments import SHANGHAI
from core.services import micropay
from core.store.database import Database
from core.store.unit_of_work import UnitOfWork
from sandbox.wechatpay.state import SANDBOX_KEY
from tests.e2e.test_walking_skeleton import staff_token
from tests.integration.payments.test_auto_pay import (
    FEE,
    authorise,
    parked_and_priced,
    verified_driver,
)
from tests.integration.payments.test_combined_arrears import pay_all, three_owed_stays
from tests.integration.payments.test_profit_sharing import CONTRACT
from tests.integration.test_micropay_service import (
    PAYS,
    FakeMicropay,
    FakeRefunds,
    cashier_on_shift,
    ports,
    stay_at_exit,
)
from tests.wechat_sandbox import sandbox_post

SHARED_BP = CONTRACT["city_bp"] + CONTRACT["platform_bp"]  # type: ignore[operator]


async def finance(client: TestClient[Any, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {await staff_token(client, 'demo-finance')}"}


async def contract_for_op_city(client: TestClient[Any, Any]) -> None:
    """OP-CITY's percent contract, set by finance."""
    made = await client.post(
        "/ops/operators/OP-CITY/contracts", json=CONTRACT, headers=await finance(client)
    )
    assert made.status == 200, await made.text()


async def run_sharing(client: TestClient[Any, Any], clock: FrozenClock) -> dict[str, Any]:
    day = clock.now().astimezone(SHANGHAI).date().isoformat()
    headers = await finance(client)
    response = await client.post("/ops/profit-sharing/runs", json={"date": day}, headers=headers)
    assert response.status == 200, await response.text()
    run: dict[str, Any] = await response.json()
    return run


async def test_combined_sub_orders_of_an_operator_under_contract_are_shared(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    await contract_for_op_city(paying_client)
    driver = await verified_driver(paying_client, wechat_sandbox, database, clock)
    await three_owed_stays(database, clock)  # 500 and 700 of OP-CITY, 900 of OP-EAST
    order, _ = await pay_all(paying_client, wechat_sandbox, driver.headers, driver.openid)
    books = wechat_sandbox.app[SANDBOX_KEY].books
    async with UnitOfWork(database.sessions) as uow:
        parts = [await uow.payments.get(p["out_trade_no"]) for p in order["parts"]]
    frozen = {
        p.amount_fen: (p.profit_sharing, books.orders[p.out_trade_no].request.get("settle_info"))
        for p in parts
        if p is not None
    }
    assert frozen == {
        500: (True, {"profit_sharing": True}),
        700: (True, {"profit_sharing": True}),
        900: (False, None),  # OP-EAST has no contract: paid out at once
    }
    run = await run_sharing(paying_client, clock)
    assert (run["orders_finished"], run["failed"]) == (2, [])
    assert run["shared_fen"] == 500 * SHARED_BP // 10_000 + 700 * SHARED_BP // 10_000


async def test_a_parking_service_deduction_under_contract_is_shared(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    await contract_for_op_city(paying_client)
    driver = await verified_driver(paying_client, wechat_sandbox, database, clock)
    await authorise(paying_client, wechat_sandbox, driver)
    _, deducting = await parked_and_priced(paying_client, database, clock)
    assert deducting.out_trade_no
    books = wechat_sandbox.app[SANDBOX_KEY].books
    assert books.orders[deducting.out_trade_no].request["profit_sharing"] == "Y"
    done = await sandbox_post(
        paying_client,
        wechat_sandbox,
        f"/sandbox/wechatpay/parking/deductions/{deducting.out_trade_no}/complete",
        {},
    )
    assert done["trade_state"] == "SUCCESS"
    async with UnitOfWork(database.sessions) as uow:
        payment = await uow.payments.get(deducting.out_trade_no)
    assert payment is not None and payment.profit_sharing
    run = await run_sharing(paying_client, clock)
    assert (run["orders_finished"], run["shared_fen"], run["failed"]) == (
        1,
        FEE * SHARED_BP // 10_000,
        [],
    )


async def test_a_payment_code_under_contract_is_taken_frozen_for_sharing(
    client: TestClient[Any, Any],
    clock: FrozenClock,
    uow_factory: Callable[[], UnitOfWork],
) -> None:
    await contract_for_op_city(client)
    stay_ref = await stay_at_exit(client, clock, "浙B12345")
    staff = await cashier_on_shift(uow_factory, clock)
    gateway, refunds = FakeMicropay(), FakeRefunds()
    taken = await micropay.take_micropay(
        uow_factory, clock, ports(gateway, refunds), staff, stay_ref, PAYS
    )
    [order] = gateway.orders
    assert order.profit_sharing is True
    async with uow_factory() as uow:
        payment = await uow.payments.get(taken.receipt_no)
    assert payment is not None and payment.profit_sharing
