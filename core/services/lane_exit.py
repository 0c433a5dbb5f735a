"""Exit lanes: find the car's stay across the lot, price it, open, ask for payment or a human."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.billing import DayCalendar
from core.clock import Clock
from core.lane_events import LaneRead
from core.lanes import (
    Access,
    Decision,
    ExitFacts,
    LaneAction,
    best_access,
    decide_exit,
)
from core.ledger import stay_charge_reversed, stay_charged, stored_value_spent
from core.plate_matching import (
    Candidate,
    MatchOutcome,
    VehicleLook,
    like_patterns,
    match_read,
)
from core.services.exit_arrears import with_city_arrears
from core.services.lane_entry import Verdict, lot_policy, receivable_subject
from core.services.lot_pricing import LotQuote, price_lot_stay
from core.store.activity import StayRow
from core.store.lane_read_repository import StayHints
from core.store.lane_values import LaneFacts, LotFacts
from core.store.lots import LanePassageRow, LotStayRow
from core.store.unit_of_work import UnitOfWork


async def release(
    uow: UnitOfWork,
    clock: Clock,
    calendar: DayCalendar,
    lot: LotFacts,
    lane: LaneFacts,
    read: LaneRead,
    passage: LanePassageRow,
) -> Verdict:
    """Apply the exit rules to a read at an exit lane."""
    if read.plate is None:
        return Verdict(Decision(LaneAction.REFUSE, "no_plate", "无牌车请扫码出场"))
    plate = read.plate.number
    # Only the lot's stays whose plate could match the read: open or awaiting their payment.
    found = await uow.lane_reads.exit_candidates(lot.id, lot.tariff_code, like_patterns(plate))
    by_ref = {stay.ref: (stay, details, hints) for stay, details, hints in found}
    candidates = [
        Candidate(stay.ref, stay.plate, _look(details))
        for stay, details, _ in found
        if stay.plate is not None
    ]
    match = match_read(plate, read.look, candidates)
    if match.outcome is not MatchOutcome.MATCHED or match.chosen is None:
        rights = await uow.lots.rights_for_plate(lot.id, plate, passage.read_at)
        access = best_access([right.kind for right in rights])
        facts = ExitFacts(plate, match.outcome, access)
        decision = decide_exit(await lot_policy(uow, lot), facts)
        return Verdict(decision, details={"candidates": [c.key for c in match.tied]})
    stay, details, hints = by_ref[match.chosen.key]
    details_out: dict[str, Any] = {"match": match.rank.name.lower() if match.rank else None}
    if match.chosen.plate != plate:
        details_out["stay_plate"] = match.chosen.plate
    verdict = await settle_at_exit(
        uow,
        calendar,
        lot,
        lane,
        stay,
        details,
        passage.read_at,
        match_flags=match.flags,
        hints=hints,
    )
    if read.offline and verdict.decision.action is LaneAction.HOLD:
        verdict = Verdict(verdict.decision, stay.id, stay.ref, verdict.fee_fen, verdict.details)
    return Verdict(
        verdict.decision,
        verdict.stay_id,
        verdict.stay_ref,
        verdict.fee_fen,
        {**verdict.details, **details_out},
    )


def _look(details: LotStayRow) -> VehicleLook:
    return VehicleLook(details.plate_colour, details.vehicle_type, details.vehicle_colour)


async def settle_at_exit(
    uow: UnitOfWork,
    calendar: DayCalendar,
    lot: LotFacts,
    lane: LaneFacts,
    stay: StayRow,
    details: LotStayRow,
    exit_at: datetime,
    *,
    match_flags: tuple[str, ...] = (),
    lost_ticket: bool = False,
    fee_fen: int | None = None,
    checked: bool = True,
    hints: StayHints | None = None,
) -> Verdict:
    """Price a matched stay and decide; unless held, close it and post its charge.

    `fee_fen` is a fee a human confirmed (it replaces the tariff's); `checked` False skips the
    plausibility checks a human has just made; `hints` (from the candidate query, under the
    lot's lock) say which of the stay's rights, validations and waiting passages to look for.
    """
    read_at = exit_at
    # An exit dated before the entry (a wrong device clock) is held below when checked; one a
    # human lets through is priced and closed as leaving at its entry, never before it.
    exit_at = max(exit_at, stay.entered_at)
    priced = await price_lot_stay(
        uow, calendar, lot, stay, details, exit_at, lost_ticket=lost_ticket, hints=hints
    )
    if fee_fen is not None:
        priced = _confirmed(priced, fee_fen, details.paid_fen)
    facts = ExitFacts(
        plate=stay.plate or "无牌车",
        match=MatchOutcome.MATCHED,
        access=Access(details.access),
        entered_at=stay.entered_at if checked else None,
        read_at=read_at,
        due_fen=priced.due_fen,
        settled_by=priced.settled_by,
        needs_review=priced.quote.needs_review and checked,
        match_flags=match_flags,
    )
    policy = await lot_policy(uow, lot)
    decision = decide_exit(policy, facts)
    if decision.action is LaneAction.HOLD:
        reasons = list(priced.quote.review_reasons)
        return Verdict(decision, stay.id, stay.ref, priced.due_fen, {"review": reasons})
    extra: dict[str, Any] = {}
    if decision.action is LaneAction.PAY and policy.collect_arrears_at_exit:
        decision, extra["city_arrears_fen"] = await with_city_arrears(uow, stay, decision)
    waiting = hints is None or hints.waiting
    await close_priced(uow, lot, lane, stay, details, exit_at, priced, waiting=waiting)
    return Verdict(
        decision,
        stay.id,
        stay.ref,
        priced.due_fen,
        {"owed_before_fen": details.paid_fen, "breakdown": priced.adjustments, **extra},
    )


def _confirmed(priced: LotQuote, fee_fen: int, paid_fen: int) -> LotQuote:
    """The quote with a fee a human set: due is what is left after earlier payments."""
    due = max(fee_fen - paid_fen, 0)
    adjustments = [*priced.adjustments, {"label": "人工确认费用", "amount_fen": fee_fen}]
    return LotQuote(
        priced.quote,
        priced.tariff_version,
        fee_fen,
        due,
        "confirmed",
        adjustments=adjustments,
        validations=priced.validations,
    )


async def close_priced(
    uow: UnitOfWork,
    lot: LotFacts,
    lane: LaneFacts | None,
    stay: StayRow,
    details: LotStayRow,
    exit_at: datetime,
    priced: LotQuote,
    *,
    waiting: bool = True,
) -> None:
    """Close the stay with its fee and post the charge (only the increment on a re-price).

    Without a lane the exit was not seen at one (a missed exit closed by staff).
    """
    operator_code = await uow.city.operator_code(lot.operator_id)
    subject = receivable_subject(stay, details)
    already = stay.fee_fen or 0 if stay.status == "closed" else 0
    stay.status = "closed"
    stay.exited_at = exit_at
    stay.fee_fen = priced.charged_fen
    stay.quote = priced.as_dict()
    stay.tariff_version = priced.tariff_version
    if lane is not None:
        details.exit_lane_id = lane.id
    details.validation_fen = priced.validation_fen
    now = exit_at
    increment = priced.charged_fen - already
    if increment > 0:
        await uow.ledger.post(stay_charged(stay.ref, subject, operator_code, increment), now)
    elif increment < 0:
        reversal = stay_charge_reversed(stay.ref, subject, operator_code, -increment)
        await uow.ledger.post(reversal, now)
    if priced.stored_value_fen and priced.card is not None:
        priced.card.balance_fen -= priced.stored_value_fen
        entry = stored_value_spent(stay.ref, priced.card.ref, subject, priced.stored_value_fen)
        await uow.ledger.post(entry, now)
        details.paid_fen += priced.stored_value_fen
        details.paid_at = exit_at
    validations = priced.validations
    if validations is None:
        validations = await uow.lots.validations_for_stay(stay.id)
    for validation, _ in validations:
        validation.applied_fen = priced.applied.get(validation.nonce, 0)
    for earlier in await uow.lots.waiting_passages(stay.id) if waiting else []:
        if earlier.status == "awaiting_payment":
            earlier.status = "cancelled"  # the car came back to a lane; the newer read counts
    await uow.lots.write_changes(stay, details)
