"""Reads and writes of device operations: health lists, tickets, closures, review, violations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.store.activity import DeviceEventRow, StayRow
from core.store.city import BerthRow, DeviceRow, ZoneRow
from core.store.devices import (
    BerthClosureRow,
    BerthObservationRow,
    BerthStateRow,
    DeviceHealthRow,
    MaintenanceTicketRow,
    StayFlagRow,
    ViolationRow,
)


class DeviceOpsRepository:
    """What staff see and change about devices and berths; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def devices_with_health(
        self, *, code: str | None = None
    ) -> list[tuple[DeviceRow, DeviceHealthRow | None, str | None, int]]:
        """Devices with their health row, berth code and number of open tickets."""
        tickets = (
            select(MaintenanceTicketRow.device_id, func.count().label("n"))
            .where(MaintenanceTicketRow.status == "open")
            .group_by(MaintenanceTicketRow.device_id)
            .subquery()
        )
        query: Select[Any] = (
            select(DeviceRow, DeviceHealthRow, BerthRow.code, func.coalesce(tickets.c.n, 0))
            .outerjoin(DeviceHealthRow, DeviceHealthRow.device_id == DeviceRow.id)
            .outerjoin(BerthRow, BerthRow.id == DeviceRow.berth_id)
            .outerjoin(tickets, tickets.c.device_id == DeviceRow.id)
            .where(DeviceRow.kind.in_(("berth_sensor", "video")))
            .order_by(DeviceRow.code)
        )
        if code is not None:
            query = query.where(DeviceRow.code == code)
        return [(d, h, b, int(n)) for d, h, b, n in (await self._session.execute(query)).all()]

    async def device(self, code: str) -> DeviceRow | None:
        """The device with this code."""
        query = select(DeviceRow).where(DeviceRow.code == code)
        return (await self._session.execute(query)).scalar_one_or_none()

    def add_ticket(self, row: MaintenanceTicketRow) -> None:
        """Open a ticket."""
        self._session.add(row)

    async def ticket(self, ticket_id: int) -> MaintenanceTicketRow | None:
        """The ticket with this id."""
        return await self._session.get(MaintenanceTicketRow, ticket_id)

    async def tickets(self, device_id: int) -> list[MaintenanceTicketRow]:
        """A device's tickets, newest first."""
        query = (
            select(MaintenanceTicketRow)
            .where(MaintenanceTicketRow.device_id == device_id)
            .order_by(MaintenanceTicketRow.id.desc())
        )
        return list(await self._session.scalars(query))

    def add_closure(self, row: BerthClosureRow) -> None:
        """Close a berth for a period."""
        self._session.add(row)

    async def closure(self, closure_id: int) -> BerthClosureRow | None:
        """The closure with this id."""
        return await self._session.get(BerthClosureRow, closure_id)

    async def closed_berth_codes(self, moment: datetime) -> set[str]:
        """Codes of berths closed at a moment, by a closure or for good."""
        in_force = select(BerthClosureRow.berth_id).where(
            BerthClosureRow.starts_at <= moment,
            or_(BerthClosureRow.ends_at.is_(None), BerthClosureRow.ends_at > moment),
        )
        query = select(BerthRow.code).where(
            or_(BerthRow.closed.is_(True), BerthRow.id.in_(in_force))
        )
        return set(await self._session.scalars(query))

    async def open_stays_at(self, berth_id: int) -> list[StayRow]:
        """Stays with the car still at the berth."""
        query = select(StayRow).where(StayRow.berth_id == berth_id, StayRow.exited_at.is_(None))
        return list(await self._session.scalars(query))

    async def street_berths(self) -> list[tuple[str, str, str, bool, int]]:
        """Every on-street berth: code, zone code, street, occupied and state version."""
        query = (
            select(
                BerthRow.code,
                ZoneRow.code,
                func.coalesce(BerthRow.street, ""),
                func.coalesce(BerthStateRow.occupied, False),
                func.coalesce(BerthStateRow.version, 0),
            )
            .join(ZoneRow, ZoneRow.id == BerthRow.zone_id)
            .outerjoin(BerthStateRow, BerthStateRow.berth_id == BerthRow.id)
            .order_by(BerthRow.code)
        )
        rows = (await self._session.execute(query)).all()
        return [(c, z, s, bool(o), int(v)) for c, z, s, o, v in rows]

    async def occupancy_of(self, codes: list[str]) -> list[tuple[str, bool, int]]:
        """Berths' stored occupancy and state version, by code (those with a state)."""
        query = (
            select(BerthRow.code, BerthStateRow.occupied, BerthStateRow.version)
            .join(BerthStateRow, BerthStateRow.berth_id == BerthRow.id)
            .where(BerthRow.code.in_(codes))
        )
        rows = (await self._session.execute(query)).all()
        return [(c, bool(o), int(v)) for c, o, v in rows]

    async def unplaced_observations(
        self, *, limit: int
    ) -> list[tuple[BerthObservationRow, DeviceEventRow, str]]:
        """Berth events without a place (noise, or a plate waiting), oldest first."""
        query = (
            select(BerthObservationRow, DeviceEventRow, BerthRow.code)
            .join(DeviceEventRow, DeviceEventRow.id == BerthObservationRow.device_event_id)
            .join(BerthRow, BerthRow.id == BerthObservationRow.berth_id)
            .where(BerthObservationRow.role.in_(("noise", "waiting")))
            .order_by(BerthObservationRow.device_time, BerthObservationRow.id)
            .limit(limit)
        )
        return [(h, e, b) for h, e, b in (await self._session.execute(query)).all()]

    async def unplaced_events(self, *, limit: int) -> list[DeviceEventRow]:
        """Events refused before reaching a timeline (clock skew, a lot's berth), newest first."""
        held = select(BerthObservationRow.device_event_id)
        query = (
            select(DeviceEventRow)
            .where(DeviceEventRow.outcome == "review", DeviceEventRow.id.not_in(held))
            .order_by(DeviceEventRow.id.desc())
            .limit(limit)
        )
        return list(await self._session.scalars(query))

    async def stays_for_review(
        self, plate_deadline: datetime, *, limit: int
    ) -> list[tuple[StayRow, str, str | None]]:
        """Stays in review, flagged, or open without a plate since before the deadline."""
        flagged = select(StayFlagRow.stay_id)
        query = (
            select(StayRow, BerthRow.code, StayFlagRow.flag)
            .join(BerthRow, BerthRow.id == StayRow.berth_id)
            .outerjoin(StayFlagRow, StayFlagRow.stay_id == StayRow.id)
            .where(
                or_(
                    StayRow.status == "review",
                    StayRow.id.in_(flagged),
                    (StayRow.exited_at.is_(None))
                    & StayRow.plate.is_(None)
                    & (StayRow.entered_at < plate_deadline),
                )
            )
            .order_by(StayRow.entered_at, StayRow.id)
            .limit(limit)
        )
        return [(s, b, f) for s, b, f in (await self._session.execute(query)).all()]

    async def violations(
        self, *, status: str | None, after_id: int | None, limit: int
    ) -> list[tuple[ViolationRow, str | None]]:
        """Violations newest first, keyset-paged by id, with the berth code when in a berth."""
        query = (
            select(ViolationRow, BerthRow.code)
            .outerjoin(BerthRow, BerthRow.id == ViolationRow.berth_id)
            .order_by(ViolationRow.id.desc())
            .limit(limit)
        )
        if status is not None:
            query = query.where(ViolationRow.status == status)
        if after_id is not None:
            query = query.where(ViolationRow.id < after_id)
        return [(v, b) for v, b in (await self._session.execute(query)).all()]
