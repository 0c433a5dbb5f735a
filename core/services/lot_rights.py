"""Use cases of lot rights (passes, cards, residents' spaces): create, plates, extend, cancel, read.

Each change is audited and, unless `commit=False`, committed. With `commit=False` it joins the
caller's transaction (a paid pass or top-up posts its ledger entry there and commits both).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.clock import Clock
from core.errors import ConflictError, NotFoundError
from core.lot_rights import (
    MAX_PLATES,
    RightInvalidError,
    RightKind,
    check_plates,
    check_terms,
    whole_days,
)
from core.money import format_yuan
from core.services import audit
from core.services.lot_places import check_lot, lot_for, lots_covered
from core.staff import StaffIdentity
from core.store.activity import StayRow
from core.store.city import LotRow
from core.store.lots import LotRightPlateRow, LotRightRow
from core.store.unit_of_work import UnitOfWork

Actor = StaffIdentity | str


class RightNotFoundError(NotFoundError):
    """No right has this reference."""

    code = "right_not_found"
    message_zh = "权益不存在"


class RightNotActiveError(ConflictError):
    """The right was cancelled; it changes no more."""

    code = "right_not_active"
    message_zh = "该权益已取消，不能再修改"


class RightOverlapError(ConflictError):
    """A plate would hold two rights of one kind in one lot at the same time."""

    code = "right_overlaps"
    message_zh = "车牌已有有效期重叠的同类权益"


class SoldSpacesFullError(ConflictError):
    """Every sold space of the lot (业主车位) is already registered to an owner."""

    code = "sold_spaces_full"
    message_zh = "本停车场已售车位已全部登记"


class RightPlateError(ConflictError):
    """A plate to add is already on the right, or one to remove is not."""

    code = "right_plate_conflict"
    message_zh = "车牌变更与权益现有车牌不符"


class BalanceLeftError(ConflictError):
    """A stored-value card still holds money: it is refunded before it is cancelled."""

    code = "balance_left"
    message_zh = "储值卡仍有余额，请先办理退款"


@dataclass(frozen=True, slots=True)
class RightView:
    """A right as staff see it."""

    ref: str
    lot: str
    kind: str
    holder: str
    plates: list[str]
    spaces: int
    valid_from: datetime
    valid_until: datetime
    windows: str | None
    balance_fen: int
    status: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RightDetail:
    """One right with the newest stays that entered with it."""

    right: RightView
    uses: list[StayRow]


def view_of(right: LotRightRow, lot_code: str, plates: Sequence[str]) -> RightView:
    """The staff view of a stored right."""
    return RightView(
        right.ref,
        lot_code,
        right.kind,
        right.holder,
        sorted(plates),
        right.spaces,
        right.valid_from,
        right.valid_until,
        right.windows,
        right.balance_fen,
        right.status,
        right.created_at,
    )


def _holder(text: str) -> str:
    holder = text.strip()
    if not 1 <= len(holder) <= 64:
        raise RightInvalidError("持有人须为1至64个字符")
    return holder


async def create_right(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    *,
    lot_code: str,
    kind: RightKind,
    holder: str,
    plates: Sequence[str],
    valid_from: datetime,
    valid_until: datetime,
    reason: str,
    spaces: int = 1,
    windows: Sequence[str] = (),
    balance_fen: int = 0,
    commit: bool = True,
) -> RightView:
    """Create a right in a lot: no plate may then hold two overlapping rights of one kind
    there, and owned spaces stay within the lot's sold spaces."""
    lot = await lot_for(uow, actor, lot_code)
    terms = check_terms(kind, plates, spaces, valid_from, valid_until, windows, balance_fen)
    name = _holder(holder)
    await uow.lots.lock_lot(lot.id)  # one change of a lot's rights at a time (PostgreSQL)
    await _no_overlap(uow, lot, kind, terms.plates, terms.valid_from, terms.valid_until, None)
    if kind is RightKind.OWNED_SPACE:
        await _within_sold_spaces(uow, clock, lot, terms.spaces, None)
    right = LotRightRow(
        ref=f"{kind.prefix}-{uuid.uuid4().hex[:12].upper()}",
        lot_id=lot.id,
        kind=kind.value,
        holder=name,
        spaces=terms.spaces,
        valid_from=terms.valid_from,
        valid_until=terms.valid_until,
        windows=terms.windows,
        balance_fen=terms.balance_fen,
        status="active",
        created_at=clock.now(),
    )
    uow.lot_admin.add(right)
    await uow.lot_admin.flush()
    for plate in terms.plates:
        uow.lot_admin.add(LotRightPlateRow(right_id=right.id, plate=plate))
    await uow.lot_admin.flush()
    view = view_of(right, lot.code, terms.plates)
    details = _details(view) | {"opening_balance_fen": terms.balance_fen}
    await _finish(uow, clock, actor, "lot_right.create", right, reason, details, commit)
    return view


async def change_plates(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    ref: str,
    *,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
    reason: str,
    commit: bool = True,
) -> RightView:
    """Add and remove plates of an active right (一位多车); a right keeps at least as many
    plates as spaces, and an added plate must not hold another right of the kind then."""
    right, lot = await _active(uow, actor, ref)
    adding = check_plates(add) if add else ()
    removing = check_plates(remove) if remove else ()
    if not adding and not removing:
        raise RightInvalidError("请填写要增加或移除的车牌")
    if set(adding) & set(removing):
        raise RightInvalidError("同一车牌不能同时增加和移除")
    rows = {row.plate: row for row in await uow.lot_admin.plate_rows(right.id)}
    if already := [plate for plate in adding if plate in rows]:
        raise RightPlateError(f"车牌{'、'.join(already)}已在该权益中")
    if missing := [plate for plate in removing if plate not in rows]:
        raise RightPlateError(f"该权益没有车牌{'、'.join(missing)}")
    left = len(rows) + len(adding) - len(removing)
    if left < 1 or left < right.spaces:
        raise RightInvalidError("车牌数不能少于车位数")
    if left > MAX_PLATES:
        raise RightInvalidError(f"车牌数量须为1至{MAX_PLATES}个")
    if adding:
        await uow.lots.lock_lot(lot.id)
        kind = RightKind(right.kind)
        await _no_overlap(uow, lot, kind, adding, right.valid_from, right.valid_until, right.id)
    for plate in removing:
        await uow.lot_admin.delete(rows[plate])
    for plate in adding:
        uow.lot_admin.add(LotRightPlateRow(right_id=right.id, plate=plate))
    await uow.lot_admin.flush()
    plates = sorted((set(rows) | set(adding)) - set(removing))
    details = {"added": list(adding), "removed": list(removing), "plates": plates}
    await _finish(uow, clock, actor, "lot_right.plates", right, reason, details, commit)
    return view_of(right, lot.code, plates)


async def extend_right(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    ref: str,
    valid_until: datetime,
    *,
    reason: str,
    commit: bool = True,
) -> RightView:
    """Renew an active right to a later end (whole days for passes and spaces)."""
    right, lot = await _active(uow, actor, ref)
    kind = RightKind(right.kind)
    until = whole_days(right.valid_from, valid_until)[1] if kind.whole_days else valid_until
    if until <= right.valid_until:
        raise RightInvalidError("新的截止时间须晚于原截止时间")
    plates = await uow.lots.right_plates(right.id)
    await uow.lots.lock_lot(lot.id)
    await _no_overlap(uow, lot, kind, plates, right.valid_until, until, right.id)
    if kind is RightKind.OWNED_SPACE and right.valid_until <= clock.now():
        await _within_sold_spaces(uow, clock, lot, right.spaces, right.id)  # it comes back
    before = right.valid_until
    right.valid_until = until
    details = {"valid_until_before": before.isoformat(), "valid_until": until.isoformat()}
    await _finish(uow, clock, actor, "lot_right.extend", right, reason, details, commit)
    return view_of(right, lot.code, plates)


async def cancel_right(
    uow: UnitOfWork, clock: Clock, actor: Actor, ref: str, *, reason: str, commit: bool = True
) -> RightView:
    """Cancel an active right; a card with money left is refunded first, elsewhere."""
    right, lot = await _active(uow, actor, ref)
    if right.balance_fen > 0:
        raise BalanceLeftError(f"储值卡仍有余额{format_yuan(right.balance_fen)}元，请先办理退款")
    right.status = "cancelled"
    plates = await uow.lots.right_plates(right.id)
    details = {"plates": plates, "valid_until": right.valid_until.isoformat()}
    await _finish(uow, clock, actor, "lot_right.cancel", right, reason, details, commit)
    return view_of(right, lot.code, plates)


async def list_rights(
    uow: UnitOfWork,
    actor: Actor,
    *,
    lot_code: str | None = None,
    plate: str | None = None,
    kind: RightKind | None = None,
    status: str | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> tuple[list[RightView], int | None]:
    """Rights in the actor's lots, filtered, a page at a time; and the id to continue after."""
    if lot_code is not None:
        lot_ids: list[int] | None = [(await lot_for(uow, actor, lot_code)).id]
    else:
        lots = await lots_covered(uow, actor)
        lot_ids = None if lots is None else [lot.id for lot in lots]
    number = check_plates([plate])[0] if plate is not None else None
    rows = await uow.lot_admin.rights_page(
        lot_ids=lot_ids,
        plate=number,
        kind=kind.value if kind else None,
        status=status,
        after_id=after_id,
        limit=limit,
    )
    plates = await uow.lot_admin.plates_of([right.id for right, _ in rows])
    views = [view_of(right, code, plates[right.id]) for right, code in rows]
    return views, rows[-1][0].id if len(rows) == limit else None


async def right_detail(uow: UnitOfWork, actor: Actor, ref: str, *, uses: int = 20) -> RightDetail:
    """One right with the newest stays that entered with it."""
    right = await uow.lot_admin.right_by_ref(ref)
    if right is None:
        raise RightNotFoundError(detail=ref)
    lot = await uow.lot_admin.lot(right.lot_id)
    await check_lot(uow, actor, lot)
    plates = await uow.lots.right_plates(right.id)
    used = await uow.lot_admin.right_uses(right.id, uses)
    return RightDetail(view_of(right, lot.code, plates), used)


async def _active(uow: UnitOfWork, actor: Actor, ref: str) -> tuple[LotRightRow, LotRow]:
    right = await uow.lot_admin.right_by_ref(ref, for_update=True)
    if right is None:
        raise RightNotFoundError(detail=ref)
    lot = await uow.lot_admin.lot(right.lot_id)
    await check_lot(uow, actor, lot)
    if right.status != "active":
        raise RightNotActiveError(detail=ref)
    return right, lot


async def _no_overlap(
    uow: UnitOfWork,
    lot: LotRow,
    kind: RightKind,
    plates: Sequence[str],
    since: datetime,
    until: datetime,
    exclude_id: int | None,
) -> None:
    """Entry lanes take one right per kind and exit pricing one card per plate, so a plate
    holds at most one right of a kind in a lot at any moment."""
    found = await uow.lot_admin.same_kind_overlaps(
        lot.id, kind.value, plates, since, until, exclude_id=exclude_id
    )
    if found:
        other, plate = found[0]
        raise RightOverlapError(
            f"车牌{plate}在本停车场已有有效期重叠的同类权益（{other.ref}）", detail=other.ref
        )


async def _within_sold_spaces(
    uow: UnitOfWork, clock: Clock, lot: LotRow, spaces: int, exclude_id: int | None
) -> None:
    """Owned spaces (业主车位) are the lot's sold spaces: never more owners than that."""
    policy = await uow.lots.policy(lot.id)
    sold = policy.sold_spaces if policy is not None else 0
    taken = await uow.lot_admin.owned_spaces(lot.id, clock.now(), exclude_id=exclude_id)
    if taken + spaces > sold:
        raise SoldSpacesFullError(
            f"本停车场已售车位{sold}个，已登记{taken}个，不能再登记{spaces}个", detail=lot.code
        )


def _details(view: RightView) -> dict[str, Any]:
    return {
        "lot": view.lot,
        "kind": view.kind,
        "holder": view.holder,
        "plates": view.plates,
        "spaces": view.spaces,
        "valid_from": view.valid_from.isoformat(),
        "valid_until": view.valid_until.isoformat(),
        "windows": view.windows,
    }


async def _finish(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    action: str,
    right: LotRightRow,
    reason: str,
    details: dict[str, Any],
    commit: bool,
) -> None:
    await audit.record(uow, clock, actor, action, f"lot_right:{right.ref}", reason, details)
    if commit:
        await uow.commit()
