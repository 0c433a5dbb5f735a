"""Use cases of device operations: health and attention lists, tickets, berth closures, review."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.berth_rules import BerthRules
from core.clock import Clock
from core.device_health import DeviceHealth, HealthPolicy, attention_reasons
from core.errors import ConflictError, NotFoundError, ValidationFailedError
from core.services.audit import record
from core.services.berth_events import UnknownBerthError
from core.services.device_events import UnknownDeviceError
from core.staff import StaffIdentity
from core.store.activity import DeviceEventRow, StayRow
from core.store.devices import BerthClosureRow, BerthObservationRow, MaintenanceTicketRow
from core.store.unit_of_work import UnitOfWork


class TicketNotFoundError(NotFoundError):
    """No maintenance ticket has this id."""

    code = "ticket_not_found"
    message_zh = "维修工单不存在"


class TicketClosedError(ConflictError):
    """The ticket was already closed."""

    code = "ticket_closed"
    message_zh = "维修工单已关闭"


class ClosureNotFoundError(NotFoundError):
    """No berth closure has this id."""

    code = "closure_not_found"
    message_zh = "泊位封闭记录不存在"


async def device_healths(uow: UnitOfWork, code: str | None = None) -> list[DeviceHealth]:
    """Health of every berth sensor and video device, or of one."""
    found = []
    for device, health, berth_code, tickets in await uow.device_ops.devices_with_health(code=code):
        found.append(
            DeviceHealth(
                code=device.code,
                kind=device.kind,
                berth_code=berth_code,
                last_heartbeat_at=health.last_heartbeat_at if health else None,
                last_event_at=health.last_event_at if health else None,
                battery_pct=health.battery_pct if health else None,
                signal_dbm=health.signal_dbm if health else None,
                fault_code=health.fault_code if health else None,
                occupied_count=health.occupied_count if health else 0,
                flicker_count=health.flicker_count if health else 0,
                open_tickets=tickets,
            )
        )
    if code is not None and not found:
        raise UnknownDeviceError(detail=f"device {code!r}")
    return found


async def needing_attention(
    uow: UnitOfWork, clock: Clock, policy: HealthPolicy
) -> list[tuple[DeviceHealth, list[str]]]:
    """Devices with at least one reason to send a technician, with the reasons."""
    now = clock.now()
    listed = [(h, attention_reasons(h, now, policy)) for h in await device_healths(uow)]
    return [(health, reasons) for health, reasons in listed if reasons]


async def open_ticket(
    uow: UnitOfWork, clock: Clock, staff: StaffIdentity, device_code: str, reason: str
) -> MaintenanceTicketRow:
    """Open a maintenance ticket for a device; audited."""
    device = await uow.device_ops.device(device_code)
    if device is None:
        raise UnknownDeviceError(detail=f"device {device_code!r}")
    ticket = MaintenanceTicketRow(
        device_id=device.id,
        status="open",
        reason=reason.strip(),
        opened_by=staff.actor,
        opened_at=clock.now(),
    )
    uow.device_ops.add_ticket(ticket)
    await uow.session.flush()
    await record(
        uow, clock, staff, "device.ticket_open", f"device:{device_code}", reason, {"id": ticket.id}
    )
    await uow.commit()
    return ticket


async def close_ticket(
    uow: UnitOfWork, clock: Clock, staff: StaffIdentity, ticket_id: int, resolution: str
) -> MaintenanceTicketRow:
    """Close a ticket with what was done; audited."""
    ticket = await uow.device_ops.ticket(ticket_id)
    if ticket is None:
        raise TicketNotFoundError(detail=f"ticket {ticket_id}")
    if ticket.status == "closed":
        raise TicketClosedError(detail=f"ticket {ticket_id}")
    ticket.status, ticket.closed_by, ticket.closed_at = "closed", staff.actor, clock.now()
    ticket.resolution = resolution.strip()
    await record(uow, clock, staff, "device.ticket_close", f"ticket:{ticket_id}", resolution, {})
    await uow.commit()
    return ticket


async def close_berth(
    uow: UnitOfWork,
    clock: Clock,
    staff: StaffIdentity,
    berth_code: str,
    starts_at: datetime,
    ends_at: datetime | None,
    reason: str,
) -> tuple[BerthClosureRow, list[str]]:
    """Close a berth for a period; stays there now are flagged. Audited."""
    if ends_at is not None and ends_at <= starts_at:
        raise ValidationFailedError("结束时间须晚于开始时间")
    berth = await uow.city.berth_by_code(berth_code)
    if berth is None:
        raise UnknownBerthError(detail=f"berth {berth_code!r}")
    now = clock.now()
    closure = BerthClosureRow(
        berth_id=berth.id,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason.strip(),
        created_by=staff.actor,
        created_at=now,
    )
    uow.device_ops.add_closure(closure)
    flagged = []
    for stay in await uow.device_ops.open_stays_at(berth.id):
        await uow.onstreet.flag_stay(stay, "berth_closed", reason.strip(), now)
        flagged.append(stay.ref)
    await uow.session.flush()
    details = {
        "id": closure.id,
        "starts_at": starts_at.isoformat(),
        "ends_at": ends_at.isoformat() if ends_at else None,
        "flagged": flagged,
    }
    await record(uow, clock, staff, "berth.close", f"berth:{berth_code}", reason, details)
    await uow.commit()
    return closure, flagged


async def end_closure(
    uow: UnitOfWork, clock: Clock, staff: StaffIdentity, closure_id: int, reason: str
) -> tuple[BerthClosureRow, str]:
    """End a closure now (or leave an already ended one alone); audited."""
    closure = await uow.device_ops.closure(closure_id)
    if closure is None:
        raise ClosureNotFoundError(detail=f"closure {closure_id}")
    now = clock.now()
    if closure.ends_at is None or closure.ends_at > now:
        closure.ends_at = max(now, closure.starts_at)
    berth_code = await uow.city.place_name(closure.berth_id, None)
    await record(
        uow, clock, staff, "berth.reopen", f"berth:{berth_code}", reason, {"id": closure_id}
    )
    await uow.commit()
    return closure, berth_code


@dataclass(frozen=True, slots=True)
class ReviewQueue:
    """What needs a human: events without a place, and stays in doubt."""

    unplaced: list[tuple[BerthObservationRow, DeviceEventRow, str]]
    refused: list[DeviceEventRow]
    stays: list[tuple[StayRow, str, str | None]]


async def review_queue(
    uow: UnitOfWork, clock: Clock, rules: BerthRules, *, limit: int = 100
) -> ReviewQueue:
    """Unplaced and refused events, and stays in review, flagged or long without a plate."""
    deadline = clock.now() - timedelta(minutes=rules.plate_wait_minutes)
    return ReviewQueue(
        unplaced=await uow.device_ops.unplaced_observations(limit=limit),
        refused=await uow.device_ops.unplaced_events(limit=limit),
        stays=await uow.device_ops.stays_for_review(deadline, limit=limit),
    )
