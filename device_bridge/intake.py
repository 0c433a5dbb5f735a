"""Device events in, live counts out: shared by the HTTP and MQTT transports.

A plate read, heartbeat or fault is one transaction. Single berth events go through the
worker's collector (device_bridge/berth_groups.py): concurrent ones share a transaction.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.helpers import ChainMapProxy
from pydantic import BaseModel, Field

from config.settings import Settings
from core.availability import AvailabilityStore, OccupancyChange
from core.berth_events import BerthEvent, EventOutcome
from core.berth_rules import BerthRules
from core.billing import DayCalendar
from core.clock import Clock
from core.device_events import DeviceEvent, DeviceFault, Heartbeat, PlateRead
from core.errors import DomainError
from core.event_groups import GroupLimits
from core.lane_events import LaneRead
from core.lanes import LaneAction, LaneCommandPublisher
from core.services import lanes
from core.services.berth_batch import Outcome, record_berth_events
from core.services.berth_events import BerthEventResult, record_berth_event
from core.services.device_events import record_fault, record_heartbeat, record_plate_read
from core.store.database import Database
from core.store.unit_of_work import StoreConflictError, UnitOfWork
from device_bridge.berth_groups import BerthEventCollector
from server.availability import AVAILABILITY_KEY
from server.lane_publishing import LANE_PUBLISHER_KEY, publish_commands
from server.metrics import observe_device_event, observe_lane_decision, observe_refused_event
from server.resources import CALENDAR_KEY, CLOCK_KEY, DATABASE_KEY, SETTINGS_KEY
from server.wechat import after_lane_decision

log = logging.getLogger(__name__)

COLLECTOR_KEY: web.AppKey[BerthEventCollector] = web.AppKey("berth_event_collector")
INTAKE_KEY: web.AppKey[Intake] = web.AppKey("intake")


class EventAck(BaseModel):
    """What the centre did with an event; a duplicate is acknowledged, not re-applied."""

    outcome: str
    stay_ref: str | None = None
    fee_fen: int | None = None


class PlateReadAck(BaseModel):
    """What the centre did with a plate read: the stay it named, the violation it raised."""

    outcome: str
    stay_ref: str | None = None
    violation_ref: str | None = None


class BatchItemAck(BaseModel):
    """What became of one event of a batch; a refused one carries the error's code."""

    outcome: str = Field(description="applied, duplicate, review or refused")
    stay_ref: str | None = None
    fee_fen: int | None = None
    code: str | None = None
    message: str | None = None


class BatchAck(BaseModel):
    """One acknowledgement per event of a batch, in the batch's order."""

    results: list[BatchItemAck]


Ack = EventAck | PlateReadAck


def berth_rules(settings: Settings) -> BerthRules:
    """The berth event tolerances configured in settings."""
    return BerthRules(
        flicker_seconds=settings.sensor_flicker_seconds,
        max_clock_ahead_seconds=settings.device_clock_skew_seconds,
        plate_match_seconds=settings.plate_match_seconds,
        plate_wait_minutes=settings.plate_wait_minutes,
    )


@dataclass(frozen=True, slots=True)
class Intake:
    """Everything needed to take in device events, built once from the root application."""

    database: Database
    clock: Clock
    calendar: DayCalendar
    rules: BerthRules
    availability: AvailabilityStore | None
    image_dir: Path
    lane_publisher: LaneCommandPublisher | None = None
    # The application (or a request's config_dict): WeChat Pay's services are read from it when
    # a decision needs them, since they are set up after the MQTT consumer starts.
    config: Mapping[Any, Any] | None = field(default=None, compare=False)
    collector: BerthEventCollector | None = None  # single berth events go through it if set

    @classmethod
    def of(cls, app: web.Application | ChainMapProxy) -> Intake:
        """The intake of a running root application, or of a request's config_dict."""
        built = app.get(INTAKE_KEY)
        if built is not None:  # the app's own, built once its resources were (every request)
            return built
        settings = app[SETTINGS_KEY]
        return cls(
            database=app[DATABASE_KEY],
            clock=app[CLOCK_KEY],
            calendar=app[CALENDAR_KEY],
            rules=berth_rules(settings),
            availability=app.get(AVAILABILITY_KEY),
            image_dir=Path(settings.image_dir),
            lane_publisher=app.get(LANE_PUBLISHER_KEY),
            config=app,
            collector=app.get(COLLECTOR_KEY),
        )

    async def take(self, event: DeviceEvent | LaneRead) -> Ack:
        """Apply one event in its own transaction, then publish what it changed."""
        if isinstance(event, LaneRead):
            return await self._take_lane_read(event)
        kind = event_kind(event)
        try:
            ack = await self._take_device_event(event)
        except DomainError as exc:
            observe_refused_event(kind, exc.code)
            raise
        observe_device_event(kind, ack.outcome)
        return ack

    async def _take_device_event(self, event: DeviceEvent) -> Ack:
        if isinstance(event, BerthEvent):
            if self.collector is not None:
                result = await self.collector.submit(event)
            else:
                (result,) = await self.take_berth_events([event])
            if isinstance(result, DomainError):
                raise result
            return berth_ack(result)
        async with UnitOfWork(self.database.sessions) as uow:
            if isinstance(event, PlateRead):
                read = await record_plate_read(uow, self.clock, self.calendar, event, self.rules)
                await self._publish(read.change)
                return PlateReadAck(
                    outcome=read.outcome.value,
                    stay_ref=read.stay_ref,
                    violation_ref=read.violation_ref,
                )
            if isinstance(event, Heartbeat):
                outcome = await record_heartbeat(uow, self.clock, event, self.rules)
            else:
                assert isinstance(event, DeviceFault)
                outcome = await record_fault(uow, self.clock, event)
            return EventAck(outcome=outcome.value)

    async def take_berth_events(self, events: Sequence[BerthEvent]) -> list[Outcome]:
        """Apply berth events in one transaction, then publish what they changed."""
        try:
            async with UnitOfWork(self.database.sessions) as uow:
                outcomes = await record_berth_events(
                    uow, self.clock, self.calendar, events, self.rules
                )
                await uow.commit()
        except StoreConflictError:
            # Another worker stored one of them first: each again, in its own transaction.
            outcomes = [await self._take_alone(event) for event in events]
        for outcome in outcomes:
            if not isinstance(outcome, DomainError):
                await self._publish(outcome.change)
        resent = {
            e.berth_code
            for e, o in zip(events, outcomes, strict=True)
            if not isinstance(o, DomainError) and o.outcome is EventOutcome.DUPLICATE
        }
        if resent and self.availability is not None:
            await self._republish(sorted(resent))
        return outcomes

    async def _republish(self, codes: list[str]) -> None:
        """A resend may follow a commit whose answer was lost (and its live update with it):
        publish the berths' stored state again; versions keep a newer one in place."""
        try:
            async with UnitOfWork(self.database.sessions, read_only=True) as uow:
                states = await uow.device_ops.occupancy_of(codes)
        except Exception:  # live counts never fail an event; the refresh repairs them
            log.exception("could not read berths %s to republish them", codes)
            return
        for code, occupied, version in states:
            await self._publish(OccupancyChange(code, occupied, version))

    async def take_batch(self, items: Sequence[BerthEvent | DomainError]) -> BatchAck:
        """Apply the events of a batch together; items refused while parsing stay refused."""
        events = [item for item in items if isinstance(item, BerthEvent)]
        outcomes = iter(await self.take_berth_events(events) if events else [])
        results = []
        for item in items:
            outcome = next(outcomes) if isinstance(item, BerthEvent) else item
            results.append(_item_ack(outcome))
        for result in results:
            if result.code is not None:
                observe_refused_event("berth", result.code)
            else:
                observe_device_event("berth", result.outcome)
        return BatchAck(results=results)

    async def _take_alone(self, event: BerthEvent) -> Outcome:
        try:
            async with UnitOfWork(self.database.sessions) as uow:
                return await record_berth_event(uow, self.clock, self.calendar, event, self.rules)
        except DomainError as exc:
            return exc

    async def _take_lane_read(self, read: LaneRead) -> EventAck:
        """A camera's plate read that came without an HTTP request to answer."""
        uow = UnitOfWork(self.database.sessions)
        outcome = await decide_lane(uow, self.clock, self.calendar, read, "mqtt")
        await self.after_decision(outcome)
        return EventAck(outcome=outcome.outcome, stay_ref=outcome.stay_ref, fee_fen=outcome.fee_fen)

    async def after_decision(self, outcome: lanes.LaneOutcome) -> None:
        """What follows a committed lane decision on every transport: publish its commands,
        then tell WeChat Pay's parking service (无感支付) of the entry, or ask the exit's
        deduction, off the lane's path. A resend (duplicate) did it already."""
        if outcome.outcome != "applied":
            return
        await publish_commands(self.lane_publisher, outcome.commands)
        action = outcome.decision.action if outcome.decision else None
        if (
            outcome.stay_ref
            and action in (LaneAction.OPEN, LaneAction.PAY)
            and self.config is not None
        ):
            exiting = action is LaneAction.PAY
            after_lane_decision(self.config, outcome.stay_ref, exiting=exiting)

    async def keep_images(self, images: dict[str, bytes]) -> None:
        """Write pushed images under their content hash before the events that name them."""
        if images:
            await asyncio.to_thread(_write_images, self.image_dir, images)

    async def _publish(self, change: OccupancyChange | None) -> None:
        if change is None or self.availability is None:
            return
        try:
            await self.availability.apply(change)
        except Exception:  # live counts must never undo a committed event; refresh repairs them
            log.exception("could not publish berth %s occupancy", change.code)


async def berth_groups_ctx(app: web.Application) -> AsyncIterator[None]:
    """The worker's collector of single berth events; on shutdown it applies what waits."""
    settings = app[SETTINGS_KEY]
    limits = GroupLimits(settings.sensor_group_max_events, settings.sensor_group_max_waiting)
    collector = BerthEventCollector(Intake.of(app).take_berth_events, limits)
    collector.start()
    app[COLLECTOR_KEY] = collector
    app[INTAKE_KEY] = Intake.of(app)  # the resources it names are all up by now
    yield
    await collector.close()


_KINDS: dict[type, str] = {
    BerthEvent: "berth",
    PlateRead: "plate_read",
    Heartbeat: "heartbeat",
    DeviceFault: "fault",
    LaneRead: "lane_read",
}


def event_kind(event: DeviceEvent | LaneRead) -> str:
    """The metrics label of an event's kind."""
    return _KINDS.get(type(event), "other")


async def decide_lane(
    uow: UnitOfWork, clock: Clock, calendar: DayCalendar, read: LaneRead, transport: str
) -> lanes.LaneOutcome:
    """Decide a lane read in its own unit of work, timed and counted for /metrics."""
    began = time.perf_counter()
    try:
        async with uow:
            outcome = await lanes.on_lane_read(uow, clock, calendar, read)
    except DomainError as exc:
        observe_refused_event("lane_read", exc.code)
        raise
    observe_lane_decision(transport, outcome.outcome, time.perf_counter() - began)
    observe_device_event("lane_read", outcome.outcome)
    return outcome


def berth_ack(result: BerthEventResult) -> EventAck:
    """The acknowledgement of one berth event."""
    return EventAck(outcome=result.outcome.value, stay_ref=result.stay_ref, fee_fen=result.fee_fen)


def _item_ack(outcome: Outcome) -> BatchItemAck:
    if isinstance(outcome, DomainError):
        return BatchItemAck(outcome="refused", code=outcome.code, message=outcome.message_zh)
    ack = berth_ack(outcome)
    return BatchItemAck(outcome=ack.outcome, stay_ref=ack.stay_ref, fee_fen=ack.fee_fen)


def _write_images(folder: Path, images: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for ref, data in images.items():
        path = folder / (ref.replace(":", "-") + ".jpg")
        if not path.exists():
            path.write_bytes(data)


def summary(acks: list[Ack]) -> PlateReadAck:
    """One acknowledgement for a push carrying several events: applied unless all were not."""
    if not acks:
        return PlateReadAck(outcome=EventOutcome.APPLIED.value)
    outcomes = {ack.outcome for ack in acks}
    outcome = outcomes.pop() if len(outcomes) == 1 else EventOutcome.APPLIED.value
    refs = [
        ack.violation_ref for ack in acks if isinstance(ack, PlateReadAck) and ack.violation_ref
    ]
    stays = [ack.stay_ref for ack in acks if ack.stay_ref]
    return PlateReadAck(
        outcome=outcome,
        stay_ref=stays[0] if stays else None,
        violation_ref=refs[0] if refs else None,
    )
