"""A waiver or refund made outside an appeal obeys the role's limit: above it, 403 over_limit
and nothing changes (the appeal's approval by a second person is the only way past it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp.test_utils import TestClient

from core.clock import FrozenClock
from tests.e2e.test_walking_skeleton import staff_token
from tests.integration.test_berth_timeline import berth_event, t


async def _closed_stay(client: TestClient[Any, Any], clock: FrozenClock) -> tuple[str, int]:
    clock.set(datetime.fromisoformat(t("12:00")))
    for body in (
        berth_event("l-1", "HS1-015", "occupied", t("09:00"), "浙B12345"),
        berth_event("l-2", "HS1-015", "vacated", t("11:00")),
    ):
        response = await client.post("/devices/sensors/events", json=body)
        answer: dict[str, Any] = await response.json()
    return str(answer["stay_ref"]), int(answer["fee_fen"])


async def test_a_waiver_over_the_support_limit_is_refused_and_one_within_it_applies(
    client: TestClient[Any, Any], clock: FrozenClock
) -> None:
    ref, fee = await _closed_stay(client, clock)
    headers = {"Authorization": f"Bearer {await staff_token(client, 'demo-support')}"}
    over = await client.post(
        f"/ops/stays/{ref}/waivers", json={"amount_fen": 2001, "reason": "折扣"}, headers=headers
    )
    body = await over.json()
    assert (over.status, body["code"]) == (403, "over_limit") and "审批" in body["message"]
    within = await client.post(
        f"/ops/stays/{ref}/waivers", json={"amount_fen": 300, "reason": "折扣"}, headers=headers
    )
    assert within.status == 200, await within.text()
    assert (await within.json())["fee_after"] == fee - 300
