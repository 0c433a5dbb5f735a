"""Staff routes of lot rights: passes, stored-value cards, owned and rented spaces."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from core.lot_rights import MAX_PLATES, RightKind
from core.services import lot_rights
from core.staff import Permission
from ops_api.auth import acting_staff
from server.http import ApiRoutes, json_response
from server.input_limits import INT32_MAX
from server.resources import clock, unit_of_work

routes = ApiRoutes("ops")

Reason = Annotated[str, StringConstraints(min_length=2, max_length=500, strip_whitespace=True)]
PlateText = Annotated[str, StringConstraints(min_length=1, max_length=16, strip_whitespace=True)]
KindText = Literal["monthly", "special", "stored_value", "owned_space", "rented_space"]


class RightOut(BaseModel):
    """A right as staff see it."""

    ref: str
    lot: str
    kind: str
    holder: str
    plates: list[str]
    spaces: int
    valid_from: datetime
    valid_until: datetime = Field(description="exclusive; whole local days for passes and spaces")
    windows: str | None = Field(description="daily windows of a monthly pass, e.g. 20:00-08:00")
    balance_fen: int
    status: str
    created_at: datetime


class RightCreateIn(BaseModel):
    """A new right; monthly passes and spaces are widened to whole days (Asia/Shanghai)."""

    lot: str = Field(min_length=1, max_length=32)
    kind: KindText
    holder: str = Field(min_length=1, max_length=64)
    plates: list[PlateText] = Field(min_length=1, max_length=MAX_PLATES)
    spaces: int = Field(1, ge=1, le=MAX_PLATES)
    valid_from: AwareDatetime
    valid_until: AwareDatetime
    windows: list[str] = Field(default_factory=list, max_length=4)
    balance_fen: int = Field(0, ge=0, le=100_000_000, description="opening balance of a card")
    reason: Reason


class PlatesIn(BaseModel):
    """Plates to add to and remove from a right."""

    add: list[PlateText] = Field(default_factory=list, max_length=MAX_PLATES)
    remove: list[PlateText] = Field(default_factory=list, max_length=MAX_PLATES)
    reason: Reason


class ExtendIn(BaseModel):
    """The new end of a right's validity."""

    valid_until: AwareDatetime
    reason: Reason


class CancelIn(BaseModel):
    """Why the right is cancelled."""

    reason: Reason


class RightsQuery(BaseModel):
    """Filters and keyset page of the rights list."""

    lot: str | None = Field(None, max_length=32)
    plate: PlateText | None = None
    kind: KindText | None = None
    status: Literal["active", "cancelled"] | None = None
    after: int | None = Field(None, ge=0, le=INT32_MAX)
    limit: int = Field(50, ge=1, le=200)


class RightsOut(BaseModel):
    """One page of rights; pass `next_after` as `after` for the next."""

    items: list[RightOut]
    next_after: int | None


class RightUseOut(BaseModel):
    """A stay that entered with the right."""

    stay_ref: str
    plate: str | None
    status: str
    entered_at: datetime
    exited_at: datetime | None
    fee_fen: int | None


class RightDetailOut(BaseModel):
    """One right with its newest uses."""

    right: RightOut
    uses: list[RightUseOut]


def _out(view: lot_rights.RightView) -> RightOut:
    return RightOut.model_validate(view, from_attributes=True)


@routes.route(
    "POST",
    "/lot-rights",
    "Create a pass, card or resident's space in a lot (audited)",
    body=RightCreateIn,
    response=RightOut,
    permission=Permission.RIGHTS_MANAGE,
    status=201,
)
async def create_right(request: web.Request, body: RightCreateIn) -> web.Response:
    """Create a right."""
    async with unit_of_work(request) as uow:
        view = await lot_rights.create_right(
            uow,
            clock(request),
            acting_staff(request),
            lot_code=body.lot,
            kind=RightKind(body.kind),
            holder=body.holder,
            plates=body.plates,
            spaces=body.spaces,
            valid_from=body.valid_from,
            valid_until=body.valid_until,
            windows=body.windows,
            balance_fen=body.balance_fen,
            reason=body.reason,
        )
    return json_response(_out(view), status=201)


@routes.route(
    "GET",
    "/lot-rights",
    "Rights by lot, plate, kind and status, in id order",
    query=RightsQuery,
    response=RightsOut,
    permission=Permission.STAYS_READ,
)
async def list_rights(request: web.Request, query: RightsQuery) -> web.Response:
    """List rights in the staff's lots."""
    async with unit_of_work(request) as uow:
        views, next_after = await lot_rights.list_rights(
            uow,
            acting_staff(request),
            lot_code=query.lot,
            plate=query.plate,
            kind=RightKind(query.kind) if query.kind else None,
            status=query.status,
            after_id=query.after,
            limit=query.limit,
        )
    return json_response(RightsOut(items=[_out(v) for v in views], next_after=next_after))


@routes.route(
    "GET",
    "/lot-rights/{ref}",
    "One right with the stays that entered with it",
    response=RightDetailOut,
    permission=Permission.STAYS_READ,
)
async def show_right(request: web.Request, _: None) -> web.Response:
    """Read one right."""
    async with unit_of_work(request) as uow:
        detail = await lot_rights.right_detail(
            uow, acting_staff(request), request.match_info["ref"]
        )
    uses = [
        RightUseOut(
            stay_ref=s.ref,
            plate=s.plate,
            status=s.status,
            entered_at=s.entered_at,
            exited_at=s.exited_at,
            fee_fen=s.fee_fen,
        )
        for s in detail.uses
    ]
    return json_response(RightDetailOut(right=_out(detail.right), uses=uses))


@routes.route(
    "POST",
    "/lot-rights/{ref}/plates",
    "Add and remove plates of a right (audited)",
    body=PlatesIn,
    response=RightOut,
    permission=Permission.RIGHTS_MANAGE,
)
async def change_plates(request: web.Request, body: PlatesIn) -> web.Response:
    """Change a right's plates."""
    async with unit_of_work(request) as uow:
        view = await lot_rights.change_plates(
            uow,
            clock(request),
            acting_staff(request),
            request.match_info["ref"],
            add=body.add,
            remove=body.remove,
            reason=body.reason,
        )
    return json_response(_out(view))


@routes.route(
    "POST",
    "/lot-rights/{ref}/extend",
    "Renew a right to a later end (audited)",
    body=ExtendIn,
    response=RightOut,
    permission=Permission.RIGHTS_MANAGE,
)
async def extend_right(request: web.Request, body: ExtendIn) -> web.Response:
    """Extend a right."""
    async with unit_of_work(request) as uow:
        view = await lot_rights.extend_right(
            uow,
            clock(request),
            acting_staff(request),
            request.match_info["ref"],
            body.valid_until,
            reason=body.reason,
        )
    return json_response(_out(view))


@routes.route(
    "POST",
    "/lot-rights/{ref}/cancel",
    "Cancel a right (audited)",
    body=CancelIn,
    response=RightOut,
    permission=Permission.RIGHTS_MANAGE,
)
async def cancel_right(request: web.Request, body: CancelIn) -> web.Response:
    """Cancel a right."""
    async with unit_of_work(request) as uow:
        view = await lot_rights.cancel_right(
            uow,
            clock(request),
            acting_staff(request),
            request.match_info["ref"],
            reason=body.reason,
        )
    return json_response(_out(view))
