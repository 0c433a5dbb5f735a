"""Cashier shifts over HTTP on both databases: cash with receipts, free releases, the count."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from core.cashier import MicropayOrder, MicropayResult
from core.clock import FrozenClock
from core.services import cashier
from core.staff import Role, StaffIdentity
from core.store.unit_of_work import UnitOfWork
from tests.integration.test_attendant import login
from tests.integration.test_lanes import read

Client = TestClient[Any, Any]


async def post(
    client: Client, headers: dict[str, str], path: str, body: dict[str, Any], status: int = 200
) -> dict[str, Any]:
    async with client.post(f"/ops/cashier/{path}", json=body, headers=headers) as response:
        assert response.status == status, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer


async def test_a_shift_takes_cash_releases_free_and_keeps_the_difference(
    client: Client, clock: FrozenClock, uow_factory: Callable[[], UnitOfWork]
) -> None:
    await read(client, clock, "LOT-HOSP", "E1", "浙B12345")
    await read(client, clock, "LOT-HOSP", "E1", "浙B22222")
    paid = await read(client, clock, "LOT-HOSP", "X1", "浙B12345", after=timedelta(hours=2))
    freed = await read(client, clock, "LOT-HOSP", "X1", "浙B22222", after=timedelta(minutes=1))
    assert paid["fee_fen"] == 600 and freed["fee_fen"] == 900
    headers = await login(client, "demo-cashier")
    await post(client, headers, "cash", {"stay_ref": paid["stay_ref"], "amount_fen": 600}, 409)
    shift = await post(
        client,
        headers,
        "shifts",
        {"lot": "LOT-HOSP", "lane": "X1", "opening_float_fen": 20000},
        201,
    )
    await post(client, headers, "shifts", {"lot": "LOT-HOSP"}, 409)  # one open shift
    await post(client, headers, "cash", {"stay_ref": paid["stay_ref"], "amount_fen": 500}, 400)
    cash = await post(client, headers, "cash", {"stay_ref": paid["stay_ref"], "amount_fen": 600})
    assert cash["amount_fen"] == 600
    assert "实收现金：6.00元" in cash["receipt_text"] and cash["receipt_no"] in cash["receipt_text"]
    assert cash["commands"][0]["kind"] == "open_gate"
    await post(client, headers, "cash", {"stay_ref": paid["stay_ref"], "amount_fen": 600}, 409)
    await post(client, headers, "free", {"stay_ref": freed["stay_ref"], "reason": ""}, 400)
    free = await post(
        client, headers, "free", {"stay_ref": freed["stay_ref"], "reason": "急诊患者家属"}
    )
    assert free["amount_fen"] == 0
    await post(client, headers, "shifts/close", {"counted_cash_fen": 20500}, 400)
    report = await post(
        client,
        headers,
        "shifts/close",
        {"counted_cash_fen": 20500, "explanation": "找零时多找1元"},
    )
    assert (report["expected_cash_fen"], report["difference_fen"], report["free_count"]) == (
        20600,
        -100,
        1,
    )
    async with client.get(f"/ops/cashier/shifts/{shift['ref']}", headers=headers) as response:
        shown = await response.json()
    assert (shown["status"], shown["explanation"], len(shown["takings"])) == (
        "closed",
        "找零时多找1元",
        2,
    )
    async with uow_factory() as uow:
        assert await uow.ledger.balance_fen("driver_receivable:浙B12345") == 0
        assert await uow.ledger.balance_fen("driver_receivable:浙B22222") == 0
        assert await uow.ledger.balance_fen(f"cash_on_hand:{shift['ref']}") == 600


async def test_micropay_without_a_gateway_is_refused(client: Client, clock: FrozenClock) -> None:
    await read(client, clock, "LOT-HOSP", "E1", "浙B12345")
    out = await read(client, clock, "LOT-HOSP", "X1", "浙B12345", after=timedelta(hours=1))
    headers = await login(client, "demo-cashier")
    await post(client, headers, "shifts", {"lot": "LOT-HOSP"}, 201)
    body = {"stay_ref": out["stay_ref"], "auth_code": "134567890123456789"}
    answer = await post(client, headers, "micropay", body, 503)
    assert answer["code"] == "payments_not_configured"


class FakeMicropay:
    """A payment provider that accepts one code and declines the others."""

    def __init__(self) -> None:
        self.orders: list[MicropayOrder] = []

    async def micropay(self, order: MicropayOrder) -> MicropayResult:
        self.orders.append(order)
        if order.auth_code == "134567890123456789":
            return MicropayResult(True, "SUCCESS", "4200000001")
        return MicropayResult(False, "PAYERROR")


async def test_micropay_through_the_port_settles_the_stay_and_opens_the_lane(
    client: Client, clock: FrozenClock, uow_factory: Callable[[], UnitOfWork]
) -> None:
    await read(client, clock, "LOT-HOSP", "E1", "浙B12345")
    out = await read(client, clock, "LOT-HOSP", "X1", "浙B12345", after=timedelta(hours=1))
    async with uow_factory() as uow:
        row = await uow.staff.by_username("demo-cashier")
        assert row is not None
        staff = StaffIdentity(
            row.id, row.username, Role(row.role), await uow.staff.scopes_of(row.id)
        )
    gateway = FakeMicropay()
    async with uow_factory() as uow:
        await cashier.open_shift(uow, clock, staff, "LOT-HOSP", "X1", 0)
    async with uow_factory() as uow:
        try:
            await cashier.take_micropay(uow, clock, gateway, staff, out["stay_ref"], "13999")
        except cashier.MicropayFailedError:
            pass
        else:
            raise AssertionError("a declined code must not settle")
    async with uow_factory() as uow:
        result = await cashier.take_micropay(
            uow, clock, gateway, staff, out["stay_ref"], "134567890123456789"
        )
    assert (result.amount_fen, result.commands[0].kind.value) == (300, "open_gate")
    assert [o.sub_mchid for o in gateway.orders] == ["1900000101", "1900000101"]
    async with uow_factory() as uow:
        assert await uow.ledger.balance_fen("driver_receivable:浙B12345") == 0
        assert await uow.ledger.balance_fen("wechat_clearing:1900000101") == 300
