"""What a lot's system pushes: entries, exits, payments on site, free counts, faults, daily totals.

Every body carries the lot's own `message_id`; a resend of the same message is answered
`duplicate` and changes nothing, the same id with a different body is refused (409).
"""

from __future__ import annotations

from datetime import date
from typing import Literal, Self

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, Field, model_validator

from core.network import DailySummary, Entry, Exit, Fault, FreeCount, Message, SitePayment
from core.services import refunds
from core.services.network_intake import receive
from network_api.signature import signed_caller
from server.http import ApiRoutes, json_response
from server.resources import clock, unit_of_work
from server.wechat import WECHAT_SERVICES_KEY

routes = ApiRoutes("network", signed=True)

Id = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")
Plate = Field(min_length=7, max_length=10, description="plate as read, e.g. 浙B12345 (car_number)")
Fen = Field(ge=0, le=10_000_000)
VehicleClass = Literal["small", "large"]


class NetworkPushed(BaseModel):
    """Every push names the lot's own message id, unique per lot."""

    message_id: str = Id


class NetworkEntryIn(NetworkPushed):
    """A car entered (PP/Bolink: in_time, car_number, order_id, in_channel_id)."""

    session_id: str = Field(min_length=1, max_length=64, description="the lot's order_id")
    plate: str = Plate
    entered_at: AwareDatetime
    lane: str | None = Field(None, max_length=32)
    vehicle_class: VehicleClass = "small"


class NetworkExitIn(NetworkEntryIn):
    """A car left with the fee charged and what was taken on site (total_fee, paid)."""

    exited_at: AwareDatetime
    fee_fen: int = Fen
    paid_fen: int = Fen


class NetworkPaymentIn(NetworkPushed):
    """Money taken on site: for one of the lot's sessions, or a city arrears stay at the exit."""

    session_id: str | None = Field(None, min_length=1, max_length=64)
    stay_ref: str | None = Field(None, min_length=1, max_length=32)
    amount_fen: int = Field(gt=0, le=10_000_000)
    channel: Literal["cash", "wechat", "alipay", "unionpay", "etc", "other"]
    paid_at: AwareDatetime

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.session_id is None) == (self.stay_ref is None):
            raise ValueError("name exactly one of session_id and stay_ref")
        return self


class NetworkCountIn(NetworkPushed):
    """Live spaces (PP: TotalSpaces, RemainingSpaces)."""

    total_spaces: int = Field(ge=0, le=100_000)
    free_spaces: int = Field(ge=0, le=100_000)
    counted_at: AwareDatetime


class NetworkFaultIn(NetworkPushed):
    """A lane or device fault, or its recovery."""

    device: str = Field(min_length=1, max_length=64)
    lane: str | None = Field(None, max_length=32)
    state: Literal["fault", "ok"]
    fault_code: str | None = Field(None, max_length=32)
    detail: str | None = Field(None, max_length=256)
    at: AwareDatetime


class NetworkSummaryIn(NetworkPushed):
    """The lot's own totals of a day (Asia/Shanghai)."""

    day: date
    entries: int = Field(ge=0, le=1_000_000)
    exits: int = Field(ge=0, le=1_000_000)
    fee_fen: int = Field(ge=0, le=10_000_000_000)
    paid_fen: int = Field(ge=0, le=10_000_000_000)


class PaidTwiceOut(BaseModel):
    """Money taken on site that the stay held already (the driver paid online first)."""

    overlap_fen: int = Field(description="what the site payment collected beyond the fee")
    refunded_online_fen: int = Field(description="refunded to the driver from the online payment")
    return_on_site_fen: int = Field(
        description="not refundable online: give it back to the driver on site (flagged)"
    )


class NetworkReceiptOut(BaseModel):
    """Accepted now or a duplicate of one accepted before; the platform's stay when any."""

    message_id: str
    status: Literal["accepted", "duplicate"]
    stay_ref: str | None = None
    paid_twice: PaidTwiceOut | None = None


async def _push(request: web.Request, message_id: str, message: Message) -> web.Response:
    async with unit_of_work(request) as uow:
        caller = await signed_caller(request, uow)
        receipt = await receive(uow, clock(request), caller, message_id, message)
    twice = receipt.paid_twice
    if twice is not None and twice.refunds:
        await _send_refunds(request, twice.refunds)
    status = "duplicate" if receipt.duplicate else "accepted"
    told = PaidTwiceOut(**twice.as_record()) if twice is not None else None
    return json_response(
        NetworkReceiptOut(
            message_id=message_id, status=status, stay_ref=receipt.stay_ref, paid_twice=told
        )
    )


async def _send_refunds(request: web.Request, numbers: tuple[str, ...]) -> None:
    """Send the duplicate refunds after the commit and tell the payer; else the sweep sends."""
    services = request.config_dict.get(WECHAT_SERVICES_KEY)
    if services is None:
        return
    for number in numbers:
        await refunds.submit_and_tell(
            lambda: unit_of_work(request),
            clock(request),
            services.gateway,
            services.miniprogram,
            services.setup.refund_notify_url,
            number,
        )


@routes.route(
    "POST",
    "/v1/entries",
    "A car entered a networked lot",
    body=NetworkEntryIn,
    response=NetworkReceiptOut,
)
async def push_entry(request: web.Request, body: NetworkEntryIn) -> web.Response:
    """Open the session's stay (or keep the one its earlier exit made)."""
    entry = Entry(body.session_id, body.plate, body.entered_at, body.lane, body.vehicle_class)
    return await _push(request, body.message_id, entry)


@routes.route(
    "POST",
    "/v1/exits",
    "A car left a networked lot, with the fee and what was paid on site",
    body=NetworkExitIn,
    response=NetworkReceiptOut,
)
async def push_exit(request: web.Request, body: NetworkExitIn) -> web.Response:
    """Close the session's stay with its fee; what is not paid becomes the plate's arrears."""
    left = Exit(
        body.session_id,
        body.plate,
        body.entered_at,
        body.exited_at,
        body.fee_fen,
        body.paid_fen,
        body.lane,
        body.vehicle_class,
    )
    return await _push(request, body.message_id, left)


@routes.route(
    "POST",
    "/v1/payments",
    "Money taken on site for a session, or for a city arrears stay collected at the exit",
    body=NetworkPaymentIn,
    response=NetworkReceiptOut,
)
async def push_payment(request: web.Request, body: NetworkPaymentIn) -> web.Response:
    """Note the payment toward the stay."""
    paid = SitePayment(body.amount_fen, body.channel, body.paid_at, body.session_id, body.stay_ref)
    return await _push(request, body.message_id, paid)


@routes.route(
    "POST",
    "/v1/counts",
    "A networked lot's live free spaces",
    body=NetworkCountIn,
    response=NetworkReceiptOut,
)
async def push_count(request: web.Request, body: NetworkCountIn) -> web.Response:
    """Keep the count unless a newer one is kept."""
    count = FreeCount(body.total_spaces, body.free_spaces, body.counted_at)
    return await _push(request, body.message_id, count)


@routes.route(
    "POST",
    "/v1/faults",
    "A lane or device fault or recovery",
    body=NetworkFaultIn,
    response=NetworkReceiptOut,
)
async def push_fault(request: web.Request, body: NetworkFaultIn) -> web.Response:
    """Keep the device's newest state."""
    fault = Fault(body.device, body.state, body.at, body.lane, body.fault_code, body.detail)
    return await _push(request, body.message_id, fault)


@routes.route(
    "POST",
    "/v1/summaries",
    "A networked lot's totals of a day",
    body=NetworkSummaryIn,
    response=NetworkReceiptOut,
)
async def push_summary(request: web.Request, body: NetworkSummaryIn) -> web.Response:
    """Keep the day's totals beside what the platform counted."""
    summary = DailySummary(body.day, body.entries, body.exits, body.fee_fen, body.paid_fen)
    return await _push(request, body.message_id, summary)
