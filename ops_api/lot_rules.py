"""Staff routes of a lot's entry rules: the block list (禁入名单) and the lot policy."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, Field, StringConstraints

from core.lot_policies import PolicyInvalidError
from core.services import lot_policies, plate_blocks
from core.staff import Permission
from ops_api.auth import acting_staff
from server.http import ApiRoutes, json_response
from server.input_limits import INT32_MAX, parse_row_id
from server.resources import clock, unit_of_work

routes = ApiRoutes("ops")

Reason = Annotated[str, StringConstraints(min_length=2, max_length=500, strip_whitespace=True)]
PlateText = Annotated[str, StringConstraints(min_length=1, max_length=16, strip_whitespace=True)]
Action = Literal["refuse", "flag"]


class BlockIn(BaseModel):
    """A plate to block in one lot, or in every lot when `lot` is absent; why is kept."""

    plate: PlateText
    lot: str | None = Field(None, min_length=1, max_length=32)
    reason: Reason


class BlockLiftIn(BaseModel):
    """Why the block is lifted."""

    reason: Reason


class BlockOut(BaseModel):
    """A block-list entry; `lot` null means every lot."""

    id: int
    plate: str
    lot: str | None
    reason: str
    active: bool
    created_by: str
    created_at: datetime
    lifted_by: str | None
    lifted_at: datetime | None


class BlocksQuery(BaseModel):
    """Filters and keyset page of the block list."""

    lot: str | None = Field(None, max_length=32)
    plate: PlateText | None = None
    active: bool | None = None
    after: int | None = Field(None, ge=0, le=INT32_MAX)
    limit: int = Field(50, ge=1, le=200)


class BlocksOut(BaseModel):
    """One page of the block list."""

    items: list[BlockOut]
    next_after: int | None


class PolicyOut(BaseModel):
    """A lot's entry policy in force."""

    lot: str
    hospital: bool = Field(description="hospital lots only ever flag")
    capacity: int
    own_row: bool = Field(description="false: the defaults of the lot's kind apply")
    owned_spaces: int = Field(description="sold spaces registered to owners now")
    sold_spaces: int
    temporary_capacity: int | None
    block_action: str
    arrears_threshold_fen: int | None
    arrears_action: str
    stale_after_hours: int
    min_confidence: int
    collect_arrears_at_exit: bool = Field(
        description="the exit fee shows the plate's other unpaid stays, paid in one payment"
    )


class PolicyIn(BaseModel):
    """Fields to change (absent ones stay); null clears a temporary share or threshold."""

    sold_spaces: int | None = Field(None, ge=0, le=100_000)
    temporary_capacity: int | None = Field(None, ge=0, le=100_000)
    block_action: Action | None = None
    arrears_threshold_fen: int | None = Field(None, ge=1, le=10_000_000)
    arrears_action: Action | None = None
    stale_after_hours: int | None = Field(None, ge=1, le=24 * 365)
    min_confidence: int | None = Field(None, ge=0, le=100)
    collect_arrears_at_exit: bool | None = None
    reason: Reason


_NULLABLE = frozenset({"temporary_capacity", "arrears_threshold_fen"})


def _block_out(view: plate_blocks.BlockView) -> BlockOut:
    return BlockOut.model_validate(view, from_attributes=True)


def _policy_out(view: lot_policies.PolicyView) -> PolicyOut:
    return PolicyOut(
        lot=view.lot,
        hospital=view.hospital,
        capacity=view.capacity,
        own_row=view.own_row,
        owned_spaces=view.owned_spaces,
        **view.values.as_dict(),
    )


@routes.route(
    "POST",
    "/plate-blocks",
    "Block a plate in one lot or every lot (audited)",
    body=BlockIn,
    response=BlockOut,
    permission=Permission.BLOCKS_MANAGE,
    status=201,
)
async def block_plate(request: web.Request, body: BlockIn) -> web.Response:
    """Add a block-list entry."""
    async with unit_of_work(request) as uow:
        view = await plate_blocks.block_plate(
            uow, clock(request), acting_staff(request), body.plate, body.lot, reason=body.reason
        )
    return json_response(_block_out(view), status=201)


@routes.route(
    "GET",
    "/plate-blocks",
    "The block list, in id order",
    query=BlocksQuery,
    response=BlocksOut,
    permission=Permission.STAYS_READ,
)
async def list_blocks(request: web.Request, query: BlocksQuery) -> web.Response:
    """List block-list entries."""
    async with unit_of_work(request) as uow:
        views, next_after = await plate_blocks.list_blocks(
            uow,
            acting_staff(request),
            lot_code=query.lot,
            plate=query.plate,
            active=query.active,
            after_id=query.after,
            limit=query.limit,
        )
    return json_response(BlocksOut(items=[_block_out(v) for v in views], next_after=next_after))


@routes.route(
    "POST",
    "/plate-blocks/{block_id}/lift",
    "Lift a block; the entry is kept, inactive (audited)",
    body=BlockLiftIn,
    response=BlockOut,
    permission=Permission.BLOCKS_MANAGE,
)
async def lift_block(request: web.Request, body: BlockLiftIn) -> web.Response:
    """Lift a block."""
    text = request.match_info["block_id"]
    block_id = parse_row_id(text)
    if block_id is None:
        raise plate_blocks.BlockNotFoundError(detail=text)
    async with unit_of_work(request) as uow:
        view = await plate_blocks.lift_block(
            uow, clock(request), acting_staff(request), block_id, reason=body.reason
        )
    return json_response(_block_out(view))


@routes.route(
    "GET",
    "/lots/{lot}/policy",
    "A lot's entry policy in force",
    response=PolicyOut,
    permission=Permission.STAYS_READ,
)
async def show_policy(request: web.Request, _: None) -> web.Response:
    """Read a lot's policy."""
    async with unit_of_work(request) as uow:
        view = await lot_policies.read_policy(
            uow, clock(request), acting_staff(request), request.match_info["lot"]
        )
    return json_response(_policy_out(view))


@routes.route(
    "PATCH",
    "/lots/{lot}/policy",
    "Change some fields of a lot's entry policy (audited)",
    body=PolicyIn,
    response=PolicyOut,
    permission=Permission.LOTS_MANAGE,
)
async def update_policy(request: web.Request, body: PolicyIn) -> web.Response:
    """Change a lot's policy."""
    given = body.model_fields_set - {"reason"}
    changes = {name: getattr(body, name) for name in given}
    if any(value is None and name not in _NULLABLE for name, value in changes.items()):
        raise PolicyInvalidError("只有临时车位数和欠费门槛可以清空")
    async with unit_of_work(request) as uow:
        view = await lot_policies.update_policy(
            uow,
            clock(request),
            acting_staff(request),
            request.match_info["lot"],
            changes,
            reason=body.reason,
        )
    return json_response(_policy_out(view))
