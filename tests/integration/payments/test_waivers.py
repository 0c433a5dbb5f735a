"""Staff waive a wrong or forgiven charge: audited, in the ledger, never more than is unpaid."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from core.clock import FrozenClock
from core.payments import RefundStatus
from core.store.database import Database
from core.store.unit_of_work import UnitOfWork
from tests.e2e.test_walking_skeleton import staff_token
from tests.wechat_sandbox import PLATE, balance, closed_stay, confirm, log_in, start_payment

Uows = Callable[[], UnitOfWork]


async def _waive(
    client: TestClient[Any, Any], username: str, ref: str, amount: int, reason: str = "地磁误报"
) -> tuple[int, Any]:
    token = await staff_token(client, username)
    response = await client.post(
        f"/ops/stays/{ref}/waivers",
        json={"amount_fen": amount, "reason": reason},
        headers={"Authorization": f"Bearer {token}"},
    )
    return response.status, await response.json()


async def test_a_support_agent_waives_part_then_the_rest(
    paying_client: TestClient[Any, Any], database: Database, clock: FrozenClock, uow_factory: Uows
) -> None:
    ref = await closed_stay(database, clock, 800)
    status, denied = await _waive(paying_client, "demo-officer", ref, 300)
    assert (status, denied["code"]) == (403, "forbidden")  # officers chase, not forgive
    status, too_much = await _waive(paying_client, "demo-support", ref, 801)
    assert (status, too_much["code"]) == (400, "waiver_too_large")

    status, part = await _waive(paying_client, "demo-support", ref, 300, "地磁误报，多计30分钟")
    assert status == 200, part
    assert (part["fee_before"], part["fee_after"], part["due_after"]) == (800, 500, 500)
    assert await balance(database, f"driver_receivable:{PLATE}") == 500
    assert await balance(database, "waived:OP-CITY") == 300
    owed = await (await paying_client.get(f"/mp/plates/{PLATE}/stays")).json()
    assert owed["total_due_fen"] == 500

    status, rest = await _waive(paying_client, "demo-finance", ref, 500, "首次违规，予以免除")
    assert status == 200 and rest["due_after"] == 0
    owed = await (await paying_client.get(f"/mp/plates/{PLATE}/stays")).json()
    assert owed["stays"] == []
    status, nothing = await _waive(paying_client, "demo-finance", ref, 1)
    assert (status, nothing["code"]) == (404, "stay_not_found")  # nothing charged any more
    async with uow_factory() as uow:
        links = await uow.audit.page(action="stay.waive")
    assert sorted((link.actor, link.details["amount_fen"]) for link in links) == [
        ("demo-finance", 500),
        ("demo-support", 300),
    ]


async def test_a_payment_for_the_old_fee_gets_the_waived_part_back(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
    uow_factory: Uows,
) -> None:
    ref = await closed_stay(database, clock, 800)
    driver = await log_in(paying_client, wechat_sandbox, "li-lei")
    started = await start_payment(paying_client, driver, ref)  # an order for 800 is open
    status, _ = await _waive(paying_client, "demo-support", ref, 300)
    assert status == 200
    await confirm(paying_client, wechat_sandbox, started, driver)  # the driver still pays 800
    async with uow_factory() as uow:
        refunds = await uow.payments.refunds_of(started["payment"]["out_trade_no"])
    assert [(r.amount_fen, r.status) for r in refunds] == [(300, RefundStatus.REQUESTED)]
    # Paid 800 against a fee of 500: the plate is 300 in credit until the refund lands.
    assert await balance(database, f"driver_receivable:{PLATE}") == -300
