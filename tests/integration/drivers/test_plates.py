"""Binding plates, verifying them, and what an unverified driver may not see."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from core.clock import FrozenClock
from core.store.database import Database
from core.store.people import VehicleBindingRow
from sandbox.driver_services import DEMO_REGISTER
from tests.wechat_sandbox import PLATE, closed_stay, confirm, log_in, start_payment

VIN, OWNER = DEMO_REGISTER[PLATE]


async def bindings(database: Database) -> int:
    async with database.sessions() as session:
        return int(await session.scalar(select(func.count(VehicleBindingRow.id))) or 0)


async def test_bind_list_limit_and_unbind(
    paying_client: TestClient[Any, Any], wechat_sandbox: TestServer, database: Database
) -> None:
    driver = await log_in(paying_client, wechat_sandbox, "li-lei")
    h = driver.headers
    new_energy = await paying_client.post("/mp/me/plates", json={"plate": "浙bd 12345"}, headers=h)
    assert new_energy.status == 200, await new_energy.text()
    assert (await new_energy.json())["plate"] == "浙BD12345"
    assert (await new_energy.json())["colour"] == "GREEN"
    again = await paying_client.post("/mp/me/plates", json={"plate": "浙BD12345"}, headers=h)
    assert again.status == 200
    for plate in ("浙B12345", "沪A1234学"):
        response = await paying_client.post(
            "/mp/me/plates", json={"plate": plate, "colour": "YELLOW"}, headers=h
        )
        assert response.status == 200, await response.text()
    over = await paying_client.post("/mp/me/plates", json={"plate": "京A00001"}, headers=h)
    assert (over.status, (await over.json())["code"]) == (409, "plate_limit_reached")
    listed = await (await paying_client.get("/mp/me/plates", headers=h)).json()
    assert [p["plate"] for p in listed["plates"]] == ["浙BD12345", "浙B12345", "沪A1234学"]
    assert listed["limit"] == 3 and not any(p["verified"] for p in listed["plates"])
    bad = await paying_client.post("/mp/me/plates", json={"plate": "ABC123"}, headers=h)
    assert (bad.status, (await bad.json())["code"]) == (400, "invalid_plate")
    bad_colour = await paying_client.post(
        "/mp/me/plates", json={"plate": "京A00001", "colour": "PINK"}, headers=h
    )
    assert bad_colour.status == 400
    assert await bindings(database) == 3
    gone = await paying_client.delete("/mp/me/plates/沪A1234学", headers=h)
    assert (gone.status, await gone.json()) == (200, {"plate": "沪A1234学", "unbound": True})
    missing = await paying_client.delete("/mp/me/plates/沪A1234学", headers=h)
    assert (missing.status, (await missing.json())["code"]) == (404, "plate_not_bound")
    anonymous = await paying_client.get("/mp/me/plates")
    assert anonymous.status == 401


async def test_a_family_binds_one_plate_and_each_verifies_alone(
    paying_client: TestClient[Any, Any], wechat_sandbox: TestServer
) -> None:
    father = await log_in(paying_client, wechat_sandbox, "li-lei")
    mother = await log_in(paying_client, wechat_sandbox, "han-meimei")
    for driver in (father, mother):
        bound = await paying_client.post(
            "/mp/me/plates", json={"plate": PLATE}, headers=driver.headers
        )
        assert bound.status == 200
    wrong = await paying_client.post(
        f"/mp/me/plates/{PLATE}/licence",
        json={"vin": VIN, "owner_name": "张三"},
        headers=father.headers,
    )
    assert (wrong.status, (await wrong.json())["code"]) == (422, "licence_rejected")
    right = await paying_client.post(
        f"/mp/me/plates/{PLATE}/licence",
        json={"vin": VIN, "owner_name": OWNER},
        headers=father.headers,
    )
    assert right.status == 200, await right.text()
    assert ((await right.json())["verified"], (await right.json())["verified_by"]) == (
        True,
        "licence",
    )
    theirs = await (await paying_client.get("/mp/me/plates", headers=mother.headers)).json()
    assert theirs["plates"][0]["verified"] is False


async def test_unverified_drivers_pay_but_do_not_look_and_paying_alone_verifies_nothing(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    driver = await log_in(paying_client, wechat_sandbox, "li-lei")
    await paying_client.post("/mp/me/plates", json={"plate": PLATE}, headers=driver.headers)
    ref = await closed_stay(database, clock, 800)
    detail = await paying_client.get(f"/mp/me/stays/{ref}", headers=driver.headers)
    assert (detail.status, (await detail.json())["code"]) == (403, "binding_not_verified")
    history = await (await paying_client.get("/mp/me/stays", headers=driver.headers)).json()
    assert history["stays"] == []
    anonymous = await (await paying_client.get(f"/mp/plates/{PLATE}/stays")).json()
    assert [(s["ref"], s["due_fen"]) for s in anonymous["stays"]] == [(ref, 800)]

    await confirm(
        paying_client, wechat_sandbox, await start_payment(paying_client, driver, ref), driver
    )

    # Anyone may pay for any plate: paying without the stay's own scan verifies nothing.
    plates = await (await paying_client.get("/mp/me/plates", headers=driver.headers)).json()
    assert [(p["verified"], p["verified_by"], p["paid_stays_only"]) for p in plates["plates"]] == [
        (False, None, False)
    ]
    history = await (await paying_client.get("/mp/me/stays", headers=driver.headers)).json()
    assert history["stays"] == []
    detail = await paying_client.get(f"/mp/me/stays/{ref}", headers=driver.headers)
    assert (detail.status, (await detail.json())["code"]) == (403, "binding_not_verified")
    after = await (await paying_client.get(f"/mp/plates/{PLATE}/stays")).json()
    assert after["stays"] == []  # paid: history now, not shown to whoever types the plate
    stranger = await log_in(paying_client, wechat_sandbox, "stranger")
    hidden = await paying_client.get(f"/mp/me/stays/{ref}", headers=stranger.headers)
    assert (hidden.status, (await hidden.json())["code"]) == (404, "stay_not_found")
