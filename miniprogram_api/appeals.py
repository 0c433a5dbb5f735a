"""Driver routes of fee appeals: upload a photo, appeal a stay's fee, list one's own appeals."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from core.appeals import MAX_PHOTOS, Category, photo_prefix
from core.object_storage import ObjectTooLargeError, check_image
from core.services import appeals
from miniprogram_api.session import current_driver
from server.http import ApiRoutes, json_response
from server.object_store import object_store
from server.resources import SETTINGS_KEY, clock, read_unit_of_work, unit_of_work

routes = ApiRoutes("miniprogram")


class AppealPhotoOut(BaseModel):
    """The reference of an uploaded photo, to name in an appeal."""

    photo_ref: str


class AppealIn(BaseModel):
    """What the driver disputes and why, with up to three uploaded photos."""

    category: Category
    reason: str = Field(min_length=2, max_length=500)
    photos: list[str] = Field(default_factory=list, max_length=MAX_PHOTOS)


class MyAppealOut(BaseModel):
    """One of the driver's appeals and where it stands."""

    id: int
    stay_ref: str | None
    plate: str | None
    category: str
    status: str = Field(description="open, awaiting_approval, resolved or rejected")
    reason: str
    photos: list[str]
    created_at: datetime
    due_at: datetime = Field(description="when support answers at the latest")
    outcome: str | None = Field(description="reject, waive or refund, once decided")
    outcome_fen: int | None
    outcome_reason: str | None
    decided_at: datetime | None


class MyAppealsOut(BaseModel):
    """The driver's appeals, newest first."""

    items: list[MyAppealOut]


def _out(row: Any) -> MyAppealOut:
    return MyAppealOut(
        id=row.id,
        stay_ref=row.stay_ref,
        plate=row.plate,
        category=row.category,
        status=row.status,
        reason=row.reason,
        photos=list(row.photos),
        created_at=row.created_at,
        due_at=row.due_at,
        outcome=row.outcome,
        outcome_fen=row.outcome_fen,
        outcome_reason=row.outcome_reason,
        decided_at=row.decided_at,
    )


@routes.route(
    "POST",
    "/appeals/photos",
    "Upload one appeal photo as the raw body (image/jpeg or image/png; driver token)",
    response=AppealPhotoOut,
    status=201,
)
async def upload_photo(request: web.Request, _: Any) -> web.Response:
    """Keep the photo in the object store under the driver's prefix."""
    driver_id = current_driver(request)
    limit = request.config_dict[SETTINGS_KEY].appeal_photo_max_bytes
    if (request.content_length or 0) > limit:
        raise ObjectTooLargeError(detail=str(request.content_length))
    data = await request.content.read(limit + 1)  # beyond the app's JSON body limit, by design
    extension = check_image(data, request.content_type, limit)
    key = f"{photo_prefix(driver_id)}{secrets.token_hex(16)}.{extension}"
    ref = await object_store(request).put(key, data, request.content_type)
    return json_response(AppealPhotoOut(photo_ref=ref), status=201)


@routes.route(
    "POST",
    "/stays/{ref}/appeals",
    "Appeal a stay's fee with a reason and up to three photos (driver token; pauses reminders)",
    body=AppealIn,
    response=MyAppealOut,
    status=201,
)
async def appeal_stay(request: web.Request, body: AppealIn) -> web.Response:
    """File the appeal."""
    driver_id = current_driver(request)
    days = request.config_dict[SETTINGS_KEY].appeal_answer_days
    async with unit_of_work(request) as uow:
        row = await appeals.file_appeal(
            uow,
            clock(request),
            driver_id,
            request.match_info["ref"],
            body.category,
            body.reason,
            body.photos,
            days,
        )
    return json_response(_out(row), status=201)


@routes.route(
    "GET",
    "/me/appeals",
    "The driver's own appeals, newest first (driver token)",
    response=MyAppealsOut,
)
async def my_appeals(request: web.Request, _: Any) -> web.Response:
    """List the driver's appeals."""
    driver_id = current_driver(request)
    async with read_unit_of_work(request) as uow:
        rows = await appeals.driver_appeals(uow, driver_id)
    return json_response(MyAppealsOut(items=[_out(row) for row in rows]))
