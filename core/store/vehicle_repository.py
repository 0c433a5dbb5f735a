"""Vehicles, drivers' bindings, subscribe grants and notice deliveries; never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.payments import SETTLED_STATUSES
from core.store.activity import StayRow
from core.store.devices import BerthObservationRow, NotificationRow
from core.store.driver_notices import NoticeDeliveryRow, SubscribeGrantRow
from core.store.lots import LanePassageRow
from core.store.payments import PaymentRow
from core.store.people import DriverRow, StayScanRow, VehicleBindingRow, VehicleRow

# Built once: they run on every request for a driver's stays.
_BINDINGS = (
    select(VehicleBindingRow, VehicleRow)
    .join(VehicleRow, VehicleRow.id == VehicleBindingRow.vehicle_id)
    .where(VehicleBindingRow.driver_id == bindparam("driver_id"))
    .order_by(VehicleBindingRow.created_at, VehicleBindingRow.id)
)
_STAYS = (
    select(StayRow)
    .where(
        StayRow.plate.in_(bindparam("plates", expanding=True)),
        StayRow.status.in_(bindparam("statuses", expanding=True)),
    )
    .order_by(StayRow.id.desc())
    .limit(bindparam("limit"))
)
_STAYS_BEFORE = _STAYS.where(StayRow.id < bindparam("before_id"))


class VehicleRepository:
    """What drivers bound and may see, and the bookkeeping of their notices."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def vehicle(self, plate: str) -> VehicleRow | None:
        """The vehicle with this plate."""
        query = select(VehicleRow).where(VehicleRow.plate == plate)
        row: VehicleRow | None = await self._session.scalar(query)
        return row

    async def add_vehicle(self, row: VehicleRow) -> None:
        """Record a vehicle; its id is set on return."""
        self._session.add(row)
        await self._session.flush()

    async def binding(
        self, driver_id: int, plate: str
    ) -> tuple[VehicleBindingRow, VehicleRow] | None:
        """A driver's binding of a plate, with the vehicle."""
        query = (
            select(VehicleBindingRow, VehicleRow)
            .join(VehicleRow, VehicleRow.id == VehicleBindingRow.vehicle_id)
            .where(VehicleBindingRow.driver_id == driver_id, VehicleRow.plate == plate)
        )
        found = (await self._session.execute(query)).first()
        return (found[0], found[1]) if found else None

    async def bindings(self, driver_id: int) -> list[tuple[VehicleBindingRow, VehicleRow]]:
        """Every binding of a driver, oldest first."""
        found = await self._session.execute(_BINDINGS, {"driver_id": driver_id})
        return [(b, v) for b, v in found.all()]

    async def count_bindings(self, driver_id: int) -> int:
        """How many plates a driver has bound."""
        query = select(func.count(VehicleBindingRow.id)).where(
            VehicleBindingRow.driver_id == driver_id
        )
        return int(await self._session.scalar(query) or 0)

    async def add_binding(self, row: VehicleBindingRow) -> None:
        """Record a binding."""
        self._session.add(row)
        await self._session.flush()

    async def remove_binding(self, binding_id: int) -> None:
        """Forget a binding."""
        await self._session.execute(
            delete(VehicleBindingRow).where(VehicleBindingRow.id == binding_id)
        )

    async def verified_plates(self, driver_id: int) -> list[str]:
        """The plates a driver's verified bindings cover."""
        query = (
            select(VehicleRow.plate)
            .join(VehicleBindingRow, VehicleBindingRow.vehicle_id == VehicleRow.id)
            .where(
                VehicleBindingRow.driver_id == driver_id,
                VehicleBindingRow.verified_at.is_not(None),
            )
            .order_by(VehicleRow.plate)
        )
        return list(await self._session.scalars(query))

    async def verified_drivers(self, plate: str) -> list[int]:
        """Drivers whose binding of a plate is verified."""
        query = (
            select(VehicleBindingRow.driver_id)
            .join(VehicleRow, VehicleRow.id == VehicleBindingRow.vehicle_id)
            .where(VehicleRow.plate == plate, VehicleBindingRow.verified_at.is_not(None))
            .order_by(VehicleBindingRow.driver_id)
        )
        return list(await self._session.scalars(query))

    async def phone(self, driver_id: int) -> str | None:
        """A driver's phone number, if they gave one."""
        query = select(DriverRow.phone).where(DriverRow.id == driver_id)
        phone: str | None = await self._session.scalar(query)
        return phone

    async def stays(
        self, plates: Sequence[str], statuses: Sequence[str], *, limit: int, before_id: int | None
    ) -> list[StayRow]:
        """Stays of some plates in some statuses, newest first, paged by id."""
        if not plates:
            return []
        values = {"plates": list(plates), "statuses": list(statuses), "limit": limit}
        if before_id is None:
            return list(await self._session.scalars(_STAYS, values))
        return list(await self._session.scalars(_STAYS_BEFORE, values | {"before_id": before_id}))

    async def paid_stays(
        self,
        driver_id: int,
        plates: Sequence[str],
        statuses: Sequence[str],
        *,
        limit: int,
        before_id: int | None,
    ) -> list[StayRow]:
        """Stays of some plates the driver's own settled payments paid, newest first."""
        if not plates:
            return []
        paid = select(PaymentRow.stay_ref).where(
            PaymentRow.driver_id == driver_id,
            PaymentRow.status.in_([s.value for s in SETTLED_STATUSES]),
            PaymentRow.stay_ref.is_not(None),
        )
        query = select(StayRow).where(
            StayRow.plate.in_(plates), StayRow.status.in_(statuses), StayRow.ref.in_(paid)
        )
        if before_id is not None:
            query = query.where(StayRow.id < before_id)
        query = query.order_by(StayRow.id.desc()).limit(limit)
        return list(await self._session.scalars(query))

    async def paid_by(self, driver_id: int, stay_ref: str) -> bool:
        """Whether a settled payment of this driver went to the stay."""
        query = select(PaymentRow.id).where(
            PaymentRow.driver_id == driver_id,
            PaymentRow.stay_ref == stay_ref,
            PaymentRow.status.in_([s.value for s in SETTLED_STATUSES]),
        )
        return (await self._session.scalar(query.limit(1))) is not None

    async def record_scans(self, driver_id: int, stay_refs: Sequence[str], at: datetime) -> None:
        """Remember that the driver scanned where these stays were (once per stay)."""
        if not stay_refs:
            return
        ids = select(StayRow.id).where(StayRow.ref.in_(stay_refs))
        known = select(StayScanRow.stay_id).where(StayScanRow.driver_id == driver_id)
        for stay_id in await self._session.scalars(ids.where(StayRow.id.not_in(known))):
            self._session.add(StayScanRow(driver_id=driver_id, stay_id=stay_id, scanned_at=at))
        await self._session.flush()

    async def scanned(self, driver_id: int, stay_ref: str) -> bool:
        """Whether the driver scanned the berth or exit lane of the stay while it was there."""
        query = (
            select(StayScanRow.id)
            .join(StayRow, StayRow.id == StayScanRow.stay_id)
            .where(StayScanRow.driver_id == driver_id, StayRow.ref == stay_ref)
        )
        return (await self._session.scalar(query.limit(1))) is not None

    async def stay_images(self, stay_id: int) -> list[tuple[datetime, str]]:
        """Camera images of a stay: berth observations and lane reads, in time order."""
        berth = select(BerthObservationRow.device_time, BerthObservationRow.image_ref).where(
            BerthObservationRow.stay_id == stay_id, BerthObservationRow.image_ref.is_not(None)
        )
        lane = select(LanePassageRow.read_at, LanePassageRow.image_ref).where(
            LanePassageRow.stay_id == stay_id, LanePassageRow.image_ref.is_not(None)
        )
        rows = [*(await self._session.execute(berth)).all()]
        rows += [*(await self._session.execute(lane)).all()]
        return sorted((at, str(ref)) for at, ref in rows)

    async def grant(self, driver_id: int, template_id: str) -> SubscribeGrantRow | None:
        """The authorisations a driver gave for a template."""
        query = select(SubscribeGrantRow).where(
            SubscribeGrantRow.driver_id == driver_id, SubscribeGrantRow.template_id == template_id
        )
        row: SubscribeGrantRow | None = await self._session.scalar(query)
        return row

    async def grants(self, driver_id: int) -> list[SubscribeGrantRow]:
        """Every template a driver authorised."""
        query = (
            select(SubscribeGrantRow)
            .where(SubscribeGrantRow.driver_id == driver_id)
            .order_by(SubscribeGrantRow.template_id)
        )
        return list(await self._session.scalars(query))

    async def add_grant(self, row: SubscribeGrantRow) -> None:
        """Record a new template's authorisations."""
        self._session.add(row)
        await self._session.flush()

    async def pending_notices(self, kinds: Sequence[str], limit: int) -> list[NotificationRow]:
        """Outbox notices of some kinds not sent yet, oldest first."""
        query = (
            select(NotificationRow)
            .where(NotificationRow.kind.in_(kinds), NotificationRow.sent_at.is_(None))
            .order_by(NotificationRow.id)
            .limit(limit)
        )
        return list(await self._session.scalars(query))

    async def queued_references(self, kind: str, references: Sequence[str]) -> set[tuple[int, str]]:
        """Which of these outbox references of a kind are queued already, as (driver, reference)."""
        query = select(NotificationRow.driver_id, NotificationRow.reference).where(
            NotificationRow.kind == kind, NotificationRow.reference.in_(list(references))
        )
        return {(driver, reference) for driver, reference in await self._session.execute(query)}

    async def notice(self, notice_id: int, *, for_update: bool = False) -> NotificationRow | None:
        """One outbox notice, locked when asked so two senders cannot both send it."""
        query = select(NotificationRow).where(NotificationRow.id == notice_id)
        if for_update:
            query = query.with_for_update()
        row: NotificationRow | None = await self._session.scalar(query)
        return row

    async def delivery(self, notice_id: int) -> NoticeDeliveryRow | None:
        """How a notice went out."""
        query = select(NoticeDeliveryRow).where(NoticeDeliveryRow.notification_id == notice_id)
        row: NoticeDeliveryRow | None = await self._session.scalar(query)
        return row

    def add_delivery(self, row: NoticeDeliveryRow) -> None:
        """Record how a notice went out."""
        self._session.add(row)

    async def awaiting_at_lane(self, lane_id: int) -> list[StayRow]:
        """Stays whose car waits at an exit lane for its payment, newest read first."""
        query = (
            select(StayRow)
            .join(LanePassageRow, LanePassageRow.stay_id == StayRow.id)
            .where(
                LanePassageRow.lane_id == lane_id,
                LanePassageRow.status == "awaiting_payment",
                LanePassageRow.direction == "exit",
            )
            .order_by(LanePassageRow.read_at.desc())
            .limit(3)
        )
        return list(await self._session.scalars(query))
