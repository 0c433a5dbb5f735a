"""Staff routes of the missed-exit review queue of gated lots."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from core.services import lot_review
from core.staff import Permission
from ops_api.auth import acting_staff
from server.http import ApiRoutes, json_response
from server.resources import CALENDAR_KEY, clock, unit_of_work

routes = ApiRoutes("ops")

Reason = Annotated[str, StringConstraints(min_length=2, max_length=500, strip_whitespace=True)]


class ReviewQuery(BaseModel):
    """One lot, or every lot of the staff's scope."""

    lot: str | None = Field(None, max_length=32)
    limit: int = Field(100, ge=1, le=500)


class ReviewItemOut(BaseModel):
    """A lot stay waiting for a human, with the later entry that sent it here."""

    stay_ref: str
    lot: str
    plate: str | None
    why: str = Field(
        description="missed_exit, stale_stay, review or paid_twice (a networked lot collected "
        "on site what the stay held already and must give it back)"
    )
    status: str
    entered_at: datetime
    entry_lane: str | None
    entry_image_ref: str | None
    access: str
    paid_fen: int
    later_stay_ref: str | None
    later_entered_at: datetime | None
    later_image_ref: str | None


class LotReviewOut(BaseModel):
    """The queue, oldest entry first."""

    items: list[ReviewItemOut]


class CloseIn(BaseModel):
    """The exit time staff established (from images, the driver, the later entry)."""

    exited_at: AwareDatetime
    reason: Reason


class CloseFreeIn(BaseModel):
    """Why nothing more is charged; without an exit time, the later entry's (or now)."""

    exited_at: AwareDatetime | None = None
    reason: Reason


class DismissIn(BaseModel):
    """Why the stay is a duplicate record."""

    reason: Reason


class ReturnedIn(BaseModel):
    """How the lot gave the driver back its second collection (who, when, by what)."""

    reason: Reason


class OutcomeOut(BaseModel):
    """The stay after the action."""

    stay_ref: str
    status: str
    exited_at: datetime | None
    fee_fen: int | None
    due_fen: int = Field(description="still to pay (arrears of the plate until paid)")


def _out(outcome: lot_review.ReviewOutcome) -> web.Response:
    return json_response(OutcomeOut.model_validate(outcome, from_attributes=True))


@routes.route(
    "GET",
    "/review/lot-stays",
    "Lot stays waiting for a human: missed exits, stale stays, stays paid twice on site",
    query=ReviewQuery,
    response=LotReviewOut,
    permission=Permission.STAYS_READ,
)
async def show_queue(request: web.Request, query: ReviewQuery) -> web.Response:
    """List the queue."""
    async with unit_of_work(request) as uow:
        items = await lot_review.review_queue(
            uow, clock(request), acting_staff(request), lot_code=query.lot, limit=query.limit
        )
    out = [ReviewItemOut.model_validate(item, from_attributes=True) for item in items]
    return json_response(LotReviewOut(items=out))


@routes.route(
    "POST",
    "/review/lot-stays/{ref}/close",
    "Close a stay at a stated exit time, priced by the lot's tariff (audited)",
    body=CloseIn,
    response=OutcomeOut,
    permission=Permission.STAYS_REVIEW,
)
async def close_stay(request: web.Request, body: CloseIn) -> web.Response:
    """Price and close a stay in review."""
    async with unit_of_work(request) as uow:
        outcome = await lot_review.close_at(
            uow,
            clock(request),
            request.config_dict[CALENDAR_KEY],
            acting_staff(request),
            request.match_info["ref"],
            body.exited_at,
            reason=body.reason,
        )
    return _out(outcome)


@routes.route(
    "POST",
    "/review/lot-stays/{ref}/free",
    "Close a stay with nothing more to pay (audited)",
    body=CloseFreeIn,
    response=OutcomeOut,
    permission=Permission.STAYS_REVIEW,
)
async def close_free(request: web.Request, body: CloseFreeIn) -> web.Response:
    """Close a stay in review free."""
    async with unit_of_work(request) as uow:
        outcome = await lot_review.close_free(
            uow,
            clock(request),
            acting_staff(request),
            request.match_info["ref"],
            reason=body.reason,
            exited_at=body.exited_at,
        )
    return _out(outcome)


@routes.route(
    "POST",
    "/review/lot-stays/{ref}/returned",
    "A networked lot gave back on site what it collected twice (flag paid_twice; audited)",
    body=ReturnedIn,
    response=OutcomeOut,
    permission=Permission.STAYS_REVIEW,
)
async def returned(request: web.Request, body: ReturnedIn) -> web.Response:
    """End a paid_twice flag: the lot returned its second collection to the driver."""
    async with unit_of_work(request) as uow:
        outcome = await lot_review.returned_twice_paid(
            uow,
            clock(request),
            acting_staff(request),
            request.match_info["ref"],
            reason=body.reason,
        )
    return _out(outcome)


@routes.route(
    "POST",
    "/review/lot-stays/{ref}/dismiss",
    "Void a stay that duplicates another record (audited)",
    body=DismissIn,
    response=OutcomeOut,
    permission=Permission.STAYS_REVIEW,
)
async def dismiss(request: web.Request, body: DismissIn) -> web.Response:
    """Dismiss a stay in review as a duplicate."""
    async with unit_of_work(request) as uow:
        outcome = await lot_review.dismiss(
            uow,
            clock(request),
            acting_staff(request),
            request.match_info["ref"],
            reason=body.reason,
        )
    return _out(outcome)
