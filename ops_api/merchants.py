"""Merchant validation: issue signed validations, and each merchant's statement.

Staff act for any merchant; a merchant account (role merchant) only for its own code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, Field

from core.merchant_validation import ValidationKind
from core.services import validations
from core.staff import Permission
from ops_api.auth import acting_staff
from server.http import ApiRoutes, json_response
from server.resources import SETTINGS_KEY, clock, unit_of_work

routes = ApiRoutes("ops")


class IssueIn(BaseModel):
    """What the validation gives and how long it may be redeemed."""

    kind: Literal["minutes", "amount"]
    value: int = Field(gt=0, le=100_000, description="minutes, or fen off the fee")
    valid_minutes: int = Field(24 * 60, ge=1, le=30 * 24 * 60)


class IssueOut(BaseModel):
    """The signed token to hand to the driver (e.g. as a QR code)."""

    token: str
    nonce: str
    expires_at: datetime


class UsageQuery(BaseModel):
    """The window of the statement."""

    since: AwareDatetime
    until: AwareDatetime


class UseOut(BaseModel):
    """One redeemed validation."""

    nonce: str
    kind: str
    value: int
    stay_ref: str
    redeemed_at: datetime
    applied_fen: int | None = Field(description="what it saved at exit; null before the exit")


class UsageOut(BaseModel):
    """A merchant's redeemed validations and what they saved in total."""

    merchant: str
    uses: list[UseOut]
    applied_fen: int


def _secret(request: web.Request) -> str:
    return request.config_dict[SETTINGS_KEY].secret_key.get_secret_value()


@routes.route(
    "POST",
    "/merchants/{code}/validations",
    "Issue a signed single-use validation of a merchant",
    body=IssueIn,
    response=IssueOut,
    permission=Permission.MERCHANT_VALIDATE,
    status=201,
)
async def issue(request: web.Request, body: IssueIn) -> web.Response:
    """Sign a validation."""
    async with unit_of_work(request) as uow:
        claim, token = await validations.issue(
            uow,
            clock(request),
            _secret(request),
            acting_staff(request),
            request.match_info["code"],
            ValidationKind(body.kind),
            body.value,
            body.valid_minutes,
        )
    return json_response(
        IssueOut(token=token, nonce=claim.nonce, expires_at=claim.expires_at), status=201
    )


@routes.route(
    "GET",
    "/merchants/{code}/usage",
    "A merchant's redeemed validations in a window",
    query=UsageQuery,
    response=UsageOut,
    permission=Permission.MERCHANT_USAGE_READ,
)
async def show_usage(request: web.Request, query: UsageQuery) -> web.Response:
    """The merchant's statement."""
    code = request.match_info["code"]
    async with unit_of_work(request) as uow:
        uses = await validations.usage(uow, code, query.since, query.until, acting_staff(request))
    out = [UseOut.model_validate(use, from_attributes=True) for use in uses]
    total = sum(use.applied_fen or 0 for use in uses)
    return json_response(UsageOut(merchant=code, uses=out, applied_fen=total))
