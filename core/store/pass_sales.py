"""Tables and reads of what lots sell drivers online: pass products and orders of rights."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    String,
    UniqueConstraint,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.store.base import Base
from core.store.city import LotRow
from core.store.lots import LotRightPlateRow, LotRightRow


class PassProductRow(Base):
    """A monthly pass a lot sells (seeded for now): class, price per month, online or not."""

    __tablename__ = "pass_products"
    __table_args__ = (
        UniqueConstraint("lot_id", "code"),
        CheckConstraint("month_fen > 0", name="month_fen_positive"),
        CheckConstraint("max_months BETWEEN 1 AND 36", name="max_months"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    vehicle_class: Mapped[str] = mapped_column(String(16))
    month_fen: Mapped[int] = mapped_column(BigInteger)
    online: Mapped[bool] = mapped_column(default=True)
    max_months: Mapped[int] = mapped_column(default=12)
    active: Mapped[bool] = mapped_column(default=True)


class RightOrderRow(Base):
    """A driver's order of a pass or a top-up, paid by one payment and applied once."""

    __tablename__ = "right_orders"
    __table_args__ = (
        CheckConstraint("kind IN ('pass', 'top_up')", name="kind"),
        CheckConstraint(
            "kind = 'top_up' OR (product_id IS NOT NULL AND months >= 1)", name="pass_has_product"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    out_trade_no: Mapped[str] = mapped_column(ForeignKey("payments.out_trade_no"), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    driver_id: Mapped[int] = mapped_column(ForeignKey("drivers.id"), index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"))
    plate: Mapped[str] = mapped_column(String(16))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("pass_products.id"))
    months: Mapped[int | None]
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    # Set once, when the settled payment is applied: the right made or changed, and how.
    right_id: Mapped[int | None] = mapped_column(ForeignKey("lot_rights.id"), index=True)
    applied_at: Mapped[datetime | None]
    valid_until_before: Mapped[datetime | None]
    valid_until_after: Mapped[datetime | None]


class PassSalesRepository:
    """Products, orders, and the rights an order changes; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def products(self, lot_id: int) -> list[PassProductRow]:
        """The active products of a lot, by code."""
        query = (
            select(PassProductRow)
            .where(PassProductRow.lot_id == lot_id, PassProductRow.active.is_(True))
            .order_by(PassProductRow.code)
        )
        return list(await self._session.scalars(query))

    async def product(self, lot_id: int, code: str) -> PassProductRow | None:
        """An active product of a lot by its code."""
        query = select(PassProductRow).where(
            PassProductRow.lot_id == lot_id,
            PassProductRow.code == code,
            PassProductRow.active.is_(True),
        )
        return (await self._session.execute(query)).scalar_one_or_none()

    async def product_by_id(self, product_id: int) -> PassProductRow:
        """A product by id."""
        return await self._session.get_one(PassProductRow, product_id)

    async def add(self, row: PassProductRow | RightOrderRow | LotRightRow) -> None:
        """Record a new row; its id is set on return."""
        self._session.add(row)
        await self._session.flush()

    async def add_plate(self, right_id: int, plate: str) -> None:
        """Let a right cover a plate."""
        self._session.add(LotRightPlateRow(right_id=right_id, plate=plate))
        await self._session.flush()

    async def order(self, out_trade_no: str) -> RightOrderRow | None:
        """The order a payment pays."""
        query = select(RightOrderRow).where(RightOrderRow.out_trade_no == out_trade_no)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def claim(self, order: RightOrderRow, at: datetime) -> bool:
        """Mark an order applied; False when another transaction applied it first."""
        result = await self._session.execute(
            update(RightOrderRow)
            .where(RightOrderRow.id == order.id, RightOrderRow.applied_at.is_(None))
            .values(applied_at=at)
            .execution_options(synchronize_session=False)
        )
        return getattr(result, "rowcount", 0) == 1

    async def pass_in_force(
        self, lot_id: int, plate: str, at: datetime, *, for_update: bool = False
    ) -> LotRightRow | None:
        """The all-day monthly pass of a plate in a lot that ends last after `at`."""
        query = (
            select(LotRightRow)
            .join(LotRightPlateRow, LotRightPlateRow.right_id == LotRightRow.id)
            .where(
                LotRightRow.lot_id == lot_id,
                LotRightPlateRow.plate == plate,
                LotRightRow.kind == "monthly",
                LotRightRow.status == "active",
                LotRightRow.windows.is_(None),
                LotRightRow.valid_until > at,
            )
            .order_by(LotRightRow.valid_until.desc(), LotRightRow.id.desc())
            .limit(1)
        )
        if for_update:
            query = query.with_for_update(of=LotRightRow)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def card(self, lot_id: int, plate: str) -> LotRightRow | None:
        """The newest active stored-value card of a plate in a lot, locked."""
        query = (
            select(LotRightRow)
            .join(LotRightPlateRow, LotRightPlateRow.right_id == LotRightRow.id)
            .where(
                LotRightRow.lot_id == lot_id,
                LotRightPlateRow.plate == plate,
                LotRightRow.kind == "stored_value",
                LotRightRow.status == "active",
            )
            .order_by(LotRightRow.id.desc())
            .limit(1)
            .with_for_update(of=LotRightRow)
        )
        return (await self._session.execute(query)).scalar_one_or_none()

    async def right_for_update(self, right_id: int) -> LotRightRow:
        """A right by id, locked until the transaction ends."""
        query = select(LotRightRow).where(LotRightRow.id == right_id).with_for_update()
        return (await self._session.execute(query)).scalar_one()

    async def rights_of(
        self, plates: Sequence[str], right_ids: Sequence[int], at: datetime
    ) -> list[tuple[LotRightRow, LotRow, str]]:
        """Monthly passes and cards covering some plates, or with some ids, not yet ended."""
        query = (
            select(LotRightRow, LotRow, LotRightPlateRow.plate)
            .join(LotRightPlateRow, LotRightPlateRow.right_id == LotRightRow.id)
            .join(LotRow, LotRow.id == LotRightRow.lot_id)
            .where(
                or_(LotRightPlateRow.plate.in_(plates), LotRightRow.id.in_(right_ids)),
                LotRightRow.kind.in_(("monthly", "stored_value")),
                LotRightRow.status == "active",
                or_(LotRightRow.valid_until > at, LotRightRow.balance_fen > 0),
            )
            .order_by(LotRow.code, LotRightRow.id, LotRightPlateRow.plate)
        )
        return [(r, lot, plate) for r, lot, plate in (await self._session.execute(query)).all()]

    async def rights_ordered_by(self, driver_id: int) -> list[int]:
        """Rights a driver's applied orders made or changed."""
        query = select(RightOrderRow.right_id).where(
            RightOrderRow.driver_id == driver_id, RightOrderRow.right_id.is_not(None)
        )
        return sorted({r for r in await self._session.scalars(query) if r is not None})
