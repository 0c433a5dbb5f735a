"""The remote attendant over HTTP on both databases: the queue and every action, audited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from core.clock import FrozenClock
from core.store.activity import AuditRow
from core.store.unit_of_work import UnitOfWork
from ops_api.commands import DEMO_PASSWORD
from tests.conftest import START
from tests.integration.test_lanes import read

Client = TestClient[Any, Any]


async def login(client: Client, username: str) -> dict[str, str]:
    """Bearer headers of a demo account."""
    body = {"username": username, "password": DEMO_PASSWORD}
    async with client.post("/ops/login", json=body) as response:
        assert response.status == 200, await response.text()
        return {"Authorization": f"Bearer {(await response.json())['token']}"}


async def queue(client: Client, headers: dict[str, str]) -> list[dict[str, Any]]:
    """The attendant's queue."""
    async with client.get("/ops/lanes/queue", headers=headers) as response:
        assert response.status == 200, await response.text()
        items: list[dict[str, Any]] = (await response.json())["items"]
        return items


async def act(
    client: Client, headers: dict[str, str], path: str, body: dict[str, Any], status: int = 200
) -> dict[str, Any]:
    """Post an attendant action and check the status."""
    async with client.post(f"/ops/lanes/{path}", json=body, headers=headers) as response:
        assert response.status == status, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer


async def audit_actions(uow_factory: Callable[[], UnitOfWork]) -> list[tuple[str, str, Any]]:
    async with uow_factory() as uow:
        rows = await uow.session.scalars(
            select(AuditRow).where(AuditRow.action.like("lane.%")).order_by(AuditRow.id)
        )
        return [(r.action, r.target, r.details) for r in rows]


async def test_an_exit_without_entry_gets_a_created_entry_and_is_billed(
    client: Client, clock: FrozenClock, uow_factory: Callable[[], UnitOfWork]
) -> None:
    headers = await login(client, "demo-attendant")
    held = await read(client, clock, "LOT-HOSP", "X1", "浙C55555", image="img:x1-9")
    [item] = await queue(client, headers)
    assert (item["reason"], item["passage_ref"], item["image_ref"], item["lane"]) == (
        "no_match",
        held["passage_ref"],
        "img:x1-9",
        "X1",
    )
    entered = (START - timedelta(hours=2)).isoformat()
    answer = await act(
        client,
        headers,
        f"tasks/{item['task_id']}/entry",
        {"entered_at": entered, "reason": "入口相机故障，按监控录像补录"},
    )
    assert (answer["action"], answer["fee_fen"], answer["task_closed"]) == ("pay", 600, True)
    assert await queue(client, headers) == []
    [(action, target, details)] = await audit_actions(uow_factory)
    assert (action, target) == ("lane.create_entry", "lane:LOT-HOSP/X1")
    assert (details["image_ref"], details["passage"]) == ("img:x1-9", held["passage_ref"])


async def test_a_lost_ticket_is_the_tariff_fee(client: Client, clock: FrozenClock) -> None:
    headers = await login(client, "demo-attendant")
    await read(client, clock, "LOT-HOSP", "X1", "浙C55556")
    [item] = await queue(client, headers)
    answer = await act(
        client, headers, f"tasks/{item['task_id']}/entry", {"reason": "无入场记录，按遗失凭证收费"}
    )
    assert (answer["action"], answer["fee_fen"]) == ("pay", 5000)


async def test_two_candidates_are_settled_by_correcting_the_plate(
    client: Client, clock: FrozenClock
) -> None:
    a = await read(client, clock, "LOT-TIANYI", "E1", "浙B12340")
    await read(client, clock, "LOT-TIANYI", "E1", "浙B1234Q")
    await read(client, clock, "LOT-TIANYI", "X1", "浙B1234D", after=timedelta(hours=1))
    headers = await login(client, "demo-attendant")  # tokens are short-lived: log in now
    [item] = await queue(client, headers)
    assert item["reason"] == "ambiguous" and len(item["candidates"]) == 2
    answer = await act(
        client, headers, f"tasks/{item['task_id']}/plate", {"plate": "浙B12340", "reason": "看图"}
    )
    assert (answer["action"], answer["stay_ref"], answer["fee_fen"]) == ("pay", a["stay_ref"], 300)


async def test_a_stale_stay_gets_a_confirmed_fee(client: Client, clock: FrozenClock) -> None:
    clock.set(START - timedelta(days=40))
    await read(client, clock, "LOT-HOSP", "E1", "浙C66666")
    clock.set(START)
    await read(client, clock, "LOT-HOSP", "X1", "浙C66666")
    headers = await login(client, "demo-attendant")
    [item] = await queue(client, headers)
    assert item["reason"] == "stale_stay"
    answer = await act(
        client, headers, f"tasks/{item['task_id']}/fee", {"fee_fen": 3000, "reason": "按一天收"}
    )
    assert (answer["action"], answer["fee_fen"], answer["task_closed"]) == ("pay", 3000, True)


async def test_an_anti_passback_hold_is_overridden_by_lifting_the_gate(
    client: Client, clock: FrozenClock, uow_factory: Callable[[], UnitOfWork]
) -> None:
    first = await read(client, clock, "LOT-TIANYI", "E1", "浙B88888")
    await read(client, clock, "LOT-TIANYI", "E1", "浙B88888", after=timedelta(minutes=3))
    headers = await login(client, "demo-attendant")
    [item] = await queue(client, headers)
    answer = await act(
        client,
        headers,
        "LOT-TIANYI/E1/lift",
        {"reason": "出场时相机未识别，车主已离场后返回", "task_id": item["task_id"]},
    )
    assert (answer["action"], answer["task_closed"]) == ("open", True)
    assert answer["commands"][0]["kind"] == "open_gate"
    async with uow_factory() as uow:
        old = await uow.stays.by_ref(first["stay_ref"])
        assert old is not None and old.status == "review"
        new = await uow.stays.by_ref(answer["stay_ref"])
        assert new is not None and new.status == "open"
    [(action, _, details)] = await audit_actions(uow_factory)
    assert (action, details["task"]) == ("lane.lift_gate", item["task_id"])


async def test_a_lift_needs_a_reason_and_a_lot_in_scope(
    client: Client, uow_factory: Callable[[], UnitOfWork]
) -> None:
    attendant = await login(client, "demo-attendant")
    await act(client, attendant, "LOT-HOSP/X1/lift", {"reason": ""}, status=400)
    answer = await act(client, attendant, "LOT-HOSP/X1/lift", {"reason": "救护车通行"})
    assert answer["action"] == "open"
    cashier = await login(client, "demo-cashier")  # scoped to LOT-HOSP
    await act(client, cashier, "LOT-TIANYI/X1/lift", {"reason": "试图越权"}, status=403)
    await act(client, cashier, "LOT-NOPE/X1/lift", {"reason": "不存在"}, status=404)
    viewer = await login(client, "demo-viewer")
    await act(client, viewer, "LOT-HOSP/X1/lift", {"reason": "无权限"}, status=403)
    assert [a for a, _, _ in await audit_actions(uow_factory)] == ["lane.lift_gate"]
