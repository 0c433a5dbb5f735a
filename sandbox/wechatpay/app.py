"""WeChat Pay API v3 partner-mode stand-in: signed requests in, signed answers and notifies out."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from cryptography import x509

from core.clock import Clock, SystemClock
from sandbox.wechat.directory import Directory
from sandbox.wechatpay import (
    bills,
    codepay,
    combine,
    complaints,
    fapiao,
    fund_flow_bills,
    parking,
    profitsharing,
    signing,
)
from sandbox.wechatpay.keys import SandboxKeys
from sandbox.wechatpay.notifications import Notification, describe
from sandbox.wechatpay.orders import PayBooks, Refund, SandboxApiError, wechat_time
from sandbox.wechatpay.state import (
    SANDBOX_KEY,
    PaySandbox,
    answer,
    read_json,
    spawn,
    sub_mchid_of,
)

__all__ = ["SANDBOX_KEY", "PaySandbox", "create_app", "install"]

log = logging.getLogger(__name__)

# WeChat Pay refuses requests whose signature time is further than this from its own clock.
MAX_SKEW_SECONDS = 300
_OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_\-*|]{6,32}$")


def create_app(
    keys: SandboxKeys,
    *,
    sp_mchid: str,
    clock: Clock | None = None,
    directory: Directory | None = None,
    refund_delay: float | None = None,
    wall_clock: Clock | None = None,
    deduction_delay: float | None = None,
) -> web.Application:
    """Build the stand-in; `clock` drives business time, `wall_clock` checks signature times.

    `refund_delay` and `deduction_delay`: seconds after which refunds and parking deductions
    complete by themselves (None: only through their /sandbox/ routes).
    """
    app = web.Application(middlewares=[_merchant_auth])
    app[SANDBOX_KEY] = PaySandbox(
        keys,
        PayBooks(sp_mchid),
        directory,
        clock or SystemClock(),
        wall_clock or SystemClock(),
        refund_delay,
    )
    app[SANDBOX_KEY].parking.auto_complete_after = deduction_delay
    app.cleanup_ctx.append(_http_session)
    install(app)
    return app


def install(app: web.Application) -> None:
    """Add the WeChat Pay routes to an application that holds a PaySandbox."""
    app.router.add_get("/v3/certificates", certificates)
    app.router.add_post("/v3/pay/partner/transactions/jsapi", prepay)
    app.router.add_get("/v3/pay/partner/transactions/out-trade-no/{no}", query_by_out_trade_no)
    app.router.add_get("/v3/pay/partner/transactions/id/{id}", query_by_transaction_id)
    app.router.add_post("/v3/pay/partner/transactions/out-trade-no/{no}/close", close)
    app.router.add_post("/v3/refund/domestic/refunds", refund)
    app.router.add_get("/v3/refund/domestic/refunds/{no}", query_refund)
    app.router.add_post("/sandbox/wechatpay/request-payment", simulate_payment)
    app.router.add_post("/sandbox/wechatpay/refunds/{no}/complete", complete_refund)
    app.router.add_post("/sandbox/wechatpay/notifications/{id}/redeliver", redeliver)
    app.router.add_get("/sandbox/wechatpay/notifications", list_notifications)
    codepay.install(app)
    bills.install(app)
    fund_flow_bills.install(app)
    complaints.install(app)
    parking.install(app)
    combine.install(app)
    fapiao.install(app)
    profitsharing.install(app)


async def _http_session(app: web.Application) -> AsyncIterator[None]:
    sandbox = app[SANDBOX_KEY]
    sandbox.outbox.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
    yield
    for task in list(sandbox.tasks):
        task.cancel()
    await asyncio.gather(*sandbox.tasks, return_exceptions=True)
    await sandbox.outbox.http.close()


@web.middleware
async def _merchant_auth(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Check the merchant's signature on every /v3/ call and turn API errors into answers."""
    sandbox = request.app[SANDBOX_KEY]
    try:
        if request.path.startswith("/v3/"):
            body = await request.text()
            _check_signature(sandbox, request, body)
        return await handler(request)
    except SandboxApiError as exc:
        return answer(sandbox, exc.status, {"code": exc.code, "message": exc.message})


def _check_signature(sandbox: PaySandbox, request: web.Request, body: str) -> None:
    try:
        auth = signing.parse_authorization(request.headers.get("Authorization", ""))
    except signing.AuthorizationError as exc:
        raise SandboxApiError(401, "SIGN_ERROR", f"Authorization 无效：{exc}") from None
    if auth.mchid != sandbox.books.sp_mchid or auth.serial_no != sandbox.keys.merchant_serial_no:
        raise SandboxApiError(401, "SIGN_ERROR", "商户号或证书序列号不正确")
    if abs(sandbox.wall_clock.now().timestamp() - auth.timestamp) > MAX_SKEW_SECONDS:
        raise SandboxApiError(401, "SIGN_ERROR", "签名时间戳已过期")
    message = signing.request_message(
        request.method, request.raw_path, auth.timestamp, auth.nonce_str, body
    )
    if not signing.verify(sandbox.merchant_key, message, auth.signature):
        raise SandboxApiError(401, "SIGN_ERROR", "签名错误")


async def certificates(request: web.Request) -> web.Response:
    """GET /v3/certificates: the platform certificate, encrypted with the API v3 key."""
    sandbox = request.app[SANDBOX_KEY]
    cert = x509.load_pem_x509_certificate(sandbox.keys.platform_certificate_pem.encode())
    nonce = signing.nonce(12)
    encrypted = {
        "algorithm": "AEAD_AES_256_GCM",
        "nonce": nonce,
        "associated_data": "certificate",
        "ciphertext": signing.encrypt_resource(
            sandbox.keys.api_v3_key, nonce, "certificate", sandbox.keys.platform_certificate_pem
        ),
    }
    entry = {
        "serial_no": sandbox.keys.platform_serial_no,
        "effective_time": wechat_time(cert.not_valid_before_utc),
        "expire_time": wechat_time(cert.not_valid_after_utc),
        "encrypt_certificate": encrypted,
    }
    return answer(sandbox, 200, {"data": [entry]})


async def prepay(request: web.Request) -> web.Response:
    """POST /v3/pay/partner/transactions/jsapi: a JSAPI order for a sub-merchant."""
    sandbox = request.app[SANDBOX_KEY]
    data = await read_json(request)
    _check_prepay(sandbox, data)
    order = sandbox.books.prepay(data, sandbox.clock.now())
    return answer(sandbox, 200, {"prepay_id": order.prepay_id})


def _check_prepay(sandbox: PaySandbox, data: dict[str, Any]) -> None:
    for name in ("sp_appid", "sp_mchid", "sub_mchid", "description", "out_trade_no"):
        if not isinstance(data.get(name), str) or not data[name]:
            raise SandboxApiError(400, "PARAM_ERROR", f"缺少参数 {name}")
    if data["sp_mchid"] != sandbox.books.sp_mchid:
        raise SandboxApiError(400, "PARAM_ERROR", "sp_mchid 与签名商户号不一致")
    if not _OUT_TRADE_NO.match(data["out_trade_no"]):
        raise SandboxApiError(400, "PARAM_ERROR", "out_trade_no 格式不正确")
    if not str(data.get("notify_url", "")).startswith(("http://", "https://")):
        raise SandboxApiError(400, "PARAM_ERROR", "notify_url 格式不正确")
    total = data.get("amount", {}).get("total")
    if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
        raise SandboxApiError(400, "PARAM_ERROR", "amount.total 必须为正整数（分）")
    payer = data.get("payer") or {}
    openid = payer.get("sp_openid") or payer.get("sub_openid")
    if not openid:
        raise SandboxApiError(400, "PARAM_ERROR", "缺少 payer.sp_openid 或 payer.sub_openid")
    if sandbox.directory is not None and "sp_openid" in payer:
        user = sandbox.directory.known(str(payer["sp_openid"]))
        if user is None or user.appid != data["sp_appid"]:
            raise SandboxApiError(400, "PARAM_ERROR", "openid 与 sp_appid 不匹配")


async def query_by_out_trade_no(request: web.Request) -> web.Response:
    """GET /v3/pay/partner/transactions/out-trade-no/{no}."""
    sandbox = request.app[SANDBOX_KEY]
    order = sandbox.books.order(request.match_info["no"], sub_mchid_of(request))
    sandbox.codes.on_query(order, sandbox.clock.now())
    return answer(sandbox, 200, order.view(), forged=sandbox.codes.forged(order.out_trade_no))


async def query_by_transaction_id(request: web.Request) -> web.Response:
    """GET /v3/pay/partner/transactions/id/{id}."""
    sandbox = request.app[SANDBOX_KEY]
    order = sandbox.books.by_transaction(request.match_info["id"], sub_mchid_of(request))
    return answer(sandbox, 200, order.view(), forged=sandbox.codes.forged(order.out_trade_no))


async def close(request: web.Request) -> web.Response:
    """POST .../out-trade-no/{no}/close: 204, refused within five minutes of creation."""
    sandbox = request.app[SANDBOX_KEY]
    data = await read_json(request)
    if data.get("sp_mchid") != sandbox.books.sp_mchid:
        raise SandboxApiError(400, "PARAM_ERROR", "sp_mchid 与签名商户号不一致")
    order = sandbox.books.order(request.match_info["no"], str(data.get("sub_mchid", "")))
    sandbox.books.close(order, sandbox.clock.now())
    return answer(sandbox, 204, None)


async def refund(request: web.Request) -> web.Response:
    """POST /v3/refund/domestic/refunds: full or partial, within a year of payment."""
    sandbox = request.app[SANDBOX_KEY]
    data = await read_json(request)
    if not data.get("sub_mchid") or not data.get("out_refund_no"):
        raise SandboxApiError(400, "PARAM_ERROR", "缺少 sub_mchid 或 out_refund_no")
    amount = data.get("amount")
    if not isinstance(amount, dict) or not {"refund", "total"} <= amount.keys():
        raise SandboxApiError(400, "PARAM_ERROR", "缺少 amount.refund 或 amount.total")
    created = sandbox.books.refund(data, sandbox.clock.now())
    if sandbox.refund_delay is not None and created.status == "PROCESSING":
        spawn(sandbox, _complete_later(sandbox, created, sandbox.refund_delay))
    return answer(sandbox, 200, created.view())


async def query_refund(request: web.Request) -> web.Response:
    """GET /v3/refund/domestic/refunds/{no}?sub_mchid=..."""
    sandbox = request.app[SANDBOX_KEY]
    found = sandbox.books.refund_by_no(request.match_info["no"], sub_mchid_of(request))
    return answer(sandbox, 200, found.view())


async def simulate_payment(request: web.Request) -> web.Response:
    """Sandbox only: the payer confirms wx.requestPayment; the notify is sent at once.

    The body is what the mini-program passes to wx.requestPayment plus the paying `openid`
    and an optional `result` ("SUCCESS" or "PAYERROR"); paySign is checked like WeChat does.
    """
    sandbox = request.app[SANDBOX_KEY]
    data = await read_json(request)
    prepay_id = str(data.get("package", "")).removeprefix("prepay_id=")
    order = sandbox.books.by_prepay(prepay_id)
    if data.get("appId") != order.sp_appid or data.get("signType") != "RSA":
        raise SandboxApiError(400, "PARAM_ERROR", "appId 或 signType 不正确")
    message = "".join(f"{data.get(k, '')}\n" for k in ("appId", "timeStamp", "nonceStr", "package"))
    if not signing.verify(sandbox.merchant_key, message, str(data.get("paySign", ""))):
        raise SandboxApiError(400, "SIGN_ERROR", "paySign 签名错误")
    if data.get("openid") not in order.payer.values():
        raise SandboxApiError(403, "NO_AUTH", "当前用户不是该订单的支付者")
    sandbox.books.pay(order, str(data.get("result", "SUCCESS")), sandbox.clock.now())
    sent: Notification | None = None
    if order.trade_state == "SUCCESS":
        content = order.view()
        sent = await sandbox.outbox.send(
            order.notify_url, "TRANSACTION.SUCCESS", "支付成功", "transaction", content
        )
    answer = {"trade_state": order.trade_state, "transaction_id": order.transaction_id}
    return web.json_response({**answer, "notification": describe(sent)})


async def complete_refund(request: web.Request) -> web.Response:
    """Sandbox only: the refund reaches the payer; REFUND.SUCCESS is notified."""
    sandbox = request.app[SANDBOX_KEY]
    found = sandbox.books.refunds.get(request.match_info["no"])
    if found is None:
        raise SandboxApiError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
    sent = await _finish_refund(sandbox, found)
    return web.json_response({"status": found.status, "notification": describe(sent)})


async def redeliver(request: web.Request) -> web.Response:
    """Sandbox only: send a notification again, as WeChat Pay retries it."""
    sandbox = request.app[SANDBOX_KEY]
    notification = sandbox.outbox.sent.get(request.match_info["id"])
    if notification is None:
        raise SandboxApiError(404, "RESOURCE_NOT_EXISTS", "通知不存在")
    await sandbox.outbox.deliver(notification)
    return web.json_response(describe(notification))


async def list_notifications(request: web.Request) -> web.Response:
    """Sandbox only: every notification sent, oldest first."""
    sandbox = request.app[SANDBOX_KEY]
    return web.json_response([describe(n) for n in sandbox.outbox.sent.values()])


async def _finish_refund(sandbox: PaySandbox, found: Refund) -> Notification | None:
    if not sandbox.books.complete_refund(found, sandbox.clock.now()) or not found.notify_url:
        return None
    return await sandbox.outbox.send(
        found.notify_url, "REFUND.SUCCESS", "退款成功", "refund", found.notice()
    )


async def _complete_later(sandbox: PaySandbox, found: Refund, delay: float) -> None:
    await asyncio.sleep(delay)
    await _finish_refund(sandbox, found)
