"""Reads and writes of gated lots: lanes, rights, open stays, passages, tasks, shifts, merchants."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.store.activity import StayRow
from core.store.city import DeviceRow, DistrictRow, LaneRow, LotRow, OperatorRow
from core.store.devices import DeviceHealthRow
from core.store.lane_values import PolicyFacts
from core.store.lots import (
    AttendantTaskRow,
    CashierShiftRow,
    LanePassageRow,
    LotPolicyRow,
    LotRightPlateRow,
    LotRightRow,
    LotStayRow,
    MerchantRow,
    MerchantValidationRow,
    PlateBlockRow,
    ShiftTakingRow,
)
from core.store.write_batch import insert_row, write_changes


class LotRepository:
    """Everything lanes, attendants and cashiers need from the store; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._policies: dict[int, PolicyFacts | None] = {}

    def add(self, row: Any) -> None:
        """Track a new row of any lot table."""
        self._session.add(row)

    async def flush(self) -> None:
        """Give new rows their ids."""
        await self._session.flush()

    async def insert(self, row: Any, *, key_now: bool = True) -> None:
        """Store a new row of any lot table now (see core.store.driver_sql)."""
        await insert_row(self._session, row, key_now=key_now)

    async def write_changes(self, *rows: Any) -> None:
        """Write the changes of loaded rows now where that is cheaper than the flush."""
        for row in rows:
            await write_changes(self._session, row)

    async def lane(self, lot_code: str, lane_code: str) -> tuple[LaneRow, LotRow] | None:
        """A lane named by its lot and its own code."""
        query = (
            select(LaneRow, LotRow)
            .join(LotRow, LotRow.id == LaneRow.lot_id)
            .where(LotRow.code == lot_code, LaneRow.code == lane_code)
        )
        found = (await self._session.execute(query)).first()
        return (found[0], found[1]) if found else None

    async def lane_by_id(self, lane_id: int) -> tuple[LaneRow, LotRow]:
        """A lane and its lot by the lane's id."""
        lane = await self._session.get_one(LaneRow, lane_id)
        return lane, await self._session.get_one(LotRow, lane.lot_id)

    async def lot_place_codes(self, lot: LotRow) -> tuple[str, str]:
        """The codes of a lot's operator and district, for staff scope checks."""
        operator = await self._session.get_one(OperatorRow, lot.operator_id)
        district = await self._session.get_one(DistrictRow, lot.district_id)
        return operator.code, district.code

    async def lot_lanes(self, lot_id: int) -> list[LaneRow]:
        """Every lane of a lot."""
        query = select(LaneRow).where(LaneRow.lot_id == lot_id).order_by(LaneRow.code)
        return list(await self._session.scalars(query))

    async def policy(self, lot_id: int) -> PolicyFacts | None:
        """A lot's own entry rules, if it has any (remembered for this unit of work)."""
        if lot_id not in self._policies:
            self._policies[lot_id] = await self._session.get(LotPolicyRow, lot_id)
        return self._policies[lot_id]

    def remember_policy(self, lot_id: int, row: PolicyFacts | None) -> None:
        """Keep a lot's policy already loaded with its lot, so `policy` needs no query."""
        self._policies[lot_id] = row

    async def rights_for_plate(self, lot_id: int, plate: str, at: datetime) -> list[LotRightRow]:
        """Active rights of a plate in a lot valid at a moment, newest first."""
        query = (
            select(LotRightRow)
            .join(LotRightPlateRow, LotRightPlateRow.right_id == LotRightRow.id)
            .where(
                LotRightRow.lot_id == lot_id,
                LotRightPlateRow.plate == plate,
                LotRightRow.status == "active",
                LotRightRow.valid_from <= at,
                LotRightRow.valid_until > at,
            )
            .order_by(LotRightRow.id.desc())
        )
        return list(await self._session.scalars(query))

    async def rights_overlapping(
        self, lot_id: int, plate: str, since: datetime, until: datetime
    ) -> list[LotRightRow]:
        """Active rights of a plate in a lot valid at any time of a window."""
        query = (
            select(LotRightRow)
            .join(LotRightPlateRow, LotRightPlateRow.right_id == LotRightRow.id)
            .where(
                LotRightRow.lot_id == lot_id,
                LotRightPlateRow.plate == plate,
                LotRightRow.status == "active",
                LotRightRow.valid_from < until,
                LotRightRow.valid_until > since,
            )
            .order_by(LotRightRow.id)
        )
        return list(await self._session.scalars(query))

    async def lock_lot(self, lot_id: int) -> None:
        """Serialise lane decisions of one lot until the transaction ends (PostgreSQL)."""
        await self._session.execute(select(LotRow.id).where(LotRow.id == lot_id).with_for_update())

    async def lane_of_device(self, device_code: str) -> tuple[LaneRow, LotRow] | None:
        """The lane a device stands at, with its lot."""
        query = (
            select(LaneRow, LotRow)
            .join(DeviceRow, DeviceRow.lane_id == LaneRow.id)
            .join(LotRow, LotRow.id == LaneRow.lot_id)
            .where(DeviceRow.code == device_code)
        )
        found = (await self._session.execute(query)).first()
        return (found[0], found[1]) if found else None

    async def lane_faults(self) -> list[tuple[DeviceRow, DeviceHealthRow, LaneRow]]:
        """Lane devices reporting a fault (kept by the device health records)."""
        query = (
            select(DeviceRow, DeviceHealthRow, LaneRow)
            .join(DeviceHealthRow, DeviceHealthRow.device_id == DeviceRow.id)
            .join(LaneRow, LaneRow.id == DeviceRow.lane_id)
            .where(DeviceHealthRow.fault_code.is_not(None))
            .order_by(DeviceHealthRow.fault_at)
        )
        return [(d, h, lane) for d, h, lane in (await self._session.execute(query)).all()]

    async def right(self, right_id: int) -> LotRightRow:
        """A right by id."""
        return await self._session.get_one(LotRightRow, right_id)

    async def right_by_ref(self, ref: str) -> LotRightRow | None:
        """A right by its public reference."""
        query = select(LotRightRow).where(LotRightRow.ref == ref)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def right_plates(self, right_id: int) -> list[str]:
        """Plates a right covers."""
        query = select(LotRightPlateRow.plate).where(LotRightPlateRow.right_id == right_id)
        return sorted(await self._session.scalars(query))

    async def block(self, lot_id: int, plate: str) -> PlateBlockRow | None:
        """An active block of a plate in this lot or in every lot."""
        query = select(PlateBlockRow).where(
            PlateBlockRow.plate == plate,
            PlateBlockRow.active.is_(True),
            or_(PlateBlockRow.lot_id == lot_id, PlateBlockRow.lot_id.is_(None)),
        )
        return (await self._session.execute(query.limit(1))).scalar_one_or_none()

    async def rights_of_lot(self, lot_id: int, at: datetime) -> list[tuple[LotRightRow, list[str]]]:
        """Active rights of a lot not yet expired at a moment, each with its plates (snapshots)."""
        query = (
            select(LotRightRow, LotRightPlateRow.plate)
            .join(LotRightPlateRow, LotRightPlateRow.right_id == LotRightRow.id)
            .where(
                LotRightRow.lot_id == lot_id,
                LotRightRow.status == "active",
                LotRightRow.valid_until > at,
            )
            .order_by(LotRightRow.id, LotRightPlateRow.plate)
        )
        found: dict[int, tuple[LotRightRow, list[str]]] = {}
        for right, plate in (await self._session.execute(query)).all():
            found.setdefault(right.id, (right, []))[1].append(plate)
        return list(found.values())

    async def blocked_plates(self, lot_id: int) -> list[str]:
        """Plates actively blocked in this lot or in every lot (snapshots)."""
        query = select(PlateBlockRow.plate).where(
            PlateBlockRow.active.is_(True),
            or_(PlateBlockRow.lot_id == lot_id, PlateBlockRow.lot_id.is_(None)),
        )
        return sorted(set(await self._session.scalars(query)))

    async def lane_devices(self, lot_id: int) -> list[tuple[DeviceRow, LaneRow]]:
        """Every device installed at a lane of a lot (snapshots)."""
        query = (
            select(DeviceRow, LaneRow)
            .join(LaneRow, LaneRow.id == DeviceRow.lane_id)
            .where(LaneRow.lot_id == lot_id)
            .order_by(DeviceRow.code)
        )
        return [(device, lane) for device, lane in (await self._session.execute(query)).all()]

    async def open_stays(self, lot_id: int) -> list[tuple[StayRow, LotStayRow]]:
        """Every open stay of a lot, with its lot details."""
        query = (
            select(StayRow, LotStayRow)
            .join(LotStayRow, LotStayRow.stay_id == StayRow.id)
            .where(StayRow.lot_id == lot_id, StayRow.status == "open")
            .order_by(StayRow.entered_at)
        )
        return [(s, d) for s, d in (await self._session.execute(query)).all()]

    async def awaiting_payment(self, lot_id: int) -> list[tuple[StayRow, LotStayRow]]:
        """Closed stays of a lot whose car still waits at an exit lane for its payment."""
        waiting = select(LanePassageRow.stay_id).where(
            LanePassageRow.status == "awaiting_payment", LanePassageRow.stay_id.is_not(None)
        )
        query = (
            select(StayRow, LotStayRow)
            .join(LotStayRow, LotStayRow.stay_id == StayRow.id)
            .where(StayRow.lot_id == lot_id, StayRow.status == "closed", StayRow.id.in_(waiting))
        )
        return [(s, d) for s, d in (await self._session.execute(query)).all()]

    async def count_open(self, lot_id: int) -> tuple[int, int]:
        """Open stays of a lot: all of them and the temporary ones."""
        query = (
            select(LotStayRow.access, func.count())
            .join(StayRow, StayRow.id == LotStayRow.stay_id)
            .where(StayRow.lot_id == lot_id, StayRow.status == "open")
            .group_by(LotStayRow.access)
        )
        counts = {access: int(n) for access, n in (await self._session.execute(query)).all()}
        return sum(counts.values()), counts.get("temporary", 0)

    async def open_for_plate(self, lot_id: int, plate: str) -> list[StayRow]:
        """A plate's open stays in a lot."""
        query = select(StayRow).where(
            StayRow.lot_id == lot_id, StayRow.plate == plate, StayRow.status == "open"
        )
        return list(await self._session.scalars(query))

    async def open_for_driver(self, lot_id: int, driver_id: int) -> list[StayRow]:
        """A driver's open stays without a plate in a lot (无牌车)."""
        query = (
            select(StayRow)
            .join(LotStayRow, LotStayRow.stay_id == StayRow.id)
            .where(
                StayRow.lot_id == lot_id,
                StayRow.status == "open",
                StayRow.plate.is_(None),
                LotStayRow.driver_id == driver_id,
            )
        )
        return list(await self._session.scalars(query))

    async def stay(self, stay_id: int) -> StayRow:
        """A stay by id."""
        return await self._session.get_one(StayRow, stay_id)

    async def lot_stay(self, stay_id: int) -> LotStayRow | None:
        """The lot details of a stay."""
        return await self._session.get(LotStayRow, stay_id)

    async def stays_of_plates(
        self, lot_id: int, plates: Sequence[str], since: datetime, until: datetime
    ) -> list[StayRow]:
        """Stays of some plates in a lot that overlap a window (for shared spaces)."""
        query = select(StayRow).where(
            StayRow.lot_id == lot_id,
            StayRow.plate.in_(list(plates)),
            StayRow.status.in_(("open", "closed")),
            StayRow.entered_at < until,
            or_(StayRow.exited_at.is_(None), StayRow.exited_at > since),
        )
        return list(await self._session.scalars(query))

    async def passage_by_key(self, dedupe_key: str) -> LanePassageRow | None:
        """The passage a device event made, if it was seen before."""
        query = select(LanePassageRow).where(LanePassageRow.dedupe_key == dedupe_key)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def passage_by_ref(self, ref: str) -> LanePassageRow | None:
        """A passage by its public reference."""
        query = select(LanePassageRow).where(LanePassageRow.ref == ref)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def waiting_passages(self, stay_id: int) -> list[LanePassageRow]:
        """Exit passages of a stay still waiting for payment or a human."""
        query = select(LanePassageRow).where(
            LanePassageRow.stay_id == stay_id,
            LanePassageRow.status.in_(("awaiting_payment", "held")),
        )
        return list(await self._session.scalars(query))

    async def open_tasks(self) -> list[tuple[AttendantTaskRow, LanePassageRow | None]]:
        """The remote attendant's queue, oldest first."""
        query = (
            select(AttendantTaskRow, LanePassageRow)
            .outerjoin(LanePassageRow, LanePassageRow.id == AttendantTaskRow.passage_id)
            .where(AttendantTaskRow.status == "open")
            .order_by(AttendantTaskRow.created_at, AttendantTaskRow.id)
        )
        return [(t, p) for t, p in (await self._session.execute(query)).all()]

    async def task(self, task_id: int) -> AttendantTaskRow | None:
        """One task of the queue."""
        return await self._session.get(AttendantTaskRow, task_id)

    async def open_task_for(self, lane_id: int, reason: str) -> AttendantTaskRow | None:
        """An open task of a lane for a reason without a passage (fault, intercom)."""
        query = select(AttendantTaskRow).where(
            AttendantTaskRow.lane_id == lane_id,
            AttendantTaskRow.reason == reason,
            AttendantTaskRow.status == "open",
        )
        return (await self._session.execute(query.limit(1))).scalar_one_or_none()

    async def passage(self, passage_id: int) -> LanePassageRow:
        """A passage by id."""
        return await self._session.get_one(LanePassageRow, passage_id)

    async def open_shift(self, staff_id: int) -> CashierShiftRow | None:
        """The cashier's open shift, if any."""
        query = select(CashierShiftRow).where(
            CashierShiftRow.staff_id == staff_id, CashierShiftRow.status == "open"
        )
        return (await self._session.execute(query)).scalar_one_or_none()

    async def shift_by_ref(self, ref: str) -> CashierShiftRow | None:
        """A shift by its reference."""
        query = select(CashierShiftRow).where(CashierShiftRow.ref == ref)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def takings(self, shift_id: int) -> list[ShiftTakingRow]:
        """Everything taken during a shift, in order."""
        query = (
            select(ShiftTakingRow)
            .where(ShiftTakingRow.shift_id == shift_id)
            .order_by(ShiftTakingRow.id)
        )
        return list(await self._session.scalars(query))

    async def merchant(self, code: str) -> MerchantRow | None:
        """A merchant by its code."""
        query = select(MerchantRow).where(MerchantRow.code == code)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def validation(self, nonce: str) -> MerchantValidationRow | None:
        """A redeemed validation by its nonce."""
        query = select(MerchantValidationRow).where(MerchantValidationRow.nonce == nonce)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def validations_for_stay(
        self, stay_id: int
    ) -> list[tuple[MerchantValidationRow, MerchantRow]]:
        """Validations redeemed for a stay, with their merchants."""
        query = (
            select(MerchantValidationRow, MerchantRow)
            .join(MerchantRow, MerchantRow.id == MerchantValidationRow.merchant_id)
            .where(MerchantValidationRow.stay_id == stay_id)
            .order_by(MerchantValidationRow.id)
        )
        return [(v, m) for v, m in (await self._session.execute(query)).all()]

    async def merchant_usage(
        self, merchant_id: int, since: datetime, until: datetime
    ) -> list[MerchantValidationRow]:
        """A merchant's validations redeemed in a window."""
        query = (
            select(MerchantValidationRow)
            .where(
                MerchantValidationRow.merchant_id == merchant_id,
                MerchantValidationRow.redeemed_at >= since,
                MerchantValidationRow.redeemed_at < until,
            )
            .order_by(MerchantValidationRow.redeemed_at)
        )
        return list(await self._session.scalars(query))
