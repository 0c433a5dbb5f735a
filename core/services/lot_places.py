"""Which lots a staff account may manage: a lot by code, checked against the account's scope."""

from __future__ import annotations

from core.errors import NotFoundError, PermissionDeniedError
from core.staff import StaffIdentity, covers
from core.store.city import LotRow
from core.store.unit_of_work import UnitOfWork


class LotNotFoundError(NotFoundError):
    """No lot has this code."""

    code = "lot_not_found"
    message_zh = "停车场不存在"


class OutOfScopeError(PermissionDeniedError):
    """The lot is outside the account's scope."""

    code = "out_of_scope"
    message_zh = "该停车场不在您的管辖范围内"


async def covered(uow: UnitOfWork, actor: StaffIdentity | str, lot: LotRow) -> bool:
    """Whether the actor may act on a lot; system actors (a payment, the CLI) always may."""
    if not isinstance(actor, StaffIdentity) or actor.scope.city_wide:
        return True
    operator, district = await uow.lots.lot_place_codes(lot)
    return covers(actor.scope, operator, district, lot.code)


async def check_lot(uow: UnitOfWork, actor: StaffIdentity | str, lot: LotRow) -> None:
    """Raise OutOfScopeError unless the actor covers the lot."""
    if not await covered(uow, actor, lot):
        raise OutOfScopeError(detail=f"{lot.code}")


async def lot_for(uow: UnitOfWork, actor: StaffIdentity | str, lot_code: str) -> LotRow:
    """The lot with this code, if the actor covers it."""
    lot = await uow.city.lot_by_code(lot_code)
    if lot is None:
        raise LotNotFoundError(detail=lot_code)
    await check_lot(uow, actor, lot)
    return lot


async def lots_covered(uow: UnitOfWork, actor: StaffIdentity | str) -> list[LotRow] | None:
    """The lots the actor covers; None means every lot (city-wide)."""
    if not isinstance(actor, StaffIdentity) or actor.scope.city_wide:
        return None
    return [lot for lot in await uow.lot_admin.lots() if await covered(uow, actor, lot)]
