"""Reads unpaid on-street stays for officers and appends the steps they take."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Exists, Select, and_, exists, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.appeals import OPEN_CASES
from core.arrears import (
    ArrearsAction,
    ArrearsFilter,
    ArrearsItem,
    ArrearsOrder,
    ArrearsStep,
    read_cursor,
)
from core.staff import Scope
from core.store.activity import StayRow
from core.store.appeals import AppealRow
from core.store.arrears import ArrearsActionRow
from core.store.city import BerthRow, DistrictRow, OperatorRow, ZoneRow
from core.store.handovers import HandoverLineRow
from core.store.people import VehicleBindingRow, VehicleRow
from core.store.stay_payments import held_by_payments

# The partial indexes' own predicate, literally: with bound values PostgreSQL cannot use them.
_STREET_CHARGED = text("stays.status = 'closed' AND stays.lot_id IS NULL AND stays.fee_fen > 0")

_HELD = held_by_payments(StayRow.ref)
_ITEM_COLUMNS = (
    StayRow.id,
    StayRow.ref,
    StayRow.plate,
    StayRow.fee_fen,
    StayRow.fee_fen - _HELD,
    StayRow.entered_at,
    StayRow.exited_at,
    BerthRow.code,
    BerthRow.street,
    ZoneRow.code,
    OperatorRow.code,
)


def _unpaid() -> Select[Any]:
    return (
        select(*_ITEM_COLUMNS)
        .select_from(StayRow)
        .join(BerthRow, BerthRow.id == StayRow.berth_id)
        .join(ZoneRow, ZoneRow.id == StayRow.zone_id)
        .join(OperatorRow, OperatorRow.id == ZoneRow.operator_id)
        .where(_STREET_CHARGED, StayRow.plate.is_not(None), StayRow.fee_fen > _HELD)
    )


def _narrowed(query: Select[Any], wanted: ArrearsFilter, scope: Scope) -> Select[Any]:
    # By key, not through the joins: an index on the stay's own column then also gives the order.
    if wanted.zone:
        zone = select(ZoneRow.id).where(ZoneRow.code == wanted.zone).scalar_subquery()
        query = query.where(StayRow.zone_id == zone)
    if wanted.street:
        berths = select(BerthRow.id).where(BerthRow.street == wanted.street)
        query = query.where(StayRow.berth_id.in_(berths))
    if wanted.district or scope.districts:
        query = query.join(DistrictRow, DistrictRow.id == ZoneRow.district_id)
    if wanted.district:
        query = query.where(DistrictRow.code == wanted.district)
    if wanted.min_fen > 1:  # on what is due; the fee is at least that, so the index still helps
        query = query.where(
            StayRow.fee_fen >= wanted.min_fen, StayRow.fee_fen - _HELD >= wanted.min_fen
        )
    if wanted.left_before is not None:
        query = query.where(StayRow.exited_at <= wanted.left_before)
    if not scope.city_wide:  # a scope of lots only covers no street
        covered = [OperatorRow.code.in_(sorted(scope.operators))]
        if scope.districts:
            covered.append(DistrictRow.code.in_(sorted(scope.districts)))
        query = query.where(or_(*covered))
    return query


def _ordered(query: Select[Any], wanted: ArrearsFilter) -> Select[Any]:
    if wanted.order is ArrearsOrder.OLDEST:
        if wanted.after is not None:
            at, stay_id = read_cursor(wanted.after, wanted.order)
            query = query.where(
                or_(StayRow.exited_at > at, and_(StayRow.exited_at == at, StayRow.id > stay_id))
            )
        return query.order_by(StayRow.exited_at, StayRow.id)
    if wanted.after is not None:
        fee, stay_id = read_cursor(wanted.after, wanted.order)
        query = query.where(
            or_(StayRow.fee_fen < fee, and_(StayRow.fee_fen == fee, StayRow.id < stay_id))
        )
    return query.order_by(StayRow.fee_fen.desc(), StayRow.id.desc())


def _item(row: Any) -> ArrearsItem:
    stay_id, ref, plate, fee, due, entered, exited, berth, street, zone, operator = row
    return ArrearsItem(
        stay_id, ref, plate, int(due), entered, exited, berth, street, zone, operator, fee
    )


class ArrearsRepository:
    """Unpaid on-street stays (closed, charged, no settling payment) and the steps taken."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def page(self, wanted: ArrearsFilter, scope: Scope) -> list[ArrearsItem]:
        """One page of the list, in the order asked, after the cursor."""
        query = _ordered(_narrowed(_unpaid(), wanted, scope), wanted).limit(wanted.limit)
        return [_item(row) for row in (await self._session.execute(query)).all()]

    async def of_plate(self, plate: str, scope: Scope, *, limit: int = 200) -> list[ArrearsItem]:
        """A plate's unpaid on-street stays, oldest first."""
        query = _narrowed(_unpaid().where(StayRow.plate == plate), ArrearsFilter(), scope)
        rows = await self._session.execute(query.order_by(StayRow.exited_at).limit(limit))
        return [_item(row) for row in rows.all()]

    async def escalated_unbatched(self, scope: Scope, *, limit: int = 500) -> list[ArrearsItem]:
        """Escalated arrears in scope in no hand-over batch yet, oldest first."""
        escalated = exists().where(
            ArrearsActionRow.stay_id == StayRow.id,
            ArrearsActionRow.step == ArrearsStep.ESCALATED.value,
        )
        batched = exists().where(HandoverLineRow.stay_id == StayRow.id)
        query = _narrowed(_unpaid().where(escalated, ~batched), ArrearsFilter(), scope)
        rows = await self._session.execute(query.order_by(StayRow.exited_at).limit(limit))
        return [_item(row) for row in rows.all()]

    async def item(self, stay_ref: str, scope: Scope) -> ArrearsItem | None:
        """One unpaid on-street stay by reference, if it is one and in scope."""
        query = _narrowed(_unpaid().where(StayRow.ref == stay_ref), ArrearsFilter(), scope)
        row = (await self._session.execute(query)).first()
        return _item(row) if row is not None else None

    async def to_remind(
        self, left_after: datetime, left_before: datetime
    ) -> list[tuple[ArrearsItem, int]]:
        """Arrears of plates with a verified driver that left in a window, each with the driver.

        Only verified bindings: a reminder says where and when the car was.
        """
        query = (
            _unpaid()
            .add_columns(VehicleBindingRow.driver_id)
            .join(VehicleRow, VehicleRow.plate == StayRow.plate)
            .join(VehicleBindingRow, VehicleBindingRow.vehicle_id == VehicleRow.id)
            .where(
                VehicleBindingRow.verified_at.is_not(None),
                StayRow.exited_at > left_after,
                StayRow.exited_at <= left_before,
                ~_appealed(),  # an open appeal pauses the stay's reminders
            )
            .order_by(StayRow.exited_at, StayRow.id, VehicleBindingRow.driver_id)
        )
        rows = (await self._session.execute(query)).all()
        return [(_item(row[:-1]), int(row[-1])) for row in rows]

    async def actions(self, stay_ids: list[int]) -> dict[int, list[ArrearsAction]]:
        """The steps taken on these stays, each stay's in time order."""
        found: dict[int, list[ArrearsAction]] = {stay_id: [] for stay_id in stay_ids}
        if not stay_ids:
            return found
        query = (
            select(ArrearsActionRow)
            .where(ArrearsActionRow.stay_id.in_(stay_ids))
            .order_by(ArrearsActionRow.at, ArrearsActionRow.id)
        )
        for row in await self._session.scalars(query):
            step = ArrearsStep(row.step)
            action = ArrearsAction(step, row.actor, row.at, row.note, row.evidence)
            found[row.stay_id].append(action)
        return found

    def add_action(self, stay_id: int, action: ArrearsAction) -> None:
        """Append a step (written at the unit's commit)."""
        self._session.add(
            ArrearsActionRow(
                stay_id=stay_id,
                step=action.step.value,
                actor=action.actor,
                note=action.note,
                evidence=action.evidence,
                at=action.at,
            )
        )


def _appealed() -> Exists:
    """An open fee appeal of the stay (docs/support-appeals.md)."""
    return exists().where(
        AppealRow.stay_ref == StayRow.ref, AppealRow.status.in_([s.value for s in OPEN_CASES])
    )
