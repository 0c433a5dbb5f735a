"""The missed-exit review queue of gated lots: stays a human prices, frees or dismisses.

A stay goes to `review` when its plate enters again while it is still open (its exit was
missed, core.services.lane_entry); an open stay older than the lot's `stale_after_hours` is
listed too (its exit was never seen). Staff close one at an exit time they state (priced by
the lot's tariff like a lane exit), close it free, or dismiss it as a duplicate record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.billing import DayCalendar
from core.clock import Clock
from core.errors import ConflictError, DomainError, NotFoundError
from core.ledger import stay_charged
from core.lot_policies import PolicyValues
from core.services import audit
from core.services.lane_entry import receivable_subject
from core.services.lane_exit import close_priced
from core.services.lot_places import check_lot, lot_for, lots_covered
from core.services.lot_pricing import price_lot_stay
from core.services.network_overlaps import PAID_TWICE_FLAG, returned_on_site
from core.staff import StaffIdentity
from core.store.activity import StayRow
from core.store.city import LotRow
from core.store.lots import LotStayRow
from core.store.unit_of_work import UnitOfWork

Actor = StaffIdentity | str


class ReviewStayNotFoundError(NotFoundError):
    """No lot stay has this reference."""

    code = "stay_not_found"
    message_zh = "停车记录不存在"


class NotInReviewError(ConflictError):
    """The stay is not (or no longer) waiting for review."""

    code = "stay_not_in_review"
    message_zh = "该停车记录不在待复核状态"


class ExitTimeInvalidError(DomainError):
    """The stated exit time cannot be the car's."""

    code = "exit_time_invalid"
    status = 422
    message_zh = "离场时间有误"


class PaidDuplicateError(ConflictError):
    """A stay with a payment noted is not a mere duplicate record."""

    code = "stay_paid"
    message_zh = "该记录已有付款，不能作为重复记录作废"


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A stay waiting for a human, with the evidence to decide."""

    stay_ref: str
    lot: str
    plate: str | None
    why: str  # missed_exit, stale_stay, review, paid_twice (a networked lot collected twice)
    status: str
    entered_at: datetime
    entry_lane: str | None
    entry_image_ref: str | None
    access: str
    paid_fen: int
    later_stay_ref: str | None
    later_entered_at: datetime | None
    later_image_ref: str | None


@dataclass(frozen=True, slots=True)
class ReviewOutcome:
    """What a review action did to the stay."""

    stay_ref: str
    status: str
    exited_at: datetime | None
    fee_fen: int | None
    due_fen: int


async def review_queue(
    uow: UnitOfWork, clock: Clock, actor: Actor, *, lot_code: str | None = None, limit: int = 100
) -> list[ReviewItem]:
    """Stays in review, stale open stays and stays paid twice on site in the actor's lots,
    oldest entry first."""
    if lot_code is not None:
        lots = [await lot_for(uow, actor, lot_code)]
    else:
        covered = await lots_covered(uow, actor)
        lots = covered if covered is not None else await uow.lot_admin.lots()
    items: list[ReviewItem] = []
    for lot in lots:
        found = [(s, d, "review") for s, d in await uow.lot_admin.stays_in_review(lot.id)]
        stale = await _stale_before(uow, clock, lot)
        found += [(s, d, "stale_stay") for s, d in await uow.lot_admin.open_before(lot.id, stale)]
        twice = await uow.lot_admin.flagged(lot.id, PAID_TWICE_FLAG)
        found += [(s, d, PAID_TWICE_FLAG) for s, d in twice]
        for stay, details, why in found:
            items.append(await _item(uow, lot, stay, details, why))
    items.sort(key=lambda item: (item.entered_at, item.stay_ref))
    return items[:limit]


async def _stale_before(uow: UnitOfWork, clock: Clock, lot: LotRow) -> datetime:
    row = await uow.lots.policy(lot.id)
    hours = row.stale_after_hours if row is not None else PolicyValues().stale_after_hours
    return clock.now() - timedelta(hours=hours)


async def _item(
    uow: UnitOfWork, lot: LotRow, stay: StayRow, details: LotStayRow, why: str
) -> ReviewItem:
    later = await _later(uow, lot, stay)
    later_details = await uow.lots.lot_stay(later.id) if later is not None else None
    if why == "review" and later is not None:
        why = "missed_exit"
    lane = None
    if details.entry_lane_id is not None:
        lane = (await uow.lots.lane_by_id(details.entry_lane_id))[0].code
    return ReviewItem(
        stay.ref,
        lot.code,
        stay.plate,
        why,
        stay.status,
        stay.entered_at,
        lane,
        details.entry_image_ref,
        details.access,
        details.paid_fen,
        later.ref if later else None,
        later.entered_at if later else None,
        later_details.entry_image_ref if later_details else None,
    )


async def _later(uow: UnitOfWork, lot: LotRow, stay: StayRow) -> StayRow | None:
    if stay.plate is None:
        return None
    return await uow.lot_admin.next_entry(lot.id, stay.plate, stay)


async def _reviewable(
    uow: UnitOfWork, clock: Clock, actor: Actor, stay_ref: str
) -> tuple[StayRow, LotStayRow, LotRow]:
    """The stay if it waits for review (or is stale and open), locked with its lot."""
    stay, details, lot = await _locked(uow, actor, stay_ref)
    stale = stay.status == "open" and stay.entered_at < await _stale_before(uow, clock, lot)
    if stay.status != "review" and not stale:
        raise NotInReviewError(detail=f"{stay_ref} is {stay.status}")
    return stay, details, lot


async def _locked(
    uow: UnitOfWork, actor: Actor, stay_ref: str
) -> tuple[StayRow, LotStayRow, LotRow]:
    """A lot stay in the actor's lots, locked with its lot."""
    found = await uow.lot_admin.stay_by_ref(stay_ref)
    details = await uow.lots.lot_stay(found.id) if found is not None else None
    if found is None or found.lot_id is None or details is None:
        raise ReviewStayNotFoundError(detail=stay_ref)
    lot = await uow.lot_admin.lot(found.lot_id)
    await check_lot(uow, actor, lot)
    await uow.lots.lock_lot(lot.id)  # lanes of the lot decide one at a time with this
    stay = await uow.lot_admin.stay_by_ref(stay_ref, for_update=True)
    assert stay is not None
    return stay, details, lot


async def returned_twice_paid(
    uow: UnitOfWork, clock: Clock, actor: Actor, stay_ref: str, *, reason: str
) -> ReviewOutcome:
    """A networked lot gave back on site what it collected twice (flag paid_twice); commits."""
    stay, details, lot = await _locked(uow, actor, stay_ref)
    returned = await returned_on_site(uow, clock, stay, details, lot.code)
    extra = {"returned_fen": returned}
    action = "lot_stay.paid_twice_returned"
    await _audit(uow, clock, actor, action, stay, details, stay.status, None, reason, extra)
    await uow.commit()
    return ReviewOutcome(stay.ref, stay.status, stay.exited_at, stay.fee_fen, 0)


async def _check_exit(
    uow: UnitOfWork, clock: Clock, lot: LotRow, stay: StayRow, exited_at: datetime
) -> StayRow | None:
    if exited_at <= stay.entered_at:
        raise ExitTimeInvalidError("离场时间须晚于入场时间")
    if exited_at > clock.now():
        raise ExitTimeInvalidError("离场时间不能晚于当前时间")
    later = await _later(uow, lot, stay)
    if later is not None and exited_at > later.entered_at:
        raise ExitTimeInvalidError("离场时间不能晚于该车下一次入场时间")
    return later


async def close_at(
    uow: UnitOfWork,
    clock: Clock,
    calendar: DayCalendar,
    actor: Actor,
    stay_ref: str,
    exited_at: datetime,
    *,
    reason: str,
) -> ReviewOutcome:
    """Close a stay at the exit time staff established, priced like a lane exit; commits."""
    stay, details, lot = await _reviewable(uow, clock, actor, stay_ref)
    later = await _check_exit(uow, clock, lot, stay, exited_at)
    was = stay.status
    priced = await price_lot_stay(uow, calendar, lot, stay, details, exited_at)
    await close_priced(uow, lot, None, stay, details, exited_at, priced)
    extra = {"fee_fen": stay.fee_fen, "due_fen": priced.due_fen, "tariff": lot.tariff_code}
    await _audit(uow, clock, actor, "lot_stay.close", stay, details, was, later, reason, extra)
    await uow.commit()
    return ReviewOutcome(stay.ref, stay.status, stay.exited_at, stay.fee_fen, priced.due_fen)


async def close_free(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    stay_ref: str,
    *,
    reason: str,
    exited_at: datetime | None = None,
) -> ReviewOutcome:
    """Close a stay with nothing more to pay (what was paid stays paid); commits.

    Without a stated exit time the car is taken to have left when it next entered, else now.
    """
    stay, details, lot = await _reviewable(uow, clock, actor, stay_ref)
    later = await _later(uow, lot, stay)
    if exited_at is None:
        exited_at = later.entered_at if later is not None else clock.now()
    later = await _check_exit(uow, clock, lot, stay, exited_at)
    was = stay.status
    stay.status = "closed"
    stay.exited_at = exited_at
    stay.fee_fen = details.paid_fen
    stay.quote = {"free": True, "reason": reason.strip(), "charged_fen": details.paid_fen}
    if details.paid_fen > 0:  # the payment noted earlier now meets its charge
        operator = await uow.city.operator(lot.operator_id)
        subject = receivable_subject(stay, details)
        entry = stay_charged(stay.ref, subject, operator.code, details.paid_fen)
        await uow.ledger.post(entry, exited_at)
    extra = {"fee_fen": stay.fee_fen}
    await _audit(uow, clock, actor, "lot_stay.close_free", stay, details, was, later, reason, extra)
    await uow.commit()
    return ReviewOutcome(stay.ref, stay.status, stay.exited_at, stay.fee_fen, 0)


async def dismiss(
    uow: UnitOfWork, clock: Clock, actor: Actor, stay_ref: str, *, reason: str
) -> ReviewOutcome:
    """Void a stay that duplicates another record (a double read); nothing is charged; commits."""
    stay, details, lot = await _reviewable(uow, clock, actor, stay_ref)
    if details.paid_fen > 0:
        raise PaidDuplicateError(detail=stay_ref)
    was = stay.status
    stay.status = "void"
    later = await _later(uow, lot, stay)
    await _audit(uow, clock, actor, "lot_stay.dismiss", stay, details, was, later, reason, {})
    await uow.commit()
    return ReviewOutcome(stay.ref, stay.status, None, None, 0)


async def _audit(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    action: str,
    stay: StayRow,
    details: LotStayRow,
    was: str,
    later: StayRow | None,
    reason: str,
    extra: Mapping[str, object],
) -> None:
    record = {
        "plate": stay.plate,
        "status_before": was,
        "entered_at": stay.entered_at.isoformat(),
        "exited_at": stay.exited_at.isoformat() if stay.exited_at else None,
        "image_ref": details.entry_image_ref,
        "later_stay": later.ref if later else None,
        **extra,
    }
    await audit.record(uow, clock, actor, action, f"stay:{stay.ref}", reason, record)
