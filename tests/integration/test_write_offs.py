"""Write-offs of arrears: a reason, a second person's approval, the refusals, audit and ledger."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from core.clock import FrozenClock
from core.payments import SHANGHAI
from core.store.database import Database
from core.store.unit_of_work import UnitOfWork
from tests.e2e.test_walking_skeleton import staff_token
from tests.integration.test_arrears import _settle
from tests.wechat_sandbox import balance, entry_kinds, street_stay

PLATE, OTHER = "浙B70001", "浙B70002"


async def _call(
    client: TestClient[Any, Any], token: str, path: str, body: dict[str, Any]
) -> tuple[int, Any]:
    response = await client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
    return response.status, await response.json()


async def test_a_second_person_approves_and_the_arrear_becomes_a_bad_debt(
    client: TestClient[Any, Any], database: Database, clock: FrozenClock
) -> None:
    left = clock.now() - timedelta(days=400)
    ref = await street_stay(database, plate=PLATE, fee_fen=1_200, exited_at=left, charged=True)
    officer = await staff_token(client, "demo-officer")
    finance = await staff_token(client, "demo-finance")
    viewer = await staff_token(client, "demo-viewer")
    reason = {"reason": "车辆已报废注销，车主无法联系"}

    status, _ = await _call(client, viewer, f"/ops/arrears/{ref}/write-offs", reason)
    assert status == 403
    status, asked = await _call(client, officer, f"/ops/arrears/{ref}/write-offs", reason)
    assert status == 201, asked
    assert (asked["status"], asked["amount_fen"], asked["requested_by"]) == (
        "pending",
        1_200,
        "demo-officer",
    )
    status, again = await _call(client, officer, f"/ops/arrears/{ref}/write-offs", reason)
    assert (status, again["code"]) == (409, "write_off_pending")
    path = f"/ops/write-offs/{asked['id']}"
    status, _ = await _call(client, officer, f"{path}/approval", {"note": "同意"})
    assert status == 403  # officers ask; they do not approve

    status, approved = await _call(client, finance, f"{path}/approval", {"note": "核实报废证明"})
    assert status == 200, approved
    assert (approved["status"], approved["decided_by"]) == ("approved", "demo-finance")
    status, twice = await _call(client, finance, f"{path}/rejection", {"note": "撤回"})
    assert (status, twice["code"]) == (409, "write_off_decided")

    listed = await client.get(
        f"/ops/arrears/plates/{PLATE}", headers={"Authorization": f"Bearer {officer}"}
    )
    assert (await listed.json())["arrears"] == []  # no longer chased
    assert await entry_kinds(database, asked["reference"]) == ["arrear_written_off"]
    assert await balance(database, "written_off:OP-CITY") == 1_200
    assert await balance(database, f"driver_receivable:{PLATE}") == 0
    async with UnitOfWork(database.sessions) as uow:
        actions = [link.action for link in await uow.audit.page(target=ref)]
        stay = await uow.stays.by_ref(ref)
    assert {"write_off.request", "write_off.approve", "stay.write_off"} <= set(actions)
    assert stay is not None and stay.fee_fen == 0
    assert stay.quote is not None and stay.quote["write_offs"][0]["fen"] == 1_200

    month = clock.now().astimezone(SHANGHAI).strftime("%Y-%m")
    shown = await client.get(
        f"/ops/settlement/statements/OP-CITY?month={month}",
        headers={"Authorization": f"Bearer {finance}"},
    )
    assert (await shown.json())["written_off_fen"] == 1_200


async def test_refusals_own_request_stale_amount_and_rejection(
    client: TestClient[Any, Any], database: Database, clock: FrozenClock
) -> None:
    left = clock.now() - timedelta(days=200)
    ref = await street_stay(database, plate=OTHER, fee_fen=900, exited_at=left, charged=True)
    finance = await staff_token(client, "demo-finance")
    admin = await staff_token(client, "demo-admin")
    reason = {"reason": "超过诉讼时效，无法追缴"}

    status, asked = await _call(client, finance, f"/ops/arrears/{ref}/write-offs", reason)
    assert status == 201, asked
    path = f"/ops/write-offs/{asked['id']}"
    status, own = await _call(client, finance, f"{path}/approval", {"note": "自批"})
    assert (status, own["code"]) == (403, "own_action")

    await _settle(database, ref, OTHER, 900, clock.now())  # the driver paid meanwhile
    status, stale = await _call(client, admin, f"{path}/approval", {"note": "同意"})
    assert (status, stale["code"]) == (409, "write_off_stale")
    status, rejected = await _call(client, admin, f"{path}/rejection", {"note": "车主已缴费"})
    assert status == 200, rejected
    assert (rejected["status"], rejected["decision_note"]) == ("rejected", "车主已缴费")
    assert await entry_kinds(database, asked["reference"]) == []

    listed = await client.get(
        "/ops/write-offs?status=rejected", headers={"Authorization": f"Bearer {admin}"}
    )
    assert [w["id"] for w in (await listed.json())["write_offs"]] == [asked["id"]]
    async with UnitOfWork(database.sessions) as uow:
        actions = [link.action for link in await uow.audit.page(target=ref)]
    assert "write_off.reject" in actions and "stay.write_off" not in actions
