"""Re-deriving a berth's stays after each event and settling what changed: open, close, price,
fill plates, void flickers and take back charges that late events proved wrong."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.berth_rules import (
    BerthRules,
    DerivedStay,
    KnownStay,
    Observation,
    Role,
    derive,
    opener_ids,
    reconcile,
)
from core.billing import DayCalendar
from core.clock import Clock
from core.services.street_pricing import StreetPricer
from core.store.activity import DeviceEventRow, StayRow
from core.store.city import BerthRow
from core.store.devices import BerthObservationRow
from core.store.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

PLACED = {Role.START.value, Role.END.value, Role.PLATE.value}


@dataclass(frozen=True, slots=True)
class Effect:
    """What an event did: whether it found its place, the stay it touched and that stay's fee."""

    placed: bool
    note: str = ""
    stay_ref: str | None = None
    fee_fen: int | None = None


class BerthTimeline:
    """One berth's stays inside one unit of work; the caller holds the berth's lock."""

    def __init__(
        self,
        uow: UnitOfWork,
        clock: Clock,
        calendar: DayCalendar,
        rules: BerthRules,
        berth: BerthRow,
        *,
        closures: bool = True,
    ) -> None:
        self._uow, self._clock, self._calendar, self._rules = uow, clock, calendar, rules
        self.berth = berth
        self._closures = closures  # False when the berth is known to have no closure at all
        self.occupied = False  # whether the berth is taken, after the last rederive
        self.stays_by_start: dict[int, StayRow] = {}
        self._pricer = StreetPricer(uow, clock, calendar)

    async def add(
        self,
        event: DeviceEventRow,
        kind: str,
        plate: str | None = None,
        image_ref: str | None = None,
    ) -> Effect:
        """Put an event on the timeline, re-derive the stays around it and report its part."""
        await self._uow.session.flush()
        observation = BerthObservationRow(
            device_event_id=event.id,
            berth_id=self.berth.id,
            kind=kind,
            device_code=event.device_code,
            device_time=event.device_time,
            plate=plate,
            image_ref=image_ref,
            role=Role.WAITING.value,
        )
        self._uow.onstreet.observe(observation)
        await self._uow.session.flush()
        self.occupied = await self.rederive(event.device_time, fresh=observation)
        placed = observation.role in PLACED
        event.outcome = "applied" if placed else "review"
        event.note = observation.note
        stay = next((s for s in self.stays_by_start.values() if s.id == observation.stay_id), None)
        if stay is None or stay.status == "void":
            return Effect(placed, observation.note or "")
        fee = stay.fee_fen if observation.role == Role.END.value else None
        note = observation.note or ""
        if stay.status == "review" and not note:  # say why the stay waits for a human
            note = "stay has no plate" if stay.plate is None else "stay needs review"
        return Effect(placed, note, stay.ref, fee)

    async def rederive(self, moment: datetime, fresh: BerthObservationRow | None = None) -> bool:
        """Derive the stays from the last stay start at or before `moment` on and settle them;
        answer whether the berth is taken now."""
        repo = self._uow.onstreet
        lookback = timedelta(hours=self._rules.lookback_hours)
        observations = await repo.timeline_from(self.berth.id, moment, lookback)
        since = observations[0].device_time if observations else moment
        existing = await repo.stays_since(self.berth.id, since)
        derivation = derive(
            (Observation(o.id, o.kind, o.device_time, o.plate) for o in observations), self._rules
        )
        stored = await self._known(observations, existing)
        plan = reconcile(derivation.stays, stored)
        # Only a paid stay (held) or one waiting in review beside it can carry the flag: the
        # common re-derivation sends no statement for it.
        flagged = {k.id for k in stored if k.paid} | {
            s.id for s in existing if s.status == "review"
        }
        stays_by_id = {s.id: s for s in existing}
        by_id = {o.id: o for o in observations}
        self.stays_by_start = {}
        for placement in plan.placements:
            derived = placement.derived
            known = stays_by_id.get(placement.stay_id or 0)
            stay = known or await self._create(derived)
            self.stays_by_start[derived.start_id] = stay
            opener = by_id[derived.start_id]
            device = by_id[derived.end_id].device_code if derived.end_id else opener.device_code
            await self._settle(stay, derived, device, placement.held)
        clean = [p.stay_id for p in plan.placements if p.stay_id in flagged and not p.held]
        await self._uow.onstreet.unflag_stays(clean, "events_conflict")
        for stay_id in plan.dissolved:
            await self._void(stays_by_id[stay_id])
        for stay_id, reason in plan.held.items():
            await self._hold(stays_by_id[stay_id], reason)
        await self._pricer.reprice_later()
        await self._pricer.refund_overpaid()
        for observation in observations:
            role, start_id, note = derivation.roles[observation.id]
            placed = self.stays_by_start.get(start_id) if start_id is not None else None
            await self._record_role(observation, role, placed, note, observation is fresh)
        last = derivation.stays[-1] if derivation.stays else None
        return last is not None and last.exited_at is None

    async def _known(
        self, observations: list[BerthObservationRow], existing: list[StayRow]
    ) -> list[KnownStay]:
        """The stored stays as reconciliation sees them: opener, plate, times, paid or not."""
        openers = opener_ids({o.id: (o.role, o.stay_id) for o in observations})
        charged = [s.ref for s in existing if s.status == "closed" and s.fee_fen]
        paid = await self._uow.payments.paid_refs(charged)
        return [
            KnownStay(
                s.id,
                openers.get(s.id),
                s.plate,
                s.entered_at,
                s.exited_at,
                s.status == "void",
                s.ref in paid,
            )
            for s in existing
        ]

    async def _hold(self, stay: StayRow, reason: str) -> None:
        """A paid stay the events no longer bear out: kept as it is, flagged for a human."""
        log.warning("berth %s: stay %s held for review: %s", self.berth.code, stay.ref, reason)
        await self._uow.onstreet.flag_stay(stay, "events_conflict", reason, self._clock.now())

    async def _record_role(
        self,
        observation: BerthObservationRow,
        role: Role,
        stay: StayRow | None,
        note: str,
        fresh: bool,
    ) -> None:
        before = observation.role
        observation.role, observation.note = role.value, note or None
        observation.stay_id = stay.id if stay is not None else None
        if role is Role.START and before != Role.START.value:
            await self._count(observation.device_code, occupied=1)
        if fresh or (before in PLACED) == (role.value in PLACED):
            return
        # An older event found (or lost) its place: its stored outcome follows.
        event = await self._uow.onstreet.device_event(observation.device_event_id)
        event.outcome = "applied" if role.value in PLACED else "review"
        event.note = ("placed late: " + (note or role.value)) if role.value in PLACED else note

    async def _create(self, derived: DerivedStay) -> StayRow:
        """A new stay, already with its plate; pricing and the rest happen in _settle."""
        assert self.berth.zone_id is not None
        zone = await self._uow.city.zone(self.berth.zone_id)
        stay = StayRow(
            ref=uuid.uuid4().hex[:20],
            plate=derived.plate,
            operator_id=zone.operator_id,
            zone_id=zone.id,
            berth_id=self.berth.id,
            status="open",
            entered_at=derived.entered_at,
            exited_at=None,
        )
        self._uow.stays.add(stay)
        await self._uow.session.flush()
        closure = None
        if self._closures:
            closure = await self._uow.onstreet.closure_at(self.berth.id, derived.entered_at)
        if self.berth.closed or closure is not None:
            reason = closure.reason if closure is not None else "berth closed"
            await self._uow.onstreet.flag_stay(stay, "berth_closed", reason, self._clock.now())
        return stay

    async def _settle(
        self, stay: StayRow, derived: DerivedStay, device_code: str, held: str = ""
    ) -> None:
        moved = (stay.entered_at, stay.exited_at) != (derived.entered_at, derived.exited_at)
        plate_found = stay.plate is None and derived.plate is not None
        was_void = stay.status == "void"
        if held:
            await self._pricer.take_back(stay)
            stay.plate = stay.plate or derived.plate
            stay.entered_at, stay.exited_at = derived.entered_at, derived.exited_at
            stay.status = "review"
            await self._uow.onstreet.flag_stay(stay, "events_conflict", held, self._clock.now())
            return
        if not (moved or plate_found or was_void != derived.flicker or _released(stay, derived)):
            return
        if moved or derived.flicker:
            await self._pricer.take_back(stay)
        if plate_found:
            stay.plate = derived.plate
        stay.entered_at, stay.exited_at = derived.entered_at, derived.exited_at
        if derived.flicker:
            stay.status = "void"
            if not was_void:
                await self._count(device_code, flicker=1)
        elif derived.exited_at is None:
            stay.status = "open"
        elif stay.plate is None:
            stay.status = "review"
        elif moved or stay.status != "closed":
            await self._pricer.price(stay)

    async def _void(self, stay: StayRow) -> None:
        """A stay that late events dissolved: its charge is taken back, the row kept as void."""
        await self._pricer.take_back(stay)
        stay.status = "void"

    async def _count(self, device_code: str, *, occupied: int = 0, flicker: int = 0) -> None:
        # Saved in one statement with the event's time, before the commit (commit_once).
        self._uow.onstreet.note_device(device_code, occupied=occupied, flicker=flicker)


def _released(stay: StayRow, derived: DerivedStay) -> bool:
    """Whether a stay held for a clash with a paid stay is now clear of it and can be priced."""
    return (
        stay.status == "review"
        and stay.fee_fen is None
        and stay.plate is not None
        and derived.exited_at is not None
        and not derived.flicker
        and "needs_review" not in (stay.quote or {})
    )
