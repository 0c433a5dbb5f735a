"""Hand-over batches to the traffic police, and the late-fee rule shown in the driver's view."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from config.settings import Settings
from core import driver_tokens
from core.clock import FrozenClock
from core.store.database import Database
from core.store.unit_of_work import UnitOfWork
from tests.e2e.test_walking_skeleton import staff_token
from tests.wechat_sandbox import bind_plate, street_stay

BASIS = "《宁波市停车场规划建设和管理条例》第四十一条；《中华人民共和国行政强制法》第四十五条"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_escalated_arrears_go_to_the_police_in_a_batch_once(
    client: TestClient[Any, Any], database: Database, clock: FrozenClock
) -> None:
    now = clock.now()
    first = await street_stay(database, plate="浙B80001", fee_fen=600, exited_at=now)
    second = await street_stay(
        database, plate="浙B80002", fee_fen=1_450, exited_at=now, berth_code="HS1-002"
    )
    async with UnitOfWork(database.sessions) as uow:
        await bind_plate(uow, clock, "浙B80001")  # the vehicle's colour is known: blue
    officer = _auth(await staff_token(client, "demo-officer"))
    for ref in (first, second):
        served = await client.post(
            f"/ops/arrears/{ref}/notices",
            json={"note": "张贴催缴通知", "evidence": f"notices/{ref}.jpg"},
            headers=officer,
        )
        assert served.status == 200, await served.text()
    clock.advance(timedelta(days=16))
    officer = _auth(await staff_token(client, "demo-officer"))  # signed in again, days later
    for ref in (first, second):
        escalated = await client.post(
            f"/ops/arrears/{ref}/escalations", json={"note": "逾期未缴"}, headers=officer
        )
        assert escalated.status == 200, await escalated.text()

    viewer = _auth(await staff_token(client, "demo-viewer"))
    assert (await client.post("/ops/handovers", json={}, headers=viewer)).status == 403
    made = await client.post("/ops/handovers", json={}, headers=officer)
    assert made.status == 201, await made.text()
    batch = await made.json()
    assert batch["status"] == "draft" and batch["total_fen"] == 2_050
    assert [line["stay_ref"] for line in batch["lines"]] == [first, second]
    line = batch["lines"][0]
    assert (line["colour"], line["amount_fen"]) == ("BLUE", 600)
    assert f"notices/{first}.jpg" in line["evidence"] and line["notice_served_at"] is not None
    nothing = await client.post("/ops/handovers", json={}, headers=officer)
    assert (nothing.status, (await nothing.json())["code"]) == (409, "nothing_to_hand_over")

    exported = await client.get(f"/ops/handovers/{batch['ref']}/export", headers=officer)
    assert exported.status == 200
    sheet = load_workbook(io.BytesIO(await exported.read())).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("车牌号", "车牌颜色", "停车地点") and rows[0][6] == "欠费金额（元）"
    assert (rows[1][0], rows[1][1], rows[1][6]) == ("浙B80001", "蓝", Decimal("6"))
    assert (rows[-1][0], rows[-1][6]) == ("合计", Decimal("20.5"))
    as_csv = await client.get(f"/ops/handovers/{batch['ref']}/export?format=csv", headers=officer)
    lines = (await as_csv.read()).decode("utf-8-sig").splitlines()
    assert lines[0].startswith("车牌号,车牌颜色") and lines[-1].startswith("合计")

    sent = await client.post(f"/ops/handovers/{batch['ref']}/hand-over", headers=officer)
    assert sent.status == 200, await sent.text()
    done = await sent.json()
    assert (done["status"], done["receipt"]) == ("handed_over", f"JJ-{batch['ref']}")
    repeat = await client.post(f"/ops/handovers/{batch['ref']}/hand-over", headers=officer)
    assert (repeat.status, (await repeat.json())["code"]) == (409, "handover_done")
    async with UnitOfWork(database.sessions) as uow:
        actions = [link.action for link in await uow.audit.page(target=batch["ref"])]
    assert actions == ["handover.send", "handover.create"]


async def test_the_late_fee_is_off_until_set_with_its_basis_and_pauses_for_an_appeal(
    client: TestClient[Any, Any], database: Database, clock: FrozenClock, settings: Settings
) -> None:
    plate = "浙B80003"
    now = clock.now()
    ref = await street_stay(database, plate=plate, fee_fen=1_000, exited_at=now)
    async with UnitOfWork(database.sessions) as uow:
        owner, typist = await bind_plate(uow, clock, plate)
    secret = settings.secret_key.get_secret_value()
    typed_only = _auth(driver_tokens.issue(typist, now, 3_600, secret).token)
    refused = await client.get(f"/mp/me/plates/{plate}/arrears", headers=typed_only)
    assert (refused.status, (await refused.json())["code"]) == (403, "binding_not_verified")

    def signed_in() -> dict[str, str]:
        return _auth(driver_tokens.issue(owner, clock.now(), 3_600, secret).token)

    driver = signed_in()
    view = await client.get(f"/mp/me/plates/{plate}/arrears", headers=driver)
    assert view.status == 200, await view.text()
    body = await view.json()
    assert (body["due_fen"], body["late_fee_fen"], body["late_fee"]["enabled"]) == (1_000, 0, False)

    admin = _auth(await staff_token(client, "demo-admin"))
    finance = _auth(await staff_token(client, "demo-finance"))
    rule = {
        "enabled": True,
        "legal_basis": BASIS,
        "start_after_days": 15,
        "per_day_bp": 300,
        "cap_bp": 10_000,
        "reason": "市政府批复开征滞纳金",
    }
    assert (await client.put("/ops/late-fee-rule", json=rule, headers=finance)).status == 403
    no_basis = await client.put(
        "/ops/late-fee-rule", json={**rule, "legal_basis": ""}, headers=admin
    )
    assert (no_basis.status, (await no_basis.json())["code"]) == (400, "late_fee_rule_invalid")
    made = await client.put("/ops/late-fee-rule", json=rule, headers=admin)
    assert made.status == 200, await made.text()
    assert BASIS in (await made.json())["text"]

    clock.advance(timedelta(days=20, hours=1))  # five whole days past the start day
    driver = signed_in()
    body = await (await client.get(f"/mp/me/plates/{plate}/arrears", headers=driver)).json()
    assert body["late_fee_fen"] == 150 and BASIS in body["late_fee"]["text"]
    appealed = await client.post(
        f"/mp/stays/{ref}/appeals",
        json={"category": "wrong_fee", "reason": "我当天没有在这里停车"},
        headers=driver,
    )
    assert appealed.status in (200, 201), await appealed.text()
    clock.advance(timedelta(days=10))
    driver = signed_in()
    body = await (await client.get(f"/mp/me/plates/{plate}/arrears", headers=driver)).json()
    [stay] = body["stays"]
    assert (stay["late_fee_fen"], stay["late_fee_paused"]) == (150, True)
    async with UnitOfWork(database.sessions) as uow:
        [link] = await uow.audit.page(action="late_fee.rule")
    assert link.details["legal_basis"] == BASIS and link.actor == "demo-admin"
