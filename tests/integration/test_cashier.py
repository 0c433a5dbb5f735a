"""Cashier shifts over HTTP on both databases: cash with receipts, free releases, the count."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from core.clock import FrozenClock
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
