"""Use cases: what a lot's system asks the platform at its lanes.

A plate's city arrears (to flag it, or to collect its own operator's at the exit), whether the
plate holds a pass here or WeChat Pay's parking service, and what the driver paid for a session
in the mini-program ("paid elsewhere", so the lot opens the gate).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.clock import Clock
from core.network_errors import SessionUnknownError
from core.payments import SETTLED_STATUSES
from core.services.network_intake import Caller
from core.store.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class OwedStay:
    """One unpaid stay of the plate anywhere in the city."""

    stay_ref: str
    place: str
    exited_at: datetime | None
    due_fen: int
    collectable: bool  # this lot's operator owns it, so the lot may take the money at its exit


@dataclass(frozen=True, slots=True)
class PlateArrears:
    """A plate's arrears across the city."""

    plate: str
    due_fen: int
    stays: list[OwedStay]


@dataclass(frozen=True, slots=True)
class PlateRights:
    """What lets the plate leave without paying at this lot's lane."""

    plate: str
    pass_valid_until: datetime | None
    auto_deduct: bool


@dataclass(frozen=True, slots=True)
class PaidOnline:
    """One payment the driver made in the mini-program."""

    out_trade_no: str
    amount_fen: int
    paid_at: datetime | None


@dataclass(frozen=True, slots=True)
class SessionPayments:
    """A session's fee and what was paid toward it, online and on site."""

    session_id: str
    stay_ref: str
    fee_fen: int | None
    paid_online_fen: int
    paid_on_site_fen: int
    due_fen: int
    payments: list[PaidOnline]


async def plate_arrears(uow: UnitOfWork, caller: Caller, plate: str) -> PlateArrears:
    """The plate's unpaid stays, each marked whether this lot may collect it."""
    stays = []
    for row, due in await uow.stays.unpaid_for_plate(plate):
        place = await uow.city.place_name(row.berth_id, row.lot_id)
        mine = row.operator_id == caller.lot.operator_id and row.lot_id is not None
        stays.append(OwedStay(row.ref, place, row.exited_at, due, mine))
    return PlateArrears(plate, sum(s.due_fen for s in stays), stays)


async def plate_rights(uow: UnitOfWork, clock: Clock, caller: Caller, plate: str) -> PlateRights:
    """A monthly pass of this lot in force now, and whether WeChat Pay may deduct for the plate."""
    right = await uow.pass_sales.pass_in_force(caller.lot.id, plate, clock.now())
    service = await uow.auto_pay.authorised_for(plate)
    return PlateRights(plate, right.valid_until if right else None, service is not None)


async def session_payments(uow: UnitOfWork, caller: Caller, session_id: str) -> SessionPayments:
    """What is paid toward a session, and by whom."""
    stay = await uow.network.session_stay(caller.record.id, session_id)
    session = await uow.network.session_of_stay(stay.id) if stay is not None else None
    details = await uow.lots.lot_stay(stay.id) if stay is not None else None
    if stay is None or session is None or details is None:
        raise SessionUnknownError(detail=session_id)
    paid = [
        PaidOnline(p.out_trade_no, p.amount_fen - p.refunded_fen, p.paid_at)
        for p in await uow.payments.for_stay(stay.ref)
        if p.status in SETTLED_STATUSES
    ]
    online = sum(p.amount_fen for p in paid)
    fee = stay.fee_fen
    due = max(0, (fee or 0) - details.paid_fen) if fee is not None else 0
    return SessionPayments(session_id, stay.ref, fee, online, session.site_paid_fen, due, paid)
