"""What a typed plate owes: every stay with money due, however old, and nothing already paid."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from core.clock import FrozenClock
from core.store.database import Database
from tests.e2e.test_walking_skeleton import staff_token
from tests.integration.test_lanes import read
from tests.wechat_sandbox import street_stay

PLATE = "浙B88888"


async def _street_stay(database: Database, clock: FrozenClock, status: str, fee: int | None) -> str:
    return await street_stay(
        database,
        plate=PLATE,
        fee_fen=fee,
        status=status,
        exited_at=clock.now(),
        berth_code="HS1-002",
        hours=0.5,
    )


async def _owed(client: TestClient[Any, Any]) -> dict[str, Any]:
    response = await client.get(f"/mp/plates/{PLATE}/stays")
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_old_arrears_show_behind_many_newer_stays(
    client: TestClient[Any, Any], database: Database, clock: FrozenClock
) -> None:
    old = await _street_stay(database, clock, "closed", 800)
    for _ in range(25):  # free stays since, more than any "recent stays" page holds
        clock.advance(timedelta(hours=3))
        await _street_stay(database, clock, "closed", 0)
    await _street_stay(database, clock, "review", 500)  # not confirmed yet: nothing to pay
    await _street_stay(database, clock, "void", 300)
    await _street_stay(database, clock, "open", None)
    owed = await _owed(client)
    assert owed == {
        "plate": PLATE,
        "total_due_fen": 800,
        "stays": [{"ref": old, "plate": PLATE, "due_fen": 800}],
    }


async def test_a_lot_stay_paid_in_cash_is_not_owed(
    client: TestClient[Any, Any], clock: FrozenClock
) -> None:
    await read(client, clock, "LOT-HOSP", "E1", PLATE)
    exit_read = await read(client, clock, "LOT-HOSP", "X1", PLATE, after=timedelta(hours=2))
    stay_ref, fee = exit_read["stay_ref"], exit_read["fee_fen"]
    assert fee > 0
    owed = await _owed(client)
    assert [(s["ref"], s["due_fen"]) for s in owed["stays"]] == [(stay_ref, fee)]

    cashier = {"Authorization": f"Bearer {await staff_token(client, 'demo-cashier')}"}
    shift = await client.post(
        "/ops/cashier/shifts", json={"lot": "LOT-HOSP", "lane": "X1"}, headers=cashier
    )
    assert shift.status in (200, 201), await shift.text()
    cash = await client.post(
        "/ops/cashier/cash", json={"stay_ref": stay_ref, "amount_fen": fee}, headers=cashier
    )
    assert cash.status in (200, 201), await cash.text()
    assert await _owed(client) == {"plate": PLATE, "total_due_fen": 0, "stays": []}
