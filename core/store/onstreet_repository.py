"""Reads and writes behind on-street event handling: berth timelines, held events, health."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.store.activity import DeviceEventRow, StayRow
from core.store.city import BerthRow, DeviceRow
from core.store.devices import (
    BerthClosureRow,
    BerthObservationRow,
    BerthStateRow,
    DeviceHealthRow,
    NotificationRow,
    StayFlagRow,
    ViolationRow,
)
from core.store.people import VehicleBindingRow, VehicleRow


class OnStreetRepository:
    """The berth timeline and everything an event touches; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._devices: dict[str, DeviceRow | None] = {}
        self._health: dict[int, DeviceHealthRow] = {}

    async def lock_berth(self, berth_id: int) -> None:
        """Become the only writer of this berth's timeline until the transaction ends."""
        if self._session.get_bind().dialect.name == "postgresql":
            query = select(BerthRow.id).where(BerthRow.id == berth_id).with_for_update()
            await self._session.execute(query)
        else:
            # SQLite opens its transaction at the first write; writing first takes the one
            # write lock before anything is read, so two events of a berth cannot interleave.
            await self._session.execute(
                text("UPDATE berths SET id = id WHERE id = :id"), {"id": berth_id}
            )

    async def timeline_from(
        self, berth_id: int, moment: datetime, lookback: timedelta
    ) -> list[BerthObservationRow]:
        """The berth's events from its last stay start at or before a moment (else from
        `lookback` before it) on, in device-time order, in one query."""
        last_start = (
            select(func.max(BerthObservationRow.device_time))
            .where(
                BerthObservationRow.berth_id == berth_id,
                BerthObservationRow.role == "start",
                BerthObservationRow.device_time <= moment,
            )
            .scalar_subquery()
        )
        query = (
            select(BerthObservationRow)
            .where(
                BerthObservationRow.berth_id == berth_id,
                BerthObservationRow.device_time >= func.coalesce(last_start, moment - lookback),
            )
            .order_by(BerthObservationRow.device_time, BerthObservationRow.id)
        )
        return list(await self._session.scalars(query))

    async def stays_since(self, berth_id: int, since: datetime) -> list[StayRow]:
        """The berth's stays that began at or after a moment, voided ones included."""
        query = (
            select(StayRow)
            .where(StayRow.berth_id == berth_id, StayRow.entered_at >= since)
            .order_by(StayRow.entered_at, StayRow.id)
        )
        return list(await self._session.scalars(query))

    def observe(self, row: BerthObservationRow) -> None:
        """Add an event to the berth's timeline."""
        self._session.add(row)

    async def device_event(self, event_id: int) -> DeviceEventRow:
        """The stored device event with this id."""
        return await self._session.get_one(DeviceEventRow, event_id)

    async def open_stay(self, berth_id: int) -> StayRow | None:
        """The stay whose car is still at the berth."""
        query = select(StayRow).where(
            StayRow.berth_id == berth_id, StayRow.status == "open", StayRow.exited_at.is_(None)
        )
        return (await self._session.execute(query.limit(1))).scalar_one_or_none()

    async def has_open_stay(self, berth_id: int) -> bool:
        """Whether a car is at the berth now."""
        query = select(StayRow.id).where(
            StayRow.berth_id == berth_id, StayRow.status == "open", StayRow.exited_at.is_(None)
        )
        return (await self._session.scalar(query.limit(1))) is not None

    async def berth_state(self, berth_id: int, at: datetime) -> BerthStateRow:
        """The berth's state row, created on first use."""
        row = await self._session.get(BerthStateRow, berth_id)
        if row is None:
            row = BerthStateRow(berth_id=berth_id, occupied=False, version=0, changed_at=at)
            self._session.add(row)
        return row

    async def closure_at(self, berth_id: int, moment: datetime) -> BerthClosureRow | None:
        """A closure of the berth in force at a moment, if any."""
        query = (
            select(BerthClosureRow)
            .where(
                BerthClosureRow.berth_id == berth_id,
                BerthClosureRow.starts_at <= moment,
                or_(BerthClosureRow.ends_at.is_(None), BerthClosureRow.ends_at > moment),
            )
            .limit(1)
        )
        return (await self._session.execute(query)).scalar_one_or_none()

    async def flag_stay(self, stay: StayRow, flag: str, note: str, at: datetime) -> None:
        """Flag a stay for review once per flag."""
        await self._session.flush()
        query = select(StayFlagRow.id).where(
            StayFlagRow.stay_id == stay.id, StayFlagRow.flag == flag
        )
        if await self._session.scalar(query) is None:
            self._session.add(StayFlagRow(stay_id=stay.id, flag=flag, note=note, created_at=at))

    async def device(self, code: str) -> DeviceRow | None:
        """The registered device with this code (looked up once per unit of work)."""
        if code not in self._devices:
            query = select(DeviceRow).where(DeviceRow.code == code)
            self._devices[code] = (await self._session.execute(query)).scalar_one_or_none()
        return self._devices[code]

    async def health(self, device_id: int) -> DeviceHealthRow:
        """A device's health row, created on first use."""
        row = self._health.get(device_id) or await self._session.get(DeviceHealthRow, device_id)
        if row is None:
            row = DeviceHealthRow(device_id=device_id, occupied_count=0, flicker_count=0)
            self._session.add(row)
        self._health[device_id] = row
        return row

    def add_violation(self, row: ViolationRow) -> None:
        """Record an illegal-parking capture."""
        self._session.add(row)

    async def drivers_of_plate(self, plate: str) -> Sequence[int]:
        """Drivers who bound a plate (verified or not: both may pay)."""
        query = (
            select(VehicleBindingRow.driver_id)
            .join(VehicleRow, VehicleRow.id == VehicleBindingRow.vehicle_id)
            .where(VehicleRow.plate == plate)
            .order_by(VehicleBindingRow.driver_id)
        )
        return list(await self._session.scalars(query))

    async def queue_notification(self, row: NotificationRow) -> None:
        """Put a notification in the outbox once per driver, kind and reference."""
        query = select(NotificationRow.id).where(
            NotificationRow.driver_id == row.driver_id,
            NotificationRow.kind == row.kind,
            NotificationRow.reference == row.reference,
        )
        if await self._session.scalar(query) is None:
            self._session.add(row)
