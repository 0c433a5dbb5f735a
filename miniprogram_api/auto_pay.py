"""Auto-pay (无感支付) for a driver's plate, and paying a plate's arrears in one payment (合单)."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field

from core.auto_pay import ServiceState
from core.plates import parse_plate
from core.services import auto_pay, combine_pay
from miniprogram_api.payments import (
    PaymentOut,
    RequestPaymentOut,
    payment_out,
    request_payment_out,
    uows_of,
)
from miniprogram_api.session import current_driver
from server.http import ApiRoutes, json_response
from server.resources import clock
from server.wechat import wechat

routes = ApiRoutes("miniprogram")

# The WeChat Pay parking-service mini-program a driver opens to turn auto-deduct on.
AUTHORISE_APPID = "wxbcad394b3d99dac9"
AUTHORISE_PATH = "pages/route/index"


class AuthoriseOut(BaseModel):
    """Pass to wx.navigateToMiniProgram to let the driver turn the service on or off."""

    appId: str  # noqa: N815 - WeChat's parameter names
    path: str
    extraData: dict[str, str]  # noqa: N815


class PlateServiceOut(BaseModel):
    """The plate's auto-pay state for this driver."""

    plate: str
    colour: str
    state: str = Field(description="normal, paused, out_of_service or unknown")
    authorised: bool
    checked_at: datetime | None
    authorise: AuthoriseOut


class CombineIn(BaseModel):
    """Which owed stays to pay: all of them when omitted."""

    stay_refs: list[str] | None = Field(default=None, min_length=1, max_length=10)


class CombinedOut(BaseModel):
    """A combined order: one payment, a sub-order per stay to its operator."""

    combine_out_trade_no: str
    amount_fen: int
    parts: list[PaymentOut]
    request_payment: RequestPaymentOut


def _out(service: auto_pay.PlateService, sp_mchid: str) -> PlateServiceOut:
    return PlateServiceOut(
        plate=service.plate,
        colour=service.colour,
        state=service.state.value,
        authorised=service.state is ServiceState.NORMAL,
        checked_at=service.checked_at,
        authorise=AuthoriseOut(
            appId=AUTHORISE_APPID,
            path=AUTHORISE_PATH,
            extraData={
                "mch_id": sp_mchid,
                "plate_number": service.plate,
                "plate_color": service.colour,
                "trade_scene": "PARKING",
            },
        ),
    )


async def _service(request: web.Request, *, ask: bool) -> web.Response:
    driver_id = current_driver(request)
    plate = parse_plate(request.match_info["plate"])
    services = wechat(request)
    found = await auto_pay.plate_service(
        uows_of(request), clock(request), services.auto_pay_ports, driver_id, plate.number, ask=ask
    )
    return json_response(_out(found, services.gateway.sp_mchid))


@routes.route(
    "GET",
    "/me/plates/{plate}/auto-pay",
    "A verified plate's auto-pay state (cached; asked of WeChat Pay when stale; driver token)",
    response=PlateServiceOut,
)
async def show_auto_pay(request: web.Request, _: None) -> web.Response:
    """The stored state, refreshed when older than ten minutes."""
    return await _service(request, ask=False)


@routes.route(
    "POST",
    "/me/plates/{plate}/auto-pay",
    "Ask WeChat Pay now for a verified plate's auto-pay state, with the page to turn it on",
    response=PlateServiceOut,
)
async def check_auto_pay(request: web.Request, _: None) -> web.Response:
    """Asked when the driver taps "auto-pay" and again when they come back from WeChat's page."""
    return await _service(request, ask=True)


@routes.route(
    "POST",
    "/me/plates/{plate}/arrears/payments",
    "Pay a verified plate's owed stays in one payment (合单; driver token)",
    body=CombineIn,
    response=CombinedOut,
)
async def pay_arrears(request: web.Request, body: CombineIn) -> web.Response:
    """Open one combined order, a sub-order per stay to its operator's sub-merchant."""
    driver_id = current_driver(request)
    plate = parse_plate(request.match_info["plate"])
    services = wechat(request)
    started = await combine_pay.start_combined(
        uows_of(request),
        clock(request),
        services.auto_pay_ports,
        driver_id=driver_id,
        plate=plate.number,
        stay_refs=body.stay_refs,
    )
    return json_response(_combined_out(started))


@routes.route(
    "POST",
    "/stays/{ref}/payments/with-arrears",
    "At a lot collecting city arrears: pay the exit's fee and the plate's arrears at once (合单)",
    response=CombinedOut,
)
async def pay_exit_with_arrears(request: web.Request, _: None) -> web.Response:
    """One combined order: the exit's stay and the plate's oldest other owed stays."""
    services = wechat(request)
    started = await combine_pay.start_at_exit(
        uows_of(request),
        clock(request),
        services.auto_pay_ports,
        driver_id=current_driver(request),
        stay_ref=request.match_info["ref"],
    )
    return json_response(_combined_out(started))


def _combined_out(started: combine_pay.CombinedPayment) -> CombinedOut:
    return CombinedOut(
        combine_out_trade_no=started.combine_out_trade_no,
        amount_fen=sum(p.amount_fen for p in started.parts),
        parts=[payment_out(p) for p in started.parts],
        request_payment=request_payment_out(started.request_payment),
    )
