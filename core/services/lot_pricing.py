"""Pricing a lot stay at exit: tariff at entry, passes and shared spaces, payments, validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.billing import (
    SHANGHAI,
    CoveredInterval,
    DailyWindow,
    DayCalendar,
    MonthlyPass,
    PricedStay,
    Quote,
    RightKind,
    SpecialPass,
    assign_shared_cover,
    clip_cover,
    parse_tariff,
    pass_cover,
    quote_lost_ticket,
    quote_stay,
    settle_stored_value,
)
from core.lanes import Access
from core.services.pricing import PRIOR_WINDOW, TariffMissingError, parsed_tariff, prior_stay
from core.store.activity import StayRow
from core.store.city import TariffRow
from core.store.lane_read_repository import StayHints, TariffVersion
from core.store.lane_values import LotFacts
from core.store.lots import LotRightRow, LotStayRow, MerchantRow, MerchantValidationRow
from core.store.unit_of_work import UnitOfWork

COVER_KINDS = frozenset({"monthly", "special", "owned_space", "rented_space"})


@dataclass(frozen=True, slots=True)
class LotQuote:
    """What a lot stay costs at exit and how much of it is still due."""

    quote: Quote
    tariff_version: int
    charged_fen: int  # what the stay costs, after merchant validation
    due_fen: int  # still to pay now, after earlier payments and stored value
    settled_by: str  # why nothing (or less) is due: free, grace, pass, stored_value, validation
    stored_value_fen: int = 0
    card: LotRightRow | None = None
    validation_fen: int = 0
    adjustments: list[dict[str, Any]] = field(default_factory=list)
    applied: dict[str, int] = field(default_factory=dict)  # validation nonce -> fen it saved
    validations: list[tuple[MerchantValidationRow, MerchantRow]] | None = None  # as priced

    def as_dict(self) -> dict[str, Any]:
        """The breakdown kept on the stay and shown to drivers."""
        body = self.quote.to_dict()
        body["adjustments"] = self.adjustments
        body["charged_fen"] = self.charged_fen
        body["due_fen"] = self.due_fen
        return body


async def price_lot_stay(
    uow: UnitOfWork,
    calendar: DayCalendar,
    lot: LotFacts,
    stay: StayRow,
    details: LotStayRow,
    exit_at: datetime,
    *,
    lost_ticket: bool = False,
    hints: StayHints | None = None,
) -> LotQuote:
    """Price a stay up to an exit time with the tariff version in force at its entry."""
    row: TariffRow | TariffVersion | None
    if hints is not None and hints.tariff is not None:
        row = await uow.lane_reads.tariff(hints.tariff)  # found with the stay, kept by id
    else:
        row = await uow.tariffs.version_at(lot.tariff_code, stay.entered_at)
    if row is None:
        raise TariffMissingError(detail=f"no version of {lot.tariff_code} at {stay.entered_at}")
    tariff = parsed_tariff(row)
    exit_at = max(exit_at, stay.entered_at)
    rights: list[LotRightRow] = []
    if stay.plate is not None and (hints is None or hints.rights):  # passes and the card
        rights = await uow.lane_reads.plate_rights(lot.id, stay.plate, stay.entered_at, exit_at)
    cover = await _cover(uow, lot, stay, exit_at, rights)
    prior: tuple[PricedStay, ...] = ()
    if stay.plate is not None and (hints is None or hints.earlier):  # the plate's day here
        earlier = await uow.stays.closed_in_lot(
            stay.plate, lot.id, stay.entered_at - PRIOR_WINDOW, stay.entered_at, stay.id
        )
        prior = tuple(_as_priced(row) for row in earlier)
    validations = []
    if hints is None or hints.validations:
        validations = await uow.lots.validations_for_stay(stay.id)
    adjustments: list[dict[str, Any]] = []
    for validation, merchant in validations:
        if validation.kind == "minutes" and validation.value > 0:
            end = min(stay.entered_at + timedelta(minutes=validation.value), exit_at)
            if end > stay.entered_at:
                label = f"{merchant.name}验证"
                cover.append(
                    CoveredInterval(
                        stay.entered_at,
                        end,
                        f"validation:{validation.nonce}",
                        RightKind.SPECIAL,
                        label,
                    )
                )
    quote = quote_stay(
        tariff,
        stay.entered_at,
        exit_at,
        vehicle_class=stay.vehicle_class,
        calendar=calendar,
        cover=cover,
        prior=prior,
        paid_fen=details.paid_fen,
        paid_at=details.paid_at,
        lost_ticket=lost_ticket,
    )
    applied: dict[str, int] = {}
    minute_ids = [c.right_id for c in cover if c.right_id.startswith("validation:")]
    if minute_ids:
        # What the free minutes saved: the same stay priced without them.
        plain = [c for c in cover if not c.right_id.startswith("validation:")]
        without = quote_stay(
            tariff,
            stay.entered_at,
            exit_at,
            vehicle_class=stay.vehicle_class,
            calendar=calendar,
            cover=plain,
            prior=prior,
            paid_fen=details.paid_fen,
            paid_at=details.paid_at,
            lost_ticket=lost_ticket,
        )
        applied[minute_ids[0].removeprefix("validation:")] = without.total_fen - quote.total_fen
    due = quote.total_fen
    discount = 0
    for validation, merchant in validations:
        if validation.kind == "amount" and due > 0:
            cut = min(validation.value, due)
            due -= cut
            discount += cut
            applied[validation.nonce] = cut
            adjustments.append({"label": f"{merchant.name}验证", "amount_fen": -cut})
    settled_by = _settled_by(quote, cover, discount)
    card = None
    spent = 0
    if due > 0 and stay.plate is not None:
        card = _card(rights, exit_at)
        if card is not None and card.balance_fen > 0:
            spent = settle_stored_value(due, card.balance_fen).card_fen
            due -= spent
            adjustments.append({"label": "储值卡支付", "amount_fen": -spent})
            settled_by = "stored_value" if due == 0 else settled_by
    charged = details.paid_fen + quote.total_fen - discount
    return LotQuote(
        quote,
        row.version,
        max(charged, 0),
        due,
        settled_by,
        spent,
        card,
        discount,
        adjustments,
        applied,
        validations,
    )


def price_without_entry(
    tariff_body: dict[str, Any], exit_at: datetime, vehicle_class: str
) -> Quote:
    """An exit whose entry nobody can establish: the tariff's lost-ticket rule (docs/lanes.md)."""
    return quote_lost_ticket(parse_tariff(tariff_body), exit_at, vehicle_class=vehicle_class)


def _settled_by(quote: Quote, cover: list[CoveredInterval], discount: int) -> str:
    kinds = {line.kind.value for line in quote.lines}
    if "grace" in kinds:
        return "grace"
    if discount or any(line.rule.startswith("validation:") for line in quote.lines):
        return "validation"
    if "covered" in kinds:
        return "pass"
    if "paid" in kinds:
        return "paid"
    return "free"


def _card(rights: list[LotRightRow], at: datetime) -> LotRightRow | None:
    """The newest stored-value card of the plate valid at a moment."""
    for right in reversed(rights):
        if right.kind == Access.STORED_VALUE.value and right.valid_from <= at < right.valid_until:
            return right
    return None


async def _cover(
    uow: UnitOfWork, lot: LotFacts, stay: StayRow, exit_at: datetime, rights: list[LotRightRow]
) -> list[CoveredInterval]:
    """Time the plate's passes and spaces cover, limited to the spaces they share (一位多车)."""
    if stay.plate is None:
        return []
    cover: list[CoveredInterval] = []
    for right in rights:  # by id, as `rights_overlapping` gives them
        if right.kind not in COVER_KINDS or right.valid_from >= exit_at:
            continue
        plates = await uow.lots.right_plates(right.id)
        found = pass_cover(_as_pass(right, plates), stay.entered_at, exit_at)
        if found and right.spaces < len(plates):
            held = await _held(uow, lot, right, plates, stay, exit_at)
            found = clip_cover(found, held)
        cover.extend(found)
    return cover


async def _held(
    uow: UnitOfWork,
    lot: LotFacts,
    right: LotRightRow,
    plates: list[str],
    stay: StayRow,
    exit_at: datetime,
) -> tuple[tuple[datetime, datetime], ...]:
    """When this stay held one of the right's shared spaces: first come, first served."""
    since = stay.entered_at - timedelta(days=31)
    insides: dict[str, list[tuple[datetime, datetime]]] = {plate: [] for plate in plates}
    for other in await uow.lots.stays_of_plates(lot.id, plates, since, exit_at):
        end = exit_at if other.id == stay.id else (other.exited_at or exit_at)
        if other.plate is not None and end > other.entered_at:
            insides[other.plate].append((other.entered_at, end))
    held = assign_shared_cover(right.spaces, _disjoint(insides), cover_moves=False)
    assert stay.plate is not None
    return held.get(stay.plate, ())


def _disjoint(
    insides: dict[str, list[tuple[datetime, datetime]]],
) -> dict[str, list[tuple[datetime, datetime]]]:
    """Drop overlapping stays of one plate (a missed exit) so the engine gets clean intervals."""
    clean: dict[str, list[tuple[datetime, datetime]]] = {}
    for plate, spans in insides.items():
        kept: list[tuple[datetime, datetime]] = []
        for start, end in sorted(spans):
            if kept and start < kept[-1][1]:
                continue
            kept.append((start, end))
        clean[plate] = kept
    return clean


def _as_pass(right: LotRightRow, plates: list[str]) -> MonthlyPass | SpecialPass:
    """A stored right as the billing engine's pass."""
    if right.kind == "special":
        return SpecialPass(right.ref, right.valid_from, right.valid_until, plates=frozenset(plates))
    windows = tuple(DailyWindow.parse(w) for w in (right.windows or "").split(",") if w.strip())
    last = (right.valid_until - timedelta(microseconds=1)).astimezone(SHANGHAI).date()
    return MonthlyPass(
        right.ref,
        right.valid_from.astimezone(SHANGHAI).date(),
        last,
        windows=windows,
        plates=frozenset(plates),
        spaces=right.spaces,
        label={"owned_space": "业主车位", "rented_space": "租用车位"}.get(right.kind, "月租"),
    )


def _as_priced(row: StayRow) -> PricedStay:
    """An earlier closed stay in the lot, as the engine needs it (a lot has one location)."""
    assert row.exited_at is not None
    return prior_stay(row.entered_at, row.exited_at, row.fee_fen, row.quote, None)
