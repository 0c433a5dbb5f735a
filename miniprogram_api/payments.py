"""Paying a stay from the mini-program, its status, and WeChat Pay's notify callback."""

from __future__ import annotations

import logging
from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field

from core.errors import DomainError, NotFoundError
from core.payment_gateway import (
    CombineReport,
    EntryStateReport,
    NotifyRejectedError,
    RequestPayment,
    TransactionReport,
)
from core.payments import Payment, PaymentNotFoundError
from core.services import auto_pay, combine_pay
from core.services.payments import (
    StartedPayment,
    refresh_payment,
    start_stay_payment,
)
from core.services.refunds import apply_refund_report
from core.services.retrying import Uows
from miniprogram_api.session import current_driver
from server.http import ApiRoutes, json_response
from server.lane_publishing import publish_lane_commands
from server.resources import clock, unit_of_work
from server.wechat import wechat

log = logging.getLogger(__name__)

routes = ApiRoutes("miniprogram")


class PayIn(BaseModel):
    """One key per tap on "pay": repeating the request with it returns the same order."""

    idempotency_key: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")


class RequestPaymentOut(BaseModel):
    """Pass these unchanged to wx.requestPayment."""

    appId: str  # noqa: N815 - WeChat's parameter names
    timeStamp: str  # noqa: N815
    nonceStr: str  # noqa: N815
    package: str
    signType: str  # noqa: N815
    paySign: str  # noqa: N815


class PaymentOut(BaseModel):
    """A payment as its payer sees it."""

    out_trade_no: str
    purpose: str = Field(description="stay, pass or top_up")
    stay_ref: str | None = Field(description="the stay paid; null for a pass or a top-up")
    plate: str
    amount_fen: int
    status: str = Field(
        description="created, pending, paid, partially_refunded, refunded, closed or failed"
    )
    refunded_fen: int
    created_at: datetime
    paid_at: datetime | None


class PaymentStartOut(BaseModel):
    """An order ready to pay."""

    payment: PaymentOut
    request_payment: RequestPaymentOut


def uows_of(request: web.Request) -> Uows:
    return lambda: unit_of_work(request)


def payment_out(payment: Payment) -> PaymentOut:
    return PaymentOut(
        out_trade_no=payment.out_trade_no,
        purpose=payment.purpose.value,
        stay_ref=payment.stay_ref,
        plate=payment.plate,
        amount_fen=payment.amount_fen,
        status=payment.status.value,
        refunded_fen=payment.refunded_fen,
        created_at=payment.created_at,
        paid_at=payment.paid_at,
    )


@routes.route(
    "POST",
    "/stays/{ref}/payments",
    "Pay a stay's fee with WeChat Pay (JSAPI prepay; driver token)",
    body=PayIn,
    response=PaymentStartOut,
)
async def pay_stay(request: web.Request, body: PayIn) -> web.Response:
    """Open the order for the stay's sub-merchant and sign the wx.requestPayment parameters."""
    driver_id = current_driver(request)
    services = wechat(request)
    started = await start_stay_payment(
        uows_of(request),
        clock(request),
        services.gateway,
        services.setup,
        driver_id=driver_id,
        stay_ref=request.match_info["ref"],
        idempotency_key=body.idempotency_key,
    )
    return json_response(started_out(started))


def started_out(started: StartedPayment) -> PaymentStartOut:
    """An opened order of any purpose with its wx.requestPayment parameters."""
    return PaymentStartOut(
        payment=payment_out(started.payment),
        request_payment=request_payment_out(started.request_payment),
    )


def request_payment_out(signed: RequestPayment) -> RequestPaymentOut:
    """The signed wx.requestPayment parameters as the mini-program passes them."""
    return RequestPaymentOut(
        appId=signed.app_id,
        timeStamp=signed.time_stamp,
        nonceStr=signed.nonce_str,
        package=signed.package,
        signType=signed.sign_type,
        paySign=signed.pay_sign,
    )


@routes.route(
    "GET",
    "/payments/{out_trade_no}",
    "A payment's status; an unpaid one is checked with WeChat Pay first (driver token)",
    response=PaymentOut,
)
async def show_payment(request: web.Request, _: None) -> web.Response:
    """Answer the payment of this driver, asking WeChat Pay when it is still open."""
    driver_id = current_driver(request)
    out_trade_no = request.match_info["out_trade_no"]
    async with unit_of_work(request) as uow:
        owner = await uow.payments.driver_of(out_trade_no)
    if owner != driver_id:
        # Someone else's payment is answered like a missing one: numbers are not probed.
        raise PaymentNotFoundError(detail=f"{out_trade_no} for driver {driver_id}")
    services = wechat(request)
    settled = await refresh_payment(
        uows_of(request),
        clock(request),
        services.gateway,
        services.miniprogram,
        services.setup,
        out_trade_no,
    )
    await publish_lane_commands(request, settled.lane_commands)  # asked before the notify came
    return json_response(payment_out(settled.payment))


@routes.route(
    "POST", "/wechatpay/notify", "WeChat Pay notifications (signed, AES-GCM encrypted)", status=204
)
async def wechatpay_notify(request: web.Request, _: None) -> web.StreamResponse:
    """Verify, decrypt and apply a payment or refund notification exactly once."""
    services = wechat(request)
    body = await request.read()
    try:
        notice = await services.gateway.parse_notice(request.headers, body)
    except NotifyRejectedError as exc:
        log.warning("rejected a WeChat Pay notification: %s", exc.detail)
        return _fail(401, "验签失败")
    try:
        if isinstance(notice, TransactionReport):
            ports = services.auto_pay_ports
            commands = await auto_pay.apply_notice(uows_of(request), clock(request), ports, notice)
            await publish_lane_commands(request, commands)
        elif isinstance(notice, EntryStateReport):
            await auto_pay.apply_entry_state(uows_of(request), clock(request), notice)
        elif isinstance(notice, CombineReport):
            ports = services.auto_pay_ports
            commands = await combine_pay.apply_combined(
                uows_of(request), clock(request), ports, notice
            )
            await publish_lane_commands(request, commands)
        elif notice is not None:
            await apply_refund_report(uows_of(request), clock(request), notice)
    except DomainError as exc:
        # Answering a failure makes WeChat Pay deliver the notification again later.
        level = logging.WARNING if isinstance(exc, NotFoundError) else logging.ERROR
        log.log(level, "WeChat Pay notification not applied: %s %s", exc.code, exc.detail)
        return _fail(500 if exc.status < 500 else exc.status, exc.message_zh)
    return web.Response(status=204)


def _fail(status: int, message: str) -> web.Response:
    """The failure answer WeChat Pay documents: an error status and {code: FAIL, message}."""
    return web.json_response({"code": "FAIL", "message": message}, status=status)
