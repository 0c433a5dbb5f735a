"""Officers' arrears: the list by zone, street, age and amount, a plate's file, the steps."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from core.clock import FrozenClock
from core.payments import Payment, PaymentStatus
from core.store.database import Database
from core.store.unit_of_work import UnitOfWork
from tests.e2e.test_walking_skeleton import staff_token
from tests.wechat_sandbox import street_stay


async def _stay(
    database: Database, berth_code: str, plate: str, fee: int, exited_at: datetime
) -> str:
    return await street_stay(
        database, plate=plate, fee_fen=fee, exited_at=exited_at, berth_code=berth_code, hours=1
    )


async def _settle(database: Database, ref: str, plate: str, fee: int, at: datetime) -> None:
    async with UnitOfWork(database.sessions) as uow:
        payment = Payment(
            out_trade_no=f"PK{uuid.uuid4().hex[:20].upper()}",
            channel="wechat_jsapi",
            stay_ref=ref,
            plate=plate,
            operator_code="OP-CITY",
            sub_mchid="1900000101",
            amount_fen=fee,
            payer_openid="o-payer",
            appid="wx-test",
            status=PaymentStatus.PAID,
            created_at=at,
            transaction_id=uuid.uuid4().hex,
            paid_at=at,
        )
        await uow.payments.add(payment, driver_id=None, idempotency_key=None)
        await uow.payments.save(payment, settles_stay=True)
        await uow.commit()


async def _get(client: TestClient[Any, Any], token: str, path: str, **query: Any) -> Any:
    response = await client.get(path, params=query, headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200, await response.text()
    return await response.json()


async def _post(client: TestClient[Any, Any], token: str, path: str, body: Any) -> Any:
    response = await client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
    return response.status, await response.json()


async def test_the_list_filters_orders_and_pages_within_the_officers_scope(
    client: TestClient[Any, Any], database: Database, clock: FrozenClock
) -> None:
    now = clock.now()
    old = await _stay(database, "HS1-001", "浙B11111", 300, now - timedelta(days=40))
    big = await _stay(database, "HS2-001", "浙B22222", 2000, now - timedelta(days=10))
    recent = await _stay(database, "HS1-002", "浙B33333", 800, now - timedelta(hours=3))
    elsewhere = await _stay(database, "JB3-001", "浙B44444", 900, now - timedelta(days=20))
    paid = await _stay(database, "HS1-003", "浙B55555", 700, now - timedelta(days=30))
    await _settle(database, paid, "浙B55555", 700, now - timedelta(days=29))
    await _stay(database, "HS1-004", "浙B66666", 0, now - timedelta(days=5))  # free: owes nothing

    admin = await staff_token(client, "demo-admin")
    officer = await staff_token(client, "demo-officer")  # district D-HAISHU: HS1 and HS2 only
    everything = await _get(client, admin, "/ops/arrears")
    assert [a["ref"] for a in everything["arrears"]] == [old, elsewhere, big, recent]
    assert everything["next_cursor"] is None
    first = everything["arrears"][0]
    assert (first["plate"], first["due_fen"], first["age_days"], first["stage"]) == (
        "浙B11111",
        300,
        40,
        "open",
    )
    assert (first["berth"], first["street"], first["zone"]) == ("HS1-001", "中山东路", "HS1")

    mine = await _get(client, officer, "/ops/arrears")
    assert [a["ref"] for a in mine["arrears"]] == [old, big, recent]
    largest = await _get(client, officer, "/ops/arrears", order="largest")
    assert [a["ref"] for a in largest["arrears"]] == [big, recent, old]
    aged = await _get(client, officer, "/ops/arrears", min_age_days=7, min_fen=500)
    assert [a["ref"] for a in aged["arrears"]] == [big]
    street = await _get(client, officer, "/ops/arrears", street="中山东路")
    assert [a["ref"] for a in street["arrears"]] == [old, recent]
    zone = await _get(client, officer, "/ops/arrears", zone="HS2")
    assert [a["ref"] for a in zone["arrears"]] == [big]

    pages: list[str] = []
    cursor: str | None = None
    for _ in range(4):
        query = {"limit": 1, "order": "largest"} | ({"after": cursor} if cursor else {})
        page = await _get(client, admin, "/ops/arrears", **query)
        pages += [a["ref"] for a in page["arrears"]]
        cursor = page["next_cursor"]
    assert pages == [big, elsewhere, recent, old]
    bad = await client.get(
        "/ops/arrears", params={"after": "nonsense"}, headers={"Authorization": f"Bearer {admin}"}
    )
    assert (bad.status, (await bad.json())["code"]) == (400, "invalid_request")


async def test_a_plate_is_noticed_then_escalated_after_the_notice_period(
    client: TestClient[Any, Any], database: Database, clock: FrozenClock
) -> None:
    now = clock.now()
    first = await _stay(database, "HS1-001", "浙B77777", 600, now - timedelta(days=3))
    second = await _stay(database, "HS2-002", "浙B77777", 400, now - timedelta(days=2))
    officer = await staff_token(client, "demo-officer")
    viewer = await staff_token(client, "demo-viewer")
    found = await _get(client, officer, "/ops/arrears/plates/浙b77777")
    assert (found["plate"], found["total_fen"]) == ("浙B77777", 1000)
    assert [a["ref"] for a in found["arrears"]] == [first, second]
    assert found["arrears"][0]["evidence"] == []

    notice = {"note": "催缴通知已贴于挡风玻璃", "evidence": "oss://patrol/notice-1.jpg"}
    status, _ = await _post(client, viewer, f"/ops/arrears/{first}/notices", notice)
    assert status == 403
    status, early = await _post(client, officer, f"/ops/arrears/{first}/escalations", notice)
    assert (status, early["code"]) == (409, "arrears_step_refused")
    status, served = await _post(client, officer, f"/ops/arrears/{first}/notices", notice)
    assert status == 200, served
    assert (served["stage"], served["actions"][0]["actor"]) == ("notice_served", "demo-officer")

    clock.advance(timedelta(days=14))
    officer = await staff_token(client, "demo-officer")  # a new shift, a new login
    status, too_soon = await _post(
        client, officer, f"/ops/arrears/{first}/escalations", {"note": "逾期未缴"}
    )
    assert (status, too_soon["code"]) == (409, "arrears_step_refused")
    clock.advance(timedelta(days=1))
    officer = await staff_token(client, "demo-officer")
    status, escalated = await _post(
        client, officer, f"/ops/arrears/{first}/escalations", {"note": "逾期未缴，移交交警"}
    )
    assert status == 200 and escalated["stage"] == "escalated"
    status, again = await _post(
        client, officer, f"/ops/arrears/{first}/escalations", {"note": "再次移交"}
    )
    assert (status, again["code"]) == (409, "arrears_step_refused")

    listed = await _get(client, officer, "/ops/arrears", zone="HS1")
    assert [(a["ref"], a["stage"]) for a in listed["arrears"]] == [(first, "escalated")]
    admin = await staff_token(client, "demo-admin")
    audit = await _get(client, admin, "/ops/audit", action="arrears.escalated")
    assert [link["target"] for link in audit["items"]] == [first]

    # Once paid it is no longer arrears: nothing left to chase.
    await _settle(database, first, "浙B77777", 600, clock.now())
    status, gone = await _post(client, officer, f"/ops/arrears/{first}/notices", notice)
    assert (status, gone["code"]) == (404, "arrears_not_found")
    after = await _get(client, officer, "/ops/arrears/plates/浙B77777")
    assert (after["total_fen"], [a["ref"] for a in after["arrears"]]) == (400, [second])
