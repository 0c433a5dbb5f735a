"""Use case: many berth events in one transaction, the common case written set-based.

Events are taken in batch order. An event that takes a common-case step (core/berth_tail.py)
joins the current round; a round is written in a few statements when an event cannot join it
(same berth, or a second stay of the same plate to price) and at the end. Any other event
is applied by the full timeline (`apply_berth_event`) after the rounds before it, and so are
its berth's later events in the batch. Pricing and notices follow the same rules as the
timeline; tests/integration/test_berth_batches.py compares both ways.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.availability import OccupancyChange
from core.berth_events import BerthEvent, EventOutcome
from core.berth_rules import BerthRules, Role
from core.berth_tail import BerthTail, Step, TailStay, advance, step
from core.billing import SHANGHAI, CalendarUnknownError, DayCalendar, quote_stay
from core.clock import Clock
from core.errors import DomainError
from core.ledger import JournalEntry, stay_charged
from core.notices import STAY_OPENED
from core.services.berth_events import DEFAULT_RULES, BerthEventResult, apply_berth_event
from core.services.pricing import (
    PRIOR_WINDOW,
    parsed_tariff,
    prior_stay,
    version_in_force,
)
from core.services.street_pricing import StreetPricer
from core.store.city import TariffRow
from core.store.devices import StayFlagRow
from core.store.unit_of_work import UnitOfWork

Outcome = BerthEventResult | DomainError


@dataclass(slots=True)
class _Planned:
    index: int
    event: BerthEvent
    tail: BerthTail
    step: Step
    stay: TailStay
    fee_fen: int | None = None
    quote: dict[str, Any] | None = None
    tariff: tuple[str, int] | None = None
    missing_tariff: str | None = None


@dataclass(slots=True)
class _Round:
    planned: list[_Planned] = field(default_factory=list)
    berths: set[int] = field(default_factory=set)
    pricing_plates: set[str] = field(default_factory=set)

    def admits(self, tail: BerthTail, taken: Step, plate: str | None) -> bool:
        """Whether an event can be written with this round: one event per berth, and one
        stay per plate to price, so a plate's day is priced in batch order."""
        if tail.berth_id in self.berths:
            return False
        return not (taken is Step.CLOSE and plate is not None and plate in self.pricing_plates)

    def add(self, planned: _Planned) -> None:
        self.planned.append(planned)
        self.berths.add(planned.tail.berth_id)
        if planned.step is Step.CLOSE and planned.stay.plate is not None:
            self.pricing_plates.add(planned.stay.plate)


async def record_berth_events(
    uow: UnitOfWork,
    clock: Clock,
    calendar: DayCalendar,
    events: Sequence[BerthEvent],
    rules: BerthRules = DEFAULT_RULES,
) -> list[Outcome]:
    """Apply events in one transaction (the caller commits): one outcome each, in order; an
    event refused (an unknown berth) carries its error and changes nothing."""
    writer = _Writer(uow, clock, calendar, rules)
    tails = await uow.berth_batch.lock_tails({e.berth_code for e in events})
    stored = await uow.berth_batch.stored_keys({e.dedupe_key for e in events})
    outcomes: list[Outcome | None] = [None] * len(events)
    seen: set[str] = set()
    slow: set[str] = set()
    current = _Round()
    now = clock.now()
    for index, event in enumerate(events):
        if event.dedupe_key in stored or event.dedupe_key in seen:
            outcomes[index] = BerthEventResult(EventOutcome.DUPLICATE)
            continue
        seen.add(event.dedupe_key)
        tail = tails.get(event.berth_code)
        taken = None
        if tail is not None and event.berth_code not in slow:
            taken = step(tail, event, now, rules)
        if tail is None or taken is None:
            await writer.write(current, outcomes)
            current = _Round()
            slow.add(event.berth_code)
            outcomes[index] = await _apply_fully(uow, clock, calendar, event, rules)
            continue
        stay = _new_stay(event) if taken is Step.OPEN else tail.stay
        assert stay is not None
        if not current.admits(tail, taken, stay.plate):
            await writer.write(current, outcomes)
            current = _Round()
        current.add(_Planned(index, event, tail, taken, stay))
        advance(tail, event, taken, stay)
    await writer.write(current, outcomes)
    await uow.onstreet.write_device_news()
    return [outcome for outcome in outcomes if outcome is not None]


async def _apply_fully(
    uow: UnitOfWork, clock: Clock, calendar: DayCalendar, event: BerthEvent, rules: BerthRules
) -> Outcome:
    try:
        return await apply_berth_event(uow, clock, calendar, event, rules)
    except DomainError as exc:  # refused before anything was written, e.g. an unknown berth
        return exc


def _new_stay(event: BerthEvent) -> TailStay:
    plate = event.plate.number if event.plate else None
    return TailStay(uuid.uuid4().hex[:20], plate, event.device_time, "open", None)


class _Writer:
    """Writes one round: events, stays, timeline, prices, ledger, notices, states, health."""

    def __init__(
        self, uow: UnitOfWork, clock: Clock, calendar: DayCalendar, rules: BerthRules
    ) -> None:
        self._uow, self._clock, self._calendar, self._rules = uow, clock, calendar, rules
        self._tariffs: dict[str, list[TariffRow]] = {}
        self._pricer = StreetPricer(uow, clock, calendar)

    async def write(self, current: _Round, outcomes: list[Outcome | None]) -> None:
        """Write a round and set the outcome of each of its events."""
        if not current.planned:
            return
        repo, now = self._uow.berth_batch, self._clock.now()
        await self._uow.session.flush()  # what the full timeline left pending goes first
        event_ids = await repo.insert_events([_event_row(p.event, now) for p in current.planned])
        if len(event_ids) != len(current.planned):
            raise RuntimeError("a batch event was stored concurrently despite the berth lock")
        opened = [p for p in current.planned if p.step is Step.OPEN]
        if opened:
            stay_ids = await repo.insert_stays([_stay_row(p) for p in opened])
            for p in opened:
                p.stay.id = stay_ids[p.stay.ref]
        closed = [p for p in current.planned if p.step is Step.CLOSE]
        entries = await self._close(closed) if closed else []
        await repo.insert_observations(
            [_observation_row(p, event_ids[p.event.dedupe_key]) for p in current.planned]
        )
        await repo.post(entries, now)
        await self._notify(current.planned, now)
        versions = await repo.set_occupancy(
            ((p.tail.berth_id, p.step is Step.OPEN) for p in current.planned), now
        )
        await repo.add_device_news(_device_news(current.planned))
        for p in current.planned:
            outcomes[p.index] = _outcome(p, versions.get(p.tail.berth_id))
        # A stay that closed in order on its berth may still precede the plate's later stays.
        await self._pricer.reprice_later()
        await self._pricer.refund_overpaid()

    async def _close(self, closed: list[_Planned]) -> list[JournalEntry]:
        """Price the stays that end; their ledger entries."""
        plates = {p.stay.plate for p in closed if p.stay.plate is not None}
        since = min(p.stay.entered_at for p in closed) - PRIOR_WINDOW
        # Up to a day past the last entry: the plate's later stays, to be re-priced after this.
        until = max(p.stay.entered_at for p in closed) + PRIOR_WINDOW
        earlier = await self._uow.berth_batch.closed_stays_of(plates, since, until)
        await self._load_tariffs({p.tail.tariff_code for p in closed if p.tail.tariff_code})
        entries = []
        for p in closed:
            known = earlier.get(p.stay.plate or "", [])
            self._price(p, known)
            if p.stay.status == "closed" and any(row[2] > p.stay.entered_at for row in known):
                assert p.stay.plate is not None
                self._pricer.touch(p.stay.plate, p.stay.entered_at)
            if p.stay.status == "closed" and p.fee_fen:
                assert p.stay.plate is not None and p.tail.operator_code is not None
                entries.append(
                    stay_charged(p.stay.ref, p.stay.plate, p.tail.operator_code, p.fee_fen)
                )
        await self._uow.berth_batch.close_stays([_closing_row(p) for p in closed])
        for p in closed:
            if p.missing_tariff is not None:
                flag = StayFlagRow(
                    stay_id=p.stay.id,
                    flag="tariff_missing",
                    note=p.missing_tariff,
                    created_at=self._clock.now(),
                )
                self._uow.session.add(flag)
        return entries

    def _price(self, p: _Planned, earlier: list[tuple[Any, ...]]) -> None:
        """Price a stay as the timeline's `_price` does; review when the rules say so."""
        stay, exited_at = p.stay, p.event.device_time
        if stay.plate is None:
            stay.status = "review"
            return
        since = stay.entered_at - PRIOR_WINDOW
        prior = tuple(
            prior_stay(entered, exited, fee, quote, street)
            for stay_id, zone_class, entered, exited, fee, quote, street in earlier
            if zone_class == p.tail.zone_class
            and stay_id != stay.id
            and exited >= since
            and entered <= stay.entered_at
        )
        assert p.tail.tariff_code is not None
        row = version_in_force(self._tariffs.get(p.tail.tariff_code, []), stay.entered_at)
        if row is None:  # held for a human like the timeline does; the batch goes on
            stay.status = "review"
            p.missing_tariff = f"no version of {p.tail.tariff_code} at {stay.entered_at}"
            return
        try:
            quote = quote_stay(
                parsed_tariff(row),
                stay.entered_at,
                exited_at,
                vehicle_class=stay.vehicle_class,
                calendar=self._calendar,
                prior=prior,
                location=p.tail.street,
            )
        except CalendarUnknownError:
            stay.status = "review"
            return
        p.tariff, p.quote = (row.code, row.version), quote.to_dict()
        if quote.needs_review:
            stay.status = "review"
            return
        stay.status, p.fee_fen = "closed", quote.total_fen

    async def _load_tariffs(self, codes: set[str]) -> None:
        missing = codes - self._tariffs.keys()
        if missing:
            for row in await self._uow.berth_batch.tariff_versions(missing):
                self._tariffs.setdefault(row.code, []).append(row)

    async def _notify(self, planned: list[_Planned], now: datetime) -> None:
        """Entry notices of opened stays and fee notices of priced ones, to verified binders."""
        told = [
            p
            for p in planned
            if p.stay.plate is not None and (p.step is Step.OPEN or p.stay.status == "closed")
        ]
        if not told:
            return
        plates = {p.stay.plate for p in told if p.stay.plate is not None}
        drivers = await self._uow.berth_batch.verified_drivers(plates)
        rows = [
            {
                "driver_id": driver_id,
                "kind": STAY_OPENED if p.step is Step.OPEN else "stay_fee",
                "reference": p.stay.ref,
                "body": _notice_body(p),
                "created_at": now,
                "sent_at": None,
            }
            for p in told
            for driver_id in drivers.get(p.stay.plate or "", [])
        ]
        await self._uow.berth_batch.queue_notifications(rows)


def _event_row(event: BerthEvent, now: datetime) -> dict[str, Any]:
    return {
        "dedupe_key": event.dedupe_key,
        "vendor": event.vendor,
        "device_code": event.device_code,
        "kind": f"berth_{event.state.value}",
        "device_time": event.device_time,
        "received_at": now,
        "payload": event.payload,
        "outcome": "applied",
        "note": None,
    }


def _stay_row(p: _Planned) -> dict[str, Any]:
    assert p.tail.operator_id is not None
    return {
        "ref": p.stay.ref,
        "plate": p.stay.plate,
        "operator_id": p.tail.operator_id,
        "zone_id": p.tail.zone_id,
        "lot_id": None,
        "berth_id": p.tail.berth_id,
        "vehicle_class": p.stay.vehicle_class,
        "status": "open",
        "entered_at": p.stay.entered_at,
        "exited_at": None,
        "fee_fen": None,
        "tariff_code": None,
        "tariff_version": None,
        "quote": None,
    }


def _closing_row(p: _Planned) -> dict[str, Any]:
    code, version = p.tariff if p.tariff is not None else (None, None)
    return {
        "stay_id": p.stay.id,
        "exited_at": p.event.device_time,
        "status": p.stay.status,
        "fee_fen": p.fee_fen,
        "quote": p.quote,
        "tariff_code": code,
        "tariff_version": version,
    }


def _observation_row(p: _Planned, event_id: int) -> dict[str, Any]:
    event = p.event
    return {
        "device_event_id": event_id,
        "berth_id": p.tail.berth_id,
        "kind": event.state.value,
        "device_code": event.device_code,
        "device_time": event.device_time,
        "plate": event.plate.number if event.plate else None,
        "image_ref": event.image_ref,
        "role": (Role.START if p.step is Step.OPEN else Role.END).value,
        "stay_id": p.stay.id,
        "note": None,
    }


def _notice_body(p: _Planned) -> dict[str, Any]:
    stay = p.stay
    if p.step is Step.OPEN:
        return {
            "stay_ref": stay.ref,
            "plate": stay.plate,
            "place": p.tail.code,
            "entered_at": stay.entered_at.isoformat(),
            "entered_at_local": stay.entered_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
        }
    assert stay.exited_at is not None
    return {
        "stay_ref": stay.ref,
        "plate": stay.plate,
        "berth": p.tail.code,
        "entered_at": stay.entered_at.astimezone(
            UTC
        ).isoformat(),  # as read back, like the timeline
        "exited_at": stay.exited_at.isoformat(),
        "fee_fen": p.fee_fen,
    }


def _device_news(planned: list[_Planned]) -> dict[str, tuple[int, datetime]]:
    news: dict[str, tuple[int, datetime]] = {}
    for p in planned:
        occupied, at = news.get(p.event.device_code, (0, p.event.device_time))
        news[p.event.device_code] = (
            occupied + (p.step is Step.OPEN),
            max(at, p.event.device_time),
        )
    return news


def _outcome(p: _Planned, version: int | None) -> BerthEventResult:
    change = None
    if version is not None:
        change = OccupancyChange(p.tail.code, p.step is Step.OPEN, version)
    if p.step is Step.OPEN:
        return BerthEventResult(EventOutcome.APPLIED, p.stay.ref, change=change)
    note = None
    if p.stay.status == "review":
        note = "stay has no plate" if p.stay.plate is None else "stay needs review"
    return BerthEventResult(EventOutcome.APPLIED, p.stay.ref, p.fee_fen, note, change)
