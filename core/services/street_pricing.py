"""Pricing on-street stays as their berth's events settle them: the charge, its take-back when
late events change a stay, refunds of what was paid beyond a lower fee, and the plate's later
stays of the day, whose free period and cap follow entry order, not arrival order."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.billing import CalendarUnknownError, DayCalendar
from core.clock import Clock
from core.ledger import stay_charge_reversed, stay_charged
from core.services.pricing import PRIOR_WINDOW, TariffMissingError, price_street_stay
from core.services.refunds import refund_overpayment
from core.services.stay_adjustments import adjusted_fen, kept_adjustments
from core.store.activity import StayRow
from core.store.devices import NotificationRow
from core.store.unit_of_work import UnitOfWork

_DAY = timedelta(days=1)  # how far past the horizon one query looks, so a chain rarely re-asks


class StreetPricer:
    """Prices, takes back and re-prices on-street stays inside one unit of work."""

    def __init__(self, uow: UnitOfWork, clock: Clock, calendar: DayCalendar) -> None:
        self._uow, self._clock, self._calendar = uow, clock, calendar
        self._taken_back: list[StayRow] = []  # priced stays that late events changed
        self._repriced: dict[str, datetime] = {}  # plate -> earliest entry whose price moved

    async def refund_overpaid(self) -> None:
        """A once-priced stay that ended lower or void gets back what was paid beyond its fee.

        One reopened or sent to review keeps its payment until it is priced or voided again,
        in this unit or a later one (its quote keeps the `taken_back` mark until then).
        """
        taken_back, self._taken_back = self._taken_back, []
        for stay in {id(s): s for s in taken_back}.values():
            if stay.status in ("closed", "void"):
                fee = stay.fee_fen or 0 if stay.status == "closed" else 0
                await refund_overpayment(self._uow, self._clock, stay.ref, fee)

    async def reprice_later(self) -> None:
        """Re-price a plate's later stays of the day (any berth) after one of its stays changed:
        a day's free period and cap follow entry order, not the order events arrived in."""
        touched, self._repriced = self._repriced, {}
        for plate, since in touched.items():
            until = since + PRIOR_WINDOW
            await self._uow.session.flush()
            for stay in await self._uow.stays.later_street_stays(plate, since, until + _DAY):
                if stay.entered_at > until:
                    break
                if await self._reprice(stay):
                    until = max(until, stay.entered_at + PRIOR_WINDOW)
            self._repriced.pop(plate, None)

    async def _reprice(self, stay: StayRow) -> bool:
        """Price a closed stay again with the plate's day as it is now; whether its fee moved."""
        assert stay.exited_at is not None
        await self._uow.session.flush()  # the plate's earlier stays are read back
        try:
            priced = await price_street_stay(self._uow, stay, stay.exited_at, self._calendar)
        except (CalendarUnknownError, TariffMissingError):
            return False
        fee = max(priced.quote.total_fen - adjusted_fen(kept_adjustments(stay.quote)), 0)
        if priced.quote.needs_review or fee == stay.fee_fen:
            return False
        await self.take_back(stay)
        await self.price(stay)
        return True

    async def take_back(self, stay: StayRow) -> None:
        if stay.plate is not None and stay.status == "closed":
            self.touch(stay.plate, stay.entered_at)
        kept = kept_adjustments(stay.quote)
        if stay.status == "closed" and stay.fee_fen and stay.plate is not None:
            kept["taken_back"] = True
            operator = await self._uow.city.operator(stay.operator_id)
            entry = stay_charge_reversed(stay.ref, stay.plate, operator.code, stay.fee_fen)
            await self._uow.ledger.post(entry, self._clock.now())
        if kept.get("taken_back"):
            self._taken_back.append(stay)
        stay.fee_fen, stay.tariff_code, stay.tariff_version = None, None, None
        stay.quote = kept or None

    async def price(self, stay: StayRow) -> None:
        assert stay.exited_at is not None and stay.plate is not None
        await self._uow.session.flush()  # the plate's earlier stays are read by id
        try:
            priced = await price_street_stay(self._uow, stay, stay.exited_at, self._calendar)
        except CalendarUnknownError:
            stay.status = "review"
            return
        except TariffMissingError as exc:  # held for a human; the berth goes on taking events
            stay.status = "review"
            await self._uow.onstreet.flag_stay(
                stay, "tariff_missing", exc.detail, self._clock.now()
            )
            return
        kept = kept_adjustments(stay.quote)
        stay.tariff_code, stay.tariff_version = priced.tariff_code, priced.tariff_version
        stay.quote = {**priced.quote.to_dict(), **kept}
        if priced.quote.needs_review:
            stay.status = "review"
            return
        stay.status = "closed"
        self.touch(stay.plate, stay.entered_at)
        # Waivers and refund corrections made on an earlier price still hold on this one.
        stay.fee_fen = max(priced.quote.total_fen - adjusted_fen(kept), 0)
        if kept.get("taken_back"):
            self._taken_back.append(stay)
        now = self._clock.now()
        if stay.fee_fen > 0:
            operator = await self._uow.city.operator(stay.operator_id)
            entry = stay_charged(stay.ref, stay.plate, operator.code, stay.fee_fen)
            await self._uow.ledger.post(entry, now)
        await self._tell_drivers(stay, now)

    def touch(self, plate: str, entered_at: datetime) -> None:
        since = self._repriced.get(plate)
        self._repriced[plate] = entered_at if since is None else min(since, entered_at)

    async def _tell_drivers(self, stay: StayRow, now: datetime) -> None:
        assert stay.plate is not None and stay.exited_at is not None
        assert stay.berth_id is not None
        berth = await self._uow.city.berth(stay.berth_id)
        body = {
            "stay_ref": stay.ref,
            "plate": stay.plate,
            "berth": berth.code,
            "entered_at": stay.entered_at.isoformat(),
            "exited_at": stay.exited_at.isoformat(),
            "fee_fen": stay.fee_fen,
        }
        # Only verified bindings: a fee notice says where and when the car was (PRODUCT.md).
        for driver_id in await self._uow.vehicles.verified_drivers(stay.plate):
            await self._uow.onstreet.queue_notification(
                NotificationRow(
                    driver_id=driver_id,
                    kind="stay_fee",
                    reference=stay.ref,
                    body=body,
                    created_at=now,
                )
            )
