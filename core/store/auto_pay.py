"""Tables and repository of auto-pay: plates' service state, stays' entries, steps, combines."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.payments import OPEN_STATUSES
from core.store.activity import StayRow
from core.store.base import Base
from core.store.city import OperatorRow
from core.store.payments import PaymentRow


class PlateServiceRow(Base):
    """A driver's plate as WeChat Pay's parking service last said: normal, paused or out."""

    __tablename__ = "plate_services"
    __table_args__ = (UniqueConstraint("driver_id", "plate"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("drivers.id"), index=True)
    plate: Mapped[str] = mapped_column(String(16), index=True)
    plate_colour: Mapped[str] = mapped_column(String(10))
    openid: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    checked_at: Mapped[datetime]


class StayParkingRow(Base):
    """A stay told to the parking service (创建停车入场), and its deduction once asked."""

    __tablename__ = "stay_parkings"

    id: Mapped[int] = mapped_column(primary_key=True)
    stay_ref: Mapped[str] = mapped_column(String(32), unique=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("drivers.id"))
    plate: Mapped[str] = mapped_column(String(16))
    plate_colour: Mapped[str] = mapped_column(String(10))
    openid: Mapped[str] = mapped_column(String(64))
    sub_mchid: Mapped[str] = mapped_column(String(32))
    out_parking_no: Mapped[str] = mapped_column(String(32))
    parking_id: Mapped[str | None] = mapped_column(String(64))
    # entering (not answered yet), deductible, blocked, deducting, deducted, failed
    state: Mapped[str] = mapped_column(String(16), index=True)
    block_reason: Mapped[str | None] = mapped_column(String(64))
    out_trade_no: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]


class AutoPayStepRow(Base):
    """One step of auto-pay as it happened, for finance's reconciliation."""

    __tablename__ = "auto_pay_steps"
    __table_args__ = (Index("ix_auto_pay_steps_stay_ref_at", "stay_ref", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    step: Mapped[str] = mapped_column(String(24))
    outcome: Mapped[str] = mapped_column(String(24))
    stay_ref: Mapped[str | None] = mapped_column(String(32))
    out_trade_no: Mapped[str | None] = mapped_column(String(32), index=True)
    detail: Mapped[dict[str, Any]]


class CombinePartRow(Base):
    """One sub-order (a stay's payment) of a combined payment (合单)."""

    __tablename__ = "combine_parts"

    out_trade_no: Mapped[str] = mapped_column(String(32), primary_key=True)
    combine_out_trade_no: Mapped[str] = mapped_column(String(32), index=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("drivers.id"))
    created_at: Mapped[datetime]


class AutoPayRepository:
    """Reads and writes of auto-pay's tables."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def any_sub_mchid(self) -> str | None:
        """A sub-merchant to ask the service provider's questions through (find needs one)."""
        found = await self._session.execute(
            select(OperatorRow.sub_mchid).order_by(OperatorRow.id).limit(1)
        )
        return found.scalar_one_or_none()

    async def service(self, driver_id: int, plate: str) -> PlateServiceRow | None:
        found = await self._session.execute(
            select(PlateServiceRow).where(
                PlateServiceRow.driver_id == driver_id, PlateServiceRow.plate == plate
            )
        )
        return found.scalar_one_or_none()

    async def authorised_for(self, plate: str) -> PlateServiceRow | None:
        """The newest normal service of a plate, whichever driver opened it."""
        found = await self._session.execute(
            select(PlateServiceRow)
            .where(PlateServiceRow.plate == plate, PlateServiceRow.state == "normal")
            .order_by(PlateServiceRow.checked_at.desc())
            .limit(1)
        )
        return found.scalar_one_or_none()

    def add(self, row: PlateServiceRow | StayParkingRow | AutoPayStepRow | CombinePartRow) -> None:
        self._session.add(row)

    async def parking(self, stay_ref: str) -> StayParkingRow | None:
        found = await self._session.execute(
            select(StayParkingRow).where(StayParkingRow.stay_ref == stay_ref)
        )
        return found.scalar_one_or_none()

    async def parking_by_entry(self, out_parking_no: str, sub_mchid: str) -> StayParkingRow | None:
        found = await self._session.execute(
            select(StayParkingRow).where(
                StayParkingRow.out_parking_no == out_parking_no,
                StayParkingRow.sub_mchid == sub_mchid,
            )
        )
        return found.scalar_one_or_none()

    async def parking_of_payment(self, out_trade_no: str) -> StayParkingRow | None:
        found = await self._session.execute(
            select(StayParkingRow).where(StayParkingRow.out_trade_no == out_trade_no)
        )
        return found.scalar_one_or_none()

    async def stays_to_enter(self, limit: int = 100) -> list[tuple[StayRow, PlateServiceRow]]:
        """Open stays of plates with a normal service that were not told to WeChat Pay yet."""
        told = select(StayParkingRow.stay_ref).scalar_subquery()
        found = await self._session.execute(
            select(StayRow, PlateServiceRow)
            .join(PlateServiceRow, PlateServiceRow.plate == StayRow.plate)
            .where(
                StayRow.status == "open",
                PlateServiceRow.state == "normal",
                StayRow.ref.not_in(told),
            )
            .order_by(StayRow.id)
            .limit(limit)
        )
        seen: dict[str, tuple[StayRow, PlateServiceRow]] = {}
        for stay, service in found.tuples():
            seen.setdefault(stay.ref, (stay, service))
        return list(seen.values())

    async def parkings_in(self, states: tuple[str, ...], limit: int = 100) -> list[StayParkingRow]:
        found = await self._session.execute(
            select(StayParkingRow)
            .where(StayParkingRow.state.in_(states))
            .order_by(StayParkingRow.id)
            .limit(limit)
        )
        return list(found.scalars())

    async def steps(self, stay_ref: str) -> list[AutoPayStepRow]:
        found = await self._session.execute(
            select(AutoPayStepRow)
            .where(AutoPayStepRow.stay_ref == stay_ref)
            .order_by(AutoPayStepRow.id)
        )
        return list(found.scalars())

    async def open_combines_before(self, moment: datetime, limit: int = 50) -> list[str]:
        """Combined orders with a sub-order still unpaid and open, made before `moment`."""
        found = await self._session.execute(
            select(CombinePartRow.combine_out_trade_no)
            .join(PaymentRow, PaymentRow.out_trade_no == CombinePartRow.out_trade_no)
            .where(
                PaymentRow.status.in_([s.value for s in OPEN_STATUSES]),
                CombinePartRow.created_at < moment,
            )
            .distinct()
            .order_by(CombinePartRow.combine_out_trade_no)
            .limit(limit)
        )
        return list(found.scalars())

    async def combine_parts(self, combine_out_trade_no: str) -> list[CombinePartRow]:
        found = await self._session.execute(
            select(CombinePartRow).where(
                CombinePartRow.combine_out_trade_no == combine_out_trade_no
            )
        )
        return list(found.scalars())
