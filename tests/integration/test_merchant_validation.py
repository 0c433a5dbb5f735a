"""Merchant validation end to end on both databases: issue, redeem once, apply at exit, report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from core.clock import FrozenClock
from tests.conftest import START
from tests.integration.test_attendant import login
from tests.integration.test_lanes import read

Client = TestClient[Any, Any]


async def issue(client: Client, merchant: str, body: dict[str, Any]) -> str:
    headers = await login(client, "demo-admin")
    url = f"/ops/merchants/{merchant}/validations"
    async with client.post(url, json=body, headers=headers) as response:
        assert response.status == 201, await response.text()
        token: str = (await response.json())["token"]
        return token


async def redeem(client: Client, token: str, plate: str, status: int) -> dict[str, Any]:
    async with client.post("/mp/validations", json={"token": token, "plate": plate}) as response:
        assert response.status == status, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer


async def test_free_minutes_and_an_amount_come_off_the_exit_fee_and_are_reported(
    client: Client, clock: FrozenClock
) -> None:
    entry = await read(client, clock, "LOT-TIANYI", "E1", "浙B12345")
    minutes = await issue(client, "M-TIANYI-CAFE", {"kind": "minutes", "value": 120})
    amount = await issue(client, "M-TIANYI-CAFE", {"kind": "amount", "value": 200})
    assert (await redeem(client, minutes, "浙B12345", 201))["stay_ref"] == entry["stay_ref"]
    again = await redeem(client, minutes, "浙B12345", 409)
    assert again["code"] == "validation_used"
    await redeem(client, amount, "浙B12345", 201)
    forged = minutes[:-4] + ("AAAA" if not minutes.endswith("AAAA") else "BBBB")
    assert (await redeem(client, forged, "浙B12345", 400))["code"] == "validation_invalid"
    other = await issue(client, "M-TIANYI-CAFE", {"kind": "amount", "value": 100})
    assert (await redeem(client, other, "浙B99999", 409))["code"] == "validation_no_stay"
    out = await read(client, clock, "LOT-TIANYI", "X1", "浙B12345", after=timedelta(hours=4))
    # 4 h = 12.00; the first 2 h are validated (6.00 saved), 2.00 off the remaining 6.00
    assert (out["action"], out["fee_fen"]) == ("pay", 400)
    headers = await login(client, "demo-finance")
    since, until = START.isoformat(), (START + timedelta(days=1)).isoformat()
    url = "/ops/merchants/M-TIANYI-CAFE/usage"
    async with client.get(url, params={"since": since, "until": until}, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        usage = await resp.json()
    assert sorted((u["kind"], u["applied_fen"]) for u in usage["uses"]) == [
        ("amount", 200),
        ("minutes", 600),
    ]
    assert usage["applied_fen"] == 800
