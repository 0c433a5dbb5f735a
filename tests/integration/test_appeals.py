"""Appeals through the services: limits, finance approvals (concurrent: exactly one applies), never
one's own, reminders paused, overdue lists, the driver's outcome notice; on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from core.appeals import (
    Action,
    ApprovalDecidedError,
    ApprovalLimits,
    CaseClosedError,
    CaseStatus,
    Category,
    OwnActionError,
)
from core.arrears import ReminderPolicy
from core.clock import FrozenClock
from core.notices import APPEAL_OUTCOME, ARREARS_REMINDER, notice_fields
from core.services import audit
from core.services.appeal_decisions import approve, decide, reject_approval
from core.services.appeals import evidence, file_appeal, queue
from core.services.arrears import queue_reminders
from core.staff import StaffIdentity
from core.store.database import Database
from core.store.devices import NotificationRow
from core.store.unit_of_work import UnitOfWork
from tests.wechat_sandbox import bind_plate, closed_stay

Uows = Callable[[], UnitOfWork]
LIMITS = ApprovalLimits({"support_agent": {"waive": 100, "refund": 100}})
POLICY = ReminderPolicy(after=timedelta(days=3), every=timedelta(days=7), most=2)


async def staff(uows: Uows, username: str) -> StaffIdentity:
    """A demo account as the services see it."""
    from core.staff import Role

    async with uows() as uow:
        row = await uow.staff.by_username(username)
        assert row is not None
        scope = await uow.staff.scopes_of(row.id)
    return StaffIdentity(row.id, row.username, Role(row.role), scope)


async def appealed_stay(uows: Uows, database: Database, clock: FrozenClock) -> tuple[str, int, int]:
    """An unpaid, charged 8-yuan street stay its verified driver appealed: ref, appeal, driver."""
    stay_ref = await closed_stay(database, clock, 800)
    async with uows() as uow:
        owner, _ = await bind_plate(uow, clock, "浙B12345")
    async with uows() as uow:
        row = await file_appeal(
            uow, clock, owner, stay_ref, Category.WRONG_FEE, "车已提前离开", [], 7
        )
    return stay_ref, row.id, owner


async def fee_of(uows: Uows, stay_ref: str) -> int | None:
    async with uows() as uow:
        stay = await uow.stays.by_ref(stay_ref)
        assert stay is not None
        return stay.fee_fen


async def notices(uows: Uows, kind: str) -> list[NotificationRow]:
    async with uows() as uow:
        query = select(NotificationRow).where(NotificationRow.kind == kind)
        return list(await uow.session.scalars(query.order_by(NotificationRow.id)))


async def test_concurrent_approvals_apply_exactly_once(
    uow_factory: Uows, database: Database, clock: FrozenClock
) -> None:
    stay_ref, appeal_id, _ = await appealed_stay(uow_factory, database, clock)
    agent = await staff(uow_factory, "demo-support")
    waiting = await decide(
        uow_factory, clock, None, LIMITS, agent, appeal_id, Action.WAIVE, 500, "误判停车时长"
    )
    assert waiting.status is CaseStatus.AWAITING_APPROVAL and waiting.approval_id is not None
    assert await fee_of(uow_factory, stay_ref) == 800  # nothing applied yet
    approvers = [await staff(uow_factory, "demo-finance"), await staff(uow_factory, "demo-admin")]
    approval_id = waiting.approval_id

    outcomes = await asyncio.gather(
        *(approve(uow_factory, clock, None, who, approval_id, "核实") for who in approvers * 3),
        return_exceptions=True,
    )
    applied = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(applied) == 1, outcomes
    assert all(isinstance(o, ApprovalDecidedError) for o in refused), refused
    assert await fee_of(uow_factory, stay_ref) == 300
    async with uow_factory() as uow:
        waived = await uow.audit.page(action="stay.waive")
        approvals = await uow.audit.page(action="approval.approve")
        entries = [e.kind for e, _ in await uow.ledger.entries_for(stay_ref)]
        assert await audit.verify(uow) == []
    assert len(waived) == len(approvals) == 1
    assert entries.count("fee_waived") == 1
    [told] = await notices(uow_factory, APPEAL_OUTCOME)
    assert notice_fields(APPEAL_OUTCOME, told.body)["amount"] == "5.00元"


async def test_an_approver_never_approves_their_own_request(
    uow_factory: Uows, database: Database, clock: FrozenClock
) -> None:
    stay_ref, appeal_id, _ = await appealed_stay(uow_factory, database, clock)
    finance = await staff(uow_factory, "demo-finance")
    no_limits = ApprovalLimits({})
    waiting = await decide(
        uow_factory, clock, None, no_limits, finance, appeal_id, Action.WAIVE, 200, "核减"
    )
    assert waiting.approval_id is not None
    with pytest.raises(OwnActionError):
        await approve(uow_factory, clock, None, finance, waiting.approval_id, "自己批")
    with pytest.raises(OwnActionError):
        await reject_approval(uow_factory, clock, finance, waiting.approval_id, "自己驳")
    assert await fee_of(uow_factory, stay_ref) == 800
    admin = await staff(uow_factory, "demo-admin")
    done = await approve(uow_factory, clock, None, admin, waiting.approval_id, "同意")
    assert done.status is CaseStatus.RESOLVED and await fee_of(uow_factory, stay_ref) == 600


async def test_within_the_limit_applies_now_and_a_case_is_decided_once(
    uow_factory: Uows, database: Database, clock: FrozenClock
) -> None:
    stay_ref, appeal_id, owner = await appealed_stay(uow_factory, database, clock)
    agent = await staff(uow_factory, "demo-support")
    done = await decide(
        uow_factory, clock, None, LIMITS, agent, appeal_id, Action.WAIVE, 100, "减免"
    )
    assert done.status is CaseStatus.RESOLVED and done.waiver is not None
    assert await fee_of(uow_factory, stay_ref) == 700
    with pytest.raises(CaseClosedError):
        await decide(uow_factory, clock, None, LIMITS, agent, appeal_id, Action.REJECT, None, "x")
    [told] = await notices(uow_factory, APPEAL_OUTCOME)
    assert told.driver_id == owner and told.body["outcome"] == "waive"


async def test_a_rejected_approval_returns_the_case_to_support(
    uow_factory: Uows, database: Database, clock: FrozenClock
) -> None:
    stay_ref, appeal_id, _ = await appealed_stay(uow_factory, database, clock)
    agent = await staff(uow_factory, "demo-support")
    waiting = await decide(
        uow_factory, clock, None, LIMITS, agent, appeal_id, Action.WAIVE, 800, "全免"
    )
    assert waiting.approval_id is not None
    finance = await staff(uow_factory, "demo-finance")
    back = await reject_approval(uow_factory, clock, finance, waiting.approval_id, "证据不足")
    assert back.status is CaseStatus.OPEN
    with pytest.raises(ApprovalDecidedError):
        await approve(uow_factory, clock, None, finance, waiting.approval_id, "改主意")
    rejected = await decide(
        uow_factory, clock, None, LIMITS, agent, appeal_id, Action.REJECT, None, "收费无误"
    )
    assert rejected.status is CaseStatus.REJECTED and await fee_of(uow_factory, stay_ref) == 800
    [told] = await notices(uow_factory, APPEAL_OUTCOME)
    assert told.body["outcome_zh"] == "申诉未通过"


async def test_an_open_appeal_pauses_reminders_and_is_listed_when_overdue(
    uow_factory: Uows, database: Database, clock: FrozenClock
) -> None:
    stay_ref, appeal_id, _ = await appealed_stay(uow_factory, database, clock)
    clock.advance(timedelta(days=3))
    async with uow_factory() as uow:
        assert await queue_reminders(uow, clock, POLICY) == 0  # paused by the appeal
    async with uow_factory() as uow:
        assert [
            c.id
            for c in await queue(uow, clock, overdue=True, open_only=True, limit=10, after=None)
        ] == []
    clock.advance(timedelta(days=5))  # past the 7-day deadline
    async with uow_factory() as uow:
        overdue = await queue(uow, clock, overdue=True, open_only=True, limit=10, after=None)
    assert [c.id for c in overdue] == [appeal_id]
    agent = await staff(uow_factory, "demo-support")
    async with uow_factory() as uow:
        seen = await evidence(uow, clock, agent, appeal_id)
    assert seen.overdue and seen.stay is not None and seen.stay.fee_fen == 800
    await decide(uow_factory, clock, None, LIMITS, agent, appeal_id, Action.REJECT, None, "无误")
    async with uow_factory() as uow:
        assert await queue(uow, clock, overdue=True, open_only=True, limit=10, after=None) == []
        assert await queue_reminders(uow, clock, POLICY) == 1  # the chase resumes
    assert [n.reference for n in await notices(uow_factory, ARREARS_REMINDER)] == [f"{stay_ref}#1"]


APPEAL_ROUTES = {
    "/mp/appeals/photos": "post",
    "/mp/stays/{ref}/appeals": "post",
    "/mp/me/appeals": "get",
    "/mp/wechatpay/complaints/notify": "post",
    "/ops/appeals": "get",
    "/ops/appeals/{id}": "get",
    "/ops/appeals/{id}/decision": "post",
    "/ops/approvals": "get",
    "/ops/approvals/{id}/approve": "post",
    "/ops/approvals/{id}/reject": "post",
    "/ops/complaints/sync": "post",
    "/ops/complaints/{id}/history": "get",
    "/ops/complaints/{id}/response": "post",
}


async def test_the_routes_are_in_the_openapi_document(client: TestClient[Any, Any]) -> None:
    async with client.get("/openapi.json") as response:
        paths = (await response.json())["paths"]
    for path, method in APPEAL_ROUTES.items():
        assert method in paths.get(path, {}), path
    assert paths["/ops/approvals/{id}/approve"]["post"]["x-permission"] == "appeals_approve"
    assert paths["/ops/appeals/{id}/decision"]["post"]["x-permission"] == "appeals_handle"
    assert "x-permission" not in paths["/mp/me/appeals"]["get"]  # a driver token, not staff
