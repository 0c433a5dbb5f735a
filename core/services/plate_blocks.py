"""Use cases of the block list (禁入名单): block a plate in one lot or all, lift it, list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.clock import Clock
from core.errors import ConflictError, NotFoundError
from core.plates import parse_plate
from core.services import audit
from core.services.lot_places import OutOfScopeError, check_lot, lot_for, lots_covered
from core.staff import StaffIdentity
from core.store.lots import PlateBlockRow
from core.store.unit_of_work import UnitOfWork

Actor = StaffIdentity | str


class BlockNotFoundError(NotFoundError):
    """No block-list entry has this id."""

    code = "block_not_found"
    message_zh = "禁入记录不存在"


class AlreadyBlockedError(ConflictError):
    """The plate already has an active block of the same reach."""

    code = "already_blocked"
    message_zh = "该车牌已在禁入名单中"


class BlockLiftedError(ConflictError):
    """The block was lifted before."""

    code = "block_lifted"
    message_zh = "该禁入记录已解除"


@dataclass(frozen=True, slots=True)
class BlockView:
    """A block-list entry; `lot` None means every lot."""

    id: int
    plate: str
    lot: str | None
    reason: str
    active: bool
    created_by: str
    created_at: datetime
    lifted_by: str | None
    lifted_at: datetime | None


async def _view(uow: UnitOfWork, row: PlateBlockRow) -> BlockView:
    lot = None if row.lot_id is None else (await uow.lot_admin.lot(row.lot_id)).code
    return BlockView(
        row.id,
        row.plate,
        lot,
        row.reason,
        row.active,
        row.created_by,
        row.created_at,
        row.lifted_by,
        row.lifted_at,
    )


def _name(actor: Actor) -> str:
    return actor.actor if isinstance(actor, StaffIdentity) else actor


async def block_plate(
    uow: UnitOfWork, clock: Clock, actor: Actor, plate: str, lot_code: str | None, *, reason: str
) -> BlockView:
    """Put a plate on one lot's block list, or every lot's (city-wide accounts only); commits."""
    number = parse_plate(plate).number
    why = reason.strip()
    lot = await lot_for(uow, actor, lot_code) if lot_code is not None else None
    if lot is None and isinstance(actor, StaffIdentity) and not actor.scope.city_wide:
        raise OutOfScopeError("只有全市范围的账号可以在所有停车场禁入", detail="all lots")
    lot_id = lot.id if lot is not None else None
    if lot is not None:
        await uow.lots.lock_lot(lot.id)
    if await uow.lot_admin.active_block(lot_id, number) is not None:
        raise AlreadyBlockedError(detail=number)
    row = PlateBlockRow(
        lot_id=lot_id,
        plate=number,
        reason=why,
        created_by=_name(actor),
        created_at=clock.now(),
        active=True,
    )
    uow.lot_admin.add(row)
    await uow.lot_admin.flush()
    view = await _view(uow, row)
    details = {"plate": number, "lot": view.lot or "*"}
    await audit.record(uow, clock, actor, "plate_block.add", f"plate_block:{row.id}", why, details)
    await uow.commit()
    return view


async def lift_block(
    uow: UnitOfWork, clock: Clock, actor: Actor, block_id: int, *, reason: str
) -> BlockView:
    """Lift a block: the entry is kept, inactive, with who lifted it and when; commits."""
    row = await uow.lot_admin.block(block_id, for_update=True)
    if row is None:
        raise BlockNotFoundError(detail=str(block_id))
    if row.lot_id is not None:
        await check_lot(uow, actor, await uow.lot_admin.lot(row.lot_id))
    elif isinstance(actor, StaffIdentity) and not actor.scope.city_wide:
        raise OutOfScopeError("只有全市范围的账号可以解除所有停车场的禁入", detail="all lots")
    if not row.active:
        raise BlockLiftedError(detail=str(block_id))
    row.active = False
    row.lifted_by = _name(actor)
    row.lifted_at = clock.now()
    view = await _view(uow, row)
    details = {"plate": row.plate, "lot": view.lot or "*", "blocked_for": row.reason}
    target = f"plate_block:{row.id}"
    await audit.record(uow, clock, actor, "plate_block.lift", target, reason, details)
    await uow.commit()
    return view


async def list_blocks(
    uow: UnitOfWork,
    actor: Actor,
    *,
    lot_code: str | None = None,
    plate: str | None = None,
    active: bool | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> tuple[list[BlockView], int | None]:
    """Block-list entries (a lot's list includes every-lot blocks) and the id to go on after."""
    lot_id = None
    if lot_code is not None:
        lot_id = (await lot_for(uow, actor, lot_code)).id
    number = parse_plate(plate).number if plate is not None else None
    rows = await uow.lot_admin.blocks_page(
        lot_id=lot_id, plate=number, active=active, after_id=after_id, limit=limit
    )
    next_after = rows[-1].id if len(rows) == limit else None
    covered = await lots_covered(uow, actor)
    if covered is not None and lot_id is None:
        mine = {lot.id for lot in covered}
        rows = [row for row in rows if row.lot_id is None or row.lot_id in mine]
    return [await _view(uow, row) for row in rows], next_after
