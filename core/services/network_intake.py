"""Use cases: a lot's system signs in and pushes entries, exits, payments, counts, faults, totals.

Each push is one unit of work: the message id is stored with the change it made, so a resend is
answered "duplicate" and changes nothing. Sessions may arrive in any order: an exit before its
entry makes the stay closed at once, and the late entry finds it and leaves it be.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from core import ledger, network
from core.clock import Clock
from core.network import DailySummary, Entry, Exit, Fault, FreeCount, Message, SitePayment
from core.network_errors import (
    MessageIdReusedError,
    NetworkAuthError,
    NetworkRequestError,
    NonceReplayedError,
    SessionUnknownError,
    StayNotCollectableError,
)
from core.network_signing import REPLAY_WINDOW_SECONDS, SignedRequest, check_fresh, verify
from core.plates import InvalidPlateError, parse_plate
from core.services.network_lots import open_keys
from core.services.network_overlaps import PaidTwice, settle_overlap
from core.store.activity import StayRow
from core.store.city import LotRow
from core.store.lots import LotStayRow
from core.store.network import (
    NetworkDeviceRow,
    NetworkLotRow,
    NetworkMessageRow,
    NetworkSessionRow,
    NetworkSummaryRow,
)
from core.store.unit_of_work import UnitOfWork

ACCESS_NETWORK = "network"


class NonceStore(Protocol):
    """Remembers nonces for the replay window: Redis when configured, the database otherwise."""

    async def claim(self, uow: UnitOfWork, app_id: str, nonce: str, now: datetime) -> bool:
        """Record a nonce; False when it was seen inside the window."""
        ...


class DatabaseNonces:
    """Nonces in the network_nonces table, inside the request's own transaction."""

    async def claim(self, uow: UnitOfWork, app_id: str, nonce: str, now: datetime) -> bool:
        """Record a nonce unless it is still in its window."""
        expires = now + timedelta(seconds=2 * REPLAY_WINDOW_SECONDS)
        return await uow.network.claim_nonce(app_id, nonce, expires)


@dataclass(frozen=True, slots=True)
class Caller:
    """The lot whose system signed the request."""

    record: NetworkLotRow
    lot: LotRow


@dataclass(frozen=True, slots=True)
class Receipt:
    """The answer to a push: accepted now, or a duplicate of one accepted before; what a site
    payment collected twice, when it did."""

    message_id: str
    duplicate: bool
    stay_ref: str | None = None
    paid_twice: PaidTwice | None = None


async def authenticate(
    uow: UnitOfWork, clock: Clock, secret: str, nonces: NonceStore, request: SignedRequest
) -> Caller:
    """The lot that signed the request, or a 401 naming what failed; marks the lot as heard."""
    now = clock.now()
    check_fresh(request, now)
    found = await uow.network.caller(request.app_id, now)
    if found is None:
        raise NetworkAuthError(detail=f"app {request.app_id!r} unknown or without a live key")
    record, lot, keys = found
    verify(request, open_keys(secret, record.app_id, keys, now))
    if not await nonces.claim(uow, request.app_id, request.nonce, now):
        raise NonceReplayedError(detail=f"{request.app_id}/{request.nonce}")
    if network.heard_again(record.last_seen_at, record.silent_since, now):
        record.last_seen_at, record.silent_since = now, None
    return Caller(record, lot)


async def receive(
    uow: UnitOfWork, clock: Clock, caller: Caller, message_id: str, message: Message
) -> Receipt:
    """Apply a pushed message once; a resend of the same id and body is a duplicate."""
    if isinstance(message, FreeCount):  # deduplicated by its time: counts are not kept each
        fresh = _counted(caller.record, caller.lot, message)
        await uow.commit()
        return Receipt(message_id, not fresh)
    digest = network.digest(message)
    seen = await uow.network.message(caller.record.id, message_id)
    if seen is not None:
        if seen.digest != digest:
            raise MessageIdReusedError(detail=message_id)
        await uow.commit()  # the nonce and the lot's last contact still count
        return Receipt(message_id, True, seen.body.get("stay_ref"), _told(seen.body))
    now = clock.now()
    stay_ref, twice = await _apply(uow, clock, caller, message_id, message)
    body = network.as_record(message) | {"stay_ref": stay_ref}
    if twice is not None:
        body["paid_twice"] = twice.as_record()
    uow.network.add(
        NetworkMessageRow(
            network_lot_id=caller.record.id,
            message_id=message_id,
            kind=_kind(message).value,
            digest=digest,
            received_at=now,
            body=body,
        )
    )
    await uow.commit()
    return Receipt(message_id, False, stay_ref, twice)


def _told(body: dict[str, object]) -> PaidTwice | None:
    """What a kept message's answer said was paid twice (no refunds: they were sent then)."""
    kept = body.get("paid_twice")
    if not isinstance(kept, dict):
        return None
    return PaidTwice(
        int(kept["overlap_fen"]), int(kept["refunded_online_fen"]), int(kept["return_on_site_fen"])
    )


def _kind(message: Message) -> network.MessageKind:
    kinds = {
        Entry: network.MessageKind.ENTRY,
        Exit: network.MessageKind.EXIT,
        SitePayment: network.MessageKind.PAYMENT,
        FreeCount: network.MessageKind.COUNT,
        Fault: network.MessageKind.FAULT,
        DailySummary: network.MessageKind.SUMMARY,
    }
    return kinds[type(message)]


async def _apply(
    uow: UnitOfWork, clock: Clock, caller: Caller, message_id: str, message: Message
) -> tuple[str | None, PaidTwice | None]:
    """The stay a message touched, and what a site payment in it collected twice."""
    now = clock.now()
    if isinstance(message, Entry):
        return (await _entered(uow, caller, message)).ref, None
    if isinstance(message, Exit):
        return await _exited(uow, clock, caller, message)
    if isinstance(message, SitePayment):
        return await _paid_on_site(uow, clock, caller, message_id, message)
    if isinstance(message, Fault):
        await _fault(uow, caller.record, message)
    elif isinstance(message, DailySummary):
        await _summary(uow, now, caller.record, message)
    return None, None  # a count is applied before, without a kept message (see `receive`)


def _plate(text: str) -> str:
    try:
        return parse_plate(text).number
    except InvalidPlateError:
        raise NetworkRequestError("车牌号无效", detail=f"plate {text!r}") from None


async def _new_stay(
    uow: UnitOfWork, caller: Caller, session_id: str, plate: str, entered_at: datetime, klass: str
) -> tuple[StayRow, LotStayRow, NetworkSessionRow]:
    stay = StayRow(
        ref=uuid.uuid4().hex[:20],
        plate=plate,
        operator_id=caller.lot.operator_id,
        lot_id=caller.lot.id,
        vehicle_class=klass,
        status="open",
        entered_at=entered_at,
        tariff_code=caller.lot.tariff_code,
    )
    await uow.lots.insert(stay)
    details = LotStayRow(stay_id=stay.id, access=ACCESS_NETWORK, paid_fen=0, validation_fen=0)
    await uow.lots.insert(details, key_now=False)
    session = NetworkSessionRow(
        network_lot_id=caller.record.id, session_id=session_id, stay_id=stay.id, site_paid_fen=0
    )
    uow.network.add(session)
    return stay, details, session


async def _entered(uow: UnitOfWork, caller: Caller, entry: Entry) -> StayRow:
    stay = await uow.network.session_stay(caller.record.id, entry.session_id, for_update=True)
    if stay is not None:  # the exit came first, or a resend under a new id: the stay stands
        return stay
    stay, _, _ = await _new_stay(
        uow, caller, entry.session_id, _plate(entry.plate), entry.entered_at, entry.vehicle_class
    )
    return stay


async def _exited(
    uow: UnitOfWork, clock: Clock, caller: Caller, exit_: Exit
) -> tuple[str, PaidTwice | None]:
    now = clock.now()
    if exit_.exited_at < exit_.entered_at:
        raise NetworkRequestError("出场时间早于入场时间", detail=exit_.session_id)
    if exit_.paid_fen > exit_.fee_fen:
        raise NetworkRequestError("已收金额大于应收金额", detail=exit_.session_id)
    plate = _plate(exit_.plate)
    stay = await uow.network.session_stay(caller.record.id, exit_.session_id, for_update=True)
    if stay is None:
        stay, details, session = await _new_stay(
            uow, caller, exit_.session_id, plate, exit_.entered_at, exit_.vehicle_class
        )
    else:
        found_details = await uow.lots.lot_stay(stay.id)
        found_session = await uow.network.session_of_stay(stay.id)
        if found_details is None or found_session is None:
            raise SessionUnknownError(detail=exit_.session_id)
        details, session = found_details, found_session
    operator = await uow.city.operator(caller.lot.operator_id)
    before = stay.fee_fen or 0
    stay.status, stay.entered_at, stay.exited_at = "closed", exit_.entered_at, exit_.exited_at
    stay.fee_fen = exit_.fee_fen
    stay.quote = {"source": "network", "fee_fen": exit_.fee_fen, "lot": caller.lot.code}
    if exit_.fee_fen > before:
        charge = ledger.stay_charged(stay.ref, plate, operator.code, exit_.fee_fen - before)
        await uow.ledger.post(charge, now)
    elif exit_.fee_fen < before:
        reversal = ledger.stay_charge_reversed(
            stay.ref, plate, operator.code, before - exit_.fee_fen
        )
        await uow.ledger.post(reversal, now)
    more = exit_.paid_fen - session.site_paid_fen
    twice = None
    if more > 0:
        twice = await _note_site_payment(uow, clock, caller, details, session, stay, more, stay.ref)
    await uow.lots.write_changes(stay, details)
    return stay.ref, twice


async def _note_site_payment(
    uow: UnitOfWork,
    clock: Clock,
    caller: Caller,
    details: LotStayRow,
    session: NetworkSessionRow | None,
    stay: StayRow,
    amount_fen: int,
    reference: str,
) -> PaidTwice | None:
    """Record money the lot took; what the stay held already is given back (or flagged)."""
    now = clock.now()
    held_before = details.paid_fen
    details.paid_fen += amount_fen
    details.paid_at = now
    if session is not None:
        session.site_paid_fen += amount_fen
    entry = ledger.paid_at_network_lot(reference, caller.lot.code, stay.plate or "", amount_fen)
    await uow.ledger.post(entry, now)
    return await settle_overlap(uow, clock, stay, details, held_before, amount_fen)


async def _paid_on_site(
    uow: UnitOfWork, clock: Clock, caller: Caller, message_id: str, payment: SitePayment
) -> tuple[str, PaidTwice | None]:
    reference = f"{caller.lot.code}:{message_id}"[:64]
    if payment.session_id is not None:
        stay = await uow.network.session_stay(caller.record.id, payment.session_id, for_update=True)
        if stay is None:
            raise SessionUnknownError(detail=payment.session_id)
        session = await uow.network.session_of_stay(stay.id)
    else:
        stay = await uow.stays.by_ref(payment.stay_ref or "", for_update=True)
        session = None
        await _check_collectable(uow, caller, stay, payment.amount_fen)
    details = await uow.lots.lot_stay(stay.id) if stay is not None else None
    if stay is None or details is None:
        raise StayNotCollectableError(detail=payment.stay_ref or "")
    twice = await _note_site_payment(
        uow, clock, caller, details, session, stay, payment.amount_fen, reference
    )
    await uow.lots.write_changes(details)
    return stay.ref, twice


async def _check_collectable(
    uow: UnitOfWork, caller: Caller, stay: StayRow | None, amount_fen: int
) -> None:
    """Arrears collected at this lot's exit: only its own operator's, and no more than due."""
    if stay is None or stay.operator_id != caller.lot.operator_id or stay.lot_id is None:
        raise StayNotCollectableError(detail=stay.ref if stay else "")
    owed = dict((row.ref, due) for row, due in await uow.stays.unpaid_for_plate(stay.plate or ""))
    if owed.get(stay.ref, 0) < amount_fen:
        raise StayNotCollectableError(detail=f"{stay.ref} owes {owed.get(stay.ref, 0)}")


def _counted(record: NetworkLotRow, lot: LotRow, count: FreeCount) -> bool:
    """Keep a count newer than the stored one; whether it was."""
    if count.free_spaces > count.total_spaces:
        raise NetworkRequestError("空余车位数大于总车位数", detail=str(count))
    if not network.newer_count(record.counted_at, count.counted_at):
        return False
    record.free_spaces, record.counted_at = count.free_spaces, count.counted_at
    if lot.capacity != count.total_spaces:
        lot.capacity = count.total_spaces
    return True


async def _fault(uow: UnitOfWork, record: NetworkLotRow, fault: Fault) -> None:
    row = await uow.network.device(record.id, fault.device)
    if row is None:
        row = NetworkDeviceRow(network_lot_id=record.id, device=fault.device, since=fault.at)
        uow.network.add(row)
    elif row.since > fault.at:
        return  # an older report arriving late
    row.lane, row.state, row.since = fault.lane, fault.state, fault.at
    row.fault_code, row.detail = fault.fault_code, fault.detail


async def _summary(
    uow: UnitOfWork, now: datetime, record: NetworkLotRow, summary: DailySummary
) -> None:
    row = await uow.network.summary(record.id, summary.day)
    if row is None:
        row = NetworkSummaryRow(network_lot_id=record.id, day=summary.day, received_at=now)
        uow.network.add(row)
    row.entries, row.exits = summary.entries, summary.exits
    row.fee_fen, row.paid_fen, row.received_at = summary.fee_fen, summary.paid_fen, now
