"""Reminders of unpaid street stays: to verified drivers only, each due one once, then no more."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from core.arrears import ReminderPolicy
from core.clock import FrozenClock
from core.notices import ARREARS_REMINDER, notice_fields
from core.services.arrears import queue_reminders
from core.store.database import Database
from core.store.devices import NotificationRow
from core.store.unit_of_work import UnitOfWork
from tests.integration.test_arrears import _settle
from tests.wechat_sandbox import bind_plate, street_stay

Uows = Callable[[], UnitOfWork]
PLATE = "浙B12345"
POLICY = ReminderPolicy(after=timedelta(days=3), every=timedelta(days=7), most=2)


async def _drivers(uows: Uows, clock: FrozenClock) -> tuple[int, int]:
    async with uows() as uow:
        return await bind_plate(uow, clock, PLATE)


async def _reminders(uows: Uows) -> list[tuple[int, str, int]]:
    async with uows() as uow:
        rows = await uow.session.scalars(
            select(NotificationRow)
            .where(NotificationRow.kind == ARREARS_REMINDER)
            .order_by(NotificationRow.id)
        )
        return [(r.driver_id, r.reference, int(r.body["fee_fen"])) for r in rows]


async def _run(uows: Uows, clock: FrozenClock) -> int:
    async with uows() as uow:
        return await queue_reminders(uow, clock, POLICY)


async def test_reminders_go_to_verified_drivers_on_schedule_and_stop_when_paid(
    uow_factory: Uows, database: Database, clock: FrozenClock
) -> None:
    owner, _ = await _drivers(uow_factory, clock)
    unpaid = await street_stay(database, fee_fen=800, exited_at=clock.now())
    paid = await street_stay(database, fee_fen=500, exited_at=clock.now(), berth_code="HS1-002")
    await _settle(database, paid, PLATE, 500, clock.now())
    other = await street_stay(database, plate="浙B99999", fee_fen=600, exited_at=clock.now())
    assert other and await _run(uow_factory, clock) == 0  # too early

    clock.advance(timedelta(days=3))
    assert await _run(uow_factory, clock) == 1
    assert await _reminders(uow_factory) == [(owner, f"{unpaid}#1", 800)]
    assert await _run(uow_factory, clock) == 0  # the same reminder is never queued twice

    clock.advance(timedelta(days=7))
    assert await _run(uow_factory, clock) == 1
    clock.advance(timedelta(days=7))
    assert await _run(uow_factory, clock) == 0  # at most two
    assert [r[1] for r in await _reminders(uow_factory)] == [f"{unpaid}#1", f"{unpaid}#2"]

    # What the driver reads: plate, berth, when it left and what is still due.
    async with uow_factory() as uow:
        first = await uow.session.scalar(
            select(NotificationRow).where(NotificationRow.reference == f"{unpaid}#1")
        )
    assert first is not None
    fields = notice_fields(ARREARS_REMINDER, first.body)
    assert (fields["plate"], fields["place"], fields["fee"]) == (PLATE, "HS1-001", "8.00元")


async def test_a_stay_paid_before_its_reminder_is_not_reminded(
    uow_factory: Uows, database: Database, clock: FrozenClock
) -> None:
    await _drivers(uow_factory, clock)
    ref = await street_stay(database, fee_fen=800, exited_at=clock.now())
    clock.advance(timedelta(days=2))
    await _settle(database, ref, PLATE, 800, clock.now())
    clock.advance(timedelta(days=1))
    assert await _run(uow_factory, clock) == 0
