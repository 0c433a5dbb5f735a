"""Use cases of fee appeals: a driver files one, support reads its evidence; the queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core import appeals as rules
from core.appeals import CaseKind, CaseNotFoundError, CaseStatus, Category
from core.clock import Clock
from core.errors import DomainError
from core.payments import Payment
from core.services import audit
from core.services.driver_stays import StayNotFoundError
from core.services.stays import paid_toward
from core.services.vehicles import require_verified
from core.services.waivers import operator_in_scope
from core.staff import StaffIdentity
from core.store.activity import StayRow
from core.store.appeals import AppealRow, ApprovalRow
from core.store.unit_of_work import UnitOfWork

# The berth's sensor trace is shown this far either side of the stay, so a missed arrival or an
# early vacancy that the driver disputes is on the screen too.
TRACE_MARGIN = timedelta(hours=1)


def driver_actor(driver_id: int) -> str:
    """The audit actor of a driver (usernames cannot hold ':')."""
    return f"driver:{driver_id}"


async def file_appeal(
    uow: UnitOfWork,
    clock: Clock,
    driver_id: int,
    stay_ref: str,
    category: Category,
    reason: str,
    photos: list[str],
    answer_days: int,
) -> AppealRow:
    """Record a driver's appeal of their plate's stay fee, pausing its reminders; commits."""
    stay = await uow.stays.by_ref(stay_ref, for_update=True)  # one open appeal per stay
    if stay is None or stay.plate is None or stay.status == "void":
        raise StayNotFoundError(detail=stay_ref)
    await _require_theirs(uow, driver_id, stay.plate, stay.ref)
    if await uow.appeals.open_for_stay(stay_ref) is not None:
        raise rules.AppealExistsError(detail=stay_ref)
    rules.check_photos(photos, driver_id)
    now = clock.now()
    row = AppealRow(
        kind=CaseKind.APPEAL.value,
        category=category.value,
        status=CaseStatus.OPEN.value,
        stay_ref=stay_ref,
        driver_id=driver_id,
        plate=stay.plate,
        reason=reason.strip(),
        photos=list(photos),
        created_at=now,
        due_at=rules.deadline(now, answer_days),
    )
    await uow.appeals.add(row)
    details = {"appeal_id": row.id, "category": category.value, "photos": len(photos)}
    await audit.record(
        uow, clock, driver_actor(driver_id), "appeal.file", stay_ref, reason, details
    )
    await uow.commit()
    return row


async def _require_theirs(uow: UnitOfWork, driver_id: int, plate: str, stay_ref: str) -> None:
    """The driver paid this stay, or holds a verified binding of its plate."""
    if await uow.vehicles.paid_by(driver_id, stay_ref):
        return
    try:
        await require_verified(uow, driver_id, plate, stay_ref)
    except DomainError:
        raise StayNotFoundError(detail=stay_ref) from None  # a stranger learns nothing


async def driver_appeals(uow: UnitOfWork, driver_id: int, limit: int = 50) -> list[AppealRow]:
    """A driver's own appeals, newest first."""
    return await uow.appeals.of_driver(driver_id, limit)


async def stay_on_hold(uow: UnitOfWork, stay_ref: str) -> bool:
    """Whether an open appeal pauses the stay's reminders and any late fee."""
    return await uow.appeals.open_for_stay(stay_ref) is not None


@dataclass(frozen=True, slots=True)
class SensorReading:
    """One berth observation near the stay, with the role the timeline gave it."""

    at: datetime
    kind: str
    role: str
    device_code: str
    plate: str | None
    image_ref: str | None
    of_this_stay: bool


@dataclass(frozen=True, slots=True)
class LaneRead:
    """One camera read at a lot lane that belongs to the stay."""

    at: datetime
    direction: str
    lane_code: str
    plate: str | None
    confidence: int | None
    action: str
    image_ref: str | None


@dataclass(frozen=True, slots=True)
class StayFacts:
    """What the stay itself says."""

    ref: str
    plate: str | None
    status: str
    entered_at: datetime
    exited_at: datetime | None
    fee_fen: int | None
    paid_fen: int
    place: str


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything support weighs: the case, the stay, sensors, lane reads, images, money."""

    case: AppealRow
    stay: StayFacts | None
    sensor_trace: list[SensorReading]
    lane_reads: list[LaneRead]
    images: list[tuple[datetime, str]]
    payments: list[Payment]
    approvals: list[ApprovalRow]
    overdue: bool


@dataclass(frozen=True, slots=True)
class StayEvidence:
    """A stay's facts with its sensor trace, lane reads, images and payments."""

    stay: StayFacts
    sensor_trace: list[SensorReading]
    lane_reads: list[LaneRead]
    images: list[tuple[datetime, str]]
    payments: list[Payment]


async def stay_evidence(
    uow: UnitOfWork, clock: Clock, staff: StaffIdentity, stay: StayRow
) -> StayEvidence:
    """What a stay's devices recorded, if the stay is in the account's scope."""
    await operator_in_scope(uow, staff, stay)
    facts = StayFacts(
        stay.ref,
        stay.plate,
        stay.status,
        stay.entered_at,
        stay.exited_at,
        stay.fee_fen,
        await paid_toward(uow, stay) if stay.fee_fen is not None else 0,
        await uow.city.place_name(stay.berth_id, stay.lot_id),
    )
    trace: list[SensorReading] = []
    if stay.berth_id is not None:
        until = (stay.exited_at or clock.now()) + TRACE_MARGIN
        rows = await uow.appeals.berth_trace(stay.berth_id, stay.entered_at - TRACE_MARGIN, until)
        trace = [
            SensorReading(
                r.device_time,
                r.kind,
                r.role,
                r.device_code,
                r.plate,
                r.image_ref,
                r.stay_id == stay.id,
            )
            for r in rows
        ]
    reads = [LaneRead(*row) for row in await uow.appeals.lane_reads(stay.id)]
    images = await uow.vehicles.stay_images(stay.id)
    payments = await uow.payments.for_stay(stay.ref)
    return StayEvidence(facts, trace, reads, images, payments)


async def stay_evidence_by_ref(
    uow: UnitOfWork, clock: Clock, staff: StaffIdentity, stay_ref: str
) -> StayEvidence:
    """The evidence of the stay with this reference; StayNotFoundError when there is none."""
    stay = await uow.stays.by_ref(stay_ref)
    if stay is None:
        raise StayNotFoundError(detail=stay_ref)
    return await stay_evidence(uow, clock, staff, stay)


async def evidence(uow: UnitOfWork, clock: Clock, staff: StaffIdentity, appeal_id: int) -> Evidence:
    """The case with its stay's evidence, if the stay is in the account's scope."""
    case = await uow.appeals.get(appeal_id)
    if case is None:
        raise CaseNotFoundError(detail=str(appeal_id))
    stay = await uow.stays.by_ref(case.stay_ref) if case.stay_ref else None
    found = await stay_evidence(uow, clock, staff, stay) if stay is not None else None
    payments = found.payments if found is not None else []
    if found is None and case.out_trade_no:
        paid = await uow.payments.get(case.out_trade_no)
        payments = [paid] if paid is not None else []
    now = clock.now()
    overdue = rules.is_overdue(CaseStatus(case.status), case.due_at, now)
    approvals = await uow.appeals.approvals_of(case.id)
    return Evidence(
        case,
        found.stay if found else None,
        found.sensor_trace if found else [],
        found.lane_reads if found else [],
        found.images if found else [],
        payments,
        approvals,
        overdue,
    )


async def queue(
    uow: UnitOfWork, clock: Clock, *, overdue: bool, open_only: bool, limit: int, after: int | None
) -> list[AppealRow]:
    """The appeal and complaint queue, soonest deadline first; overdue ones alone if asked."""
    return await uow.appeals.page(
        open_only=open_only, overdue_at=clock.now() if overdue else None, limit=limit, after=after
    )
