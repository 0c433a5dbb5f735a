"""What an agent reads: the queue, a conversation, the driver panel and the day's metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from core.billing import SHANGHAI
from core.services.driver_stays import UnpaidStay, unpaid_stays
from core.services.support import conversation
from core.store.activity import StayRow
from core.store.chat import ChatHandoffRow, ChatMessageRow
from core.store.devices import NotificationRow
from core.store.payments import PaymentRow, RefundRow
from core.store.unit_of_work import UnitOfWork
from core.support import AgentDay, HandledConversation, agent_days

LAST_MESSAGES = 5
PANEL_ROWS = 20
STAY_STATUSES = ("open", "closed", "review", "void")


@dataclass(frozen=True, slots=True)
class BoundPlate:
    """A plate bound to the driver."""

    plate: str
    verified: bool
    bound_at: datetime


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """A waiting (or held) conversation with what the agent sees first."""

    row: ChatHandoffRow
    plates: list[BoundPlate]
    last_messages: list[ChatMessageRow]


@dataclass(frozen=True, slots=True)
class DriverPanel:
    """Everything an agent may look at about the driver of a conversation."""

    row: ChatHandoffRow
    phone: str | None
    plates: list[BoundPlate]
    stays: list[StayRow]
    payments: list[PaymentRow]
    refunds: list[RefundRow]
    arrears: list[UnpaidStay]
    notices: list[NotificationRow]


async def plates_of(uow: UnitOfWork, driver_id: int | None) -> list[BoundPlate]:
    """The driver's bound plates, verified or not."""
    if driver_id is None:
        return []
    return [
        BoundPlate(vehicle.plate, binding.verified_at is not None, binding.created_at)
        for binding, vehicle in await uow.vehicles.bindings(driver_id)
    ]


async def _entries(uow: UnitOfWork, rows: list[ChatHandoffRow]) -> list[QueueEntry]:
    last = await uow.support.last_messages([r.id for r in rows], LAST_MESSAGES)
    return [QueueEntry(r, await plates_of(uow, r.driver_id), last[r.id]) for r in rows]


async def queue(uow: UnitOfWork, limit: int) -> list[QueueEntry]:
    """Waiting conversations, oldest first, with plates and last messages."""
    return await _entries(uow, await uow.support.queue(limit))


async def held(uow: UnitOfWork, agent: str) -> list[QueueEntry]:
    """The conversations an agent holds."""
    return await _entries(uow, await uow.support.held_by(agent))


async def history(uow: UnitOfWork, handoff_id: int) -> tuple[QueueEntry, list[ChatMessageRow]]:
    """A conversation and every message of it."""
    row = await conversation(uow, handoff_id)
    [entry] = await _entries(uow, [row])
    return entry, await uow.support.messages(handoff_id)


async def driver_panel(uow: UnitOfWork, handoff_id: int) -> DriverPanel:
    """The driver behind a conversation: plates, stays, payments, refunds, arrears, notices."""
    row = await conversation(uow, handoff_id)
    plates = await plates_of(uow, row.driver_id)
    if row.driver_id is None:
        return DriverPanel(row, None, [], [], [], [], [], [])
    driver_id = row.driver_id
    names = [p.plate for p in plates]
    arrears: list[UnpaidStay] = []
    for plate in (p for p in plates if p.verified):
        arrears += await unpaid_stays(uow, driver_id, plate.plate)
    return DriverPanel(
        row=row,
        phone=await uow.vehicles.phone(driver_id),
        plates=plates,
        stays=await uow.vehicles.stays(names, STAY_STATUSES, limit=PANEL_ROWS, before_id=None),
        payments=await uow.support.payments(driver_id, PANEL_ROWS),
        refunds=await uow.support.refunds(driver_id, PANEL_ROWS),
        arrears=arrears,
        notices=await uow.support.notices(driver_id, PANEL_ROWS),
    )


async def metrics(uow: UnitOfWork, day: date) -> list[AgentDay]:
    """Per agent, the conversations claimed on a (Shanghai) day."""
    start = datetime.combine(day, time(), SHANGHAI)
    rows = await uow.support.claimed_between(start, start + timedelta(days=1))
    return agent_days(
        HandledConversation(
            agent=r.taken_by or "",
            created_at=r.created_at,
            claimed_at=r.claimed_at,
            first_response_at=r.first_response_at,
            closed_at=r.closed_at,
            rating=r.rating,
        )
        for r in rows
        if r.claimed_at is not None
    )
