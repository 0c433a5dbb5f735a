"""One payment for a plate's arrears across operators (合单), through the WeChat Pay sandbox."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

from aiohttp.test_utils import TestClient, TestServer

from core.clock import FrozenClock
from core.store.city import OperatorRow
from core.store.database import Database
from core.store.unit_of_work import UnitOfWork
from tests.integration.payments.test_auto_pay import verified_driver
from tests.wechat_sandbox import PLATE, balance, sandbox_post, street_stay

OTHER_SUB_MCHID = "1900000109"


async def three_owed_stays(database: Database, clock: FrozenClock) -> list[str]:
    """Two stays of OP-CITY and one of another operator, each charged and unpaid."""
    refs = []
    for hours_ago, fee in ((30, 500), (20, 700), (10, 900)):
        refs.append(
            await street_stay(
                database,
                fee_fen=fee,
                exited_at=clock.now() - timedelta(hours=hours_ago),
                charged=True,
            )
        )
    async with UnitOfWork(database.sessions) as uow:
        other = OperatorRow(code="OP-EAST", name="东区停车", sub_mchid=OTHER_SUB_MCHID)
        uow.session.add(other)
        await uow.session.flush()
        stay = await uow.stays.by_ref(refs[2])
        assert stay is not None
        stay.operator_id = other.id
        await uow.commit()
    return refs


async def pay_all(
    client: TestClient[Any, Any],
    server: TestServer,
    headers: dict[str, str],
    openid: str,
    *,
    fail: list[int] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    started = await client.post(
        f"/mp/me/plates/{quote(PLATE)}/arrears/payments", json={}, headers=headers
    )
    assert started.status == 200, await started.text()
    order: dict[str, Any] = await started.json()
    fails = [order["parts"][i]["out_trade_no"] for i in fail or []]
    body = dict(order["request_payment"], openid=openid, fail=fails)
    paid = await sandbox_post(client, server, "/sandbox/wechatpay/combine/request-payment", body)
    return order, paid


async def test_one_payment_settles_three_stays_of_two_operators(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    driver = await verified_driver(paying_client, wechat_sandbox, database, clock)
    refs = await three_owed_stays(database, clock)
    assert await balance(database, f"driver_receivable:{PLATE}") == 2100

    order, paid = await pay_all(paying_client, wechat_sandbox, driver.headers, driver.openid)
    assert order["amount_fen"] == 2100
    parts = {p["stay_ref"]: p for p in order["parts"]}
    assert set(parts) == set(refs)
    assert paid["notification"]["deliveries"] == [204]

    async with UnitOfWork(database.sessions) as uow:
        settled = {ref: await uow.payments.settled_for_stay(ref) for ref in refs}
        owed = await uow.stays.unpaid_for_plate(PLATE)
    assert all(p is not None and p.status == "paid" for p in settled.values())
    # Each sub-order went to its own operator's sub-merchant, never pooled.
    assert {ref: p.sub_mchid for ref, p in settled.items() if p} == {
        refs[0]: "1900000101",
        refs[1]: "1900000101",
        refs[2]: OTHER_SUB_MCHID,
    }
    assert owed == []
    assert await balance(database, f"driver_receivable:{PLATE}") == 0
    assert await balance(database, f"wechat_clearing:{OTHER_SUB_MCHID}") == 900


async def test_a_failed_sub_order_leaves_only_its_stay_owed(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    driver = await verified_driver(paying_client, wechat_sandbox, database, clock)
    await three_owed_stays(database, clock)
    order, paid = await pay_all(
        paying_client, wechat_sandbox, driver.headers, driver.openid, fail=[1]
    )
    failed = order["parts"][1]
    assert paid["sub_orders"][failed["out_trade_no"]] == "PAYERROR"

    async with UnitOfWork(database.sessions) as uow:
        owed = await uow.stays.unpaid_for_plate(PLATE)
        payment = await uow.payments.get(failed["out_trade_no"])
    assert [(row.ref, due) for row, due in owed] == [(failed["stay_ref"], failed["amount_fen"])]
    assert payment is not None and payment.status == "failed"
    assert await balance(database, f"driver_receivable:{PLATE}") == failed["amount_fen"]
