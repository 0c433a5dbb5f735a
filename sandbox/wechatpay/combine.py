"""WeChat Pay's combined payment (合单) in the stand-in: sub-orders of several sub-merchants."""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from sandbox.wechatpay import signing
from sandbox.wechatpay.notifications import describe
from sandbox.wechatpay.orders import SHANGHAI, Order, SandboxApiError, paid, wechat_time
from sandbox.wechatpay.parking import required, sub_mchid_in
from sandbox.wechatpay.parking_state import Combine, ParkingDesk
from sandbox.wechatpay.state import SANDBOX_KEY, PaySandbox, answer, read_json


def install(app: web.Application) -> None:
    """Add combined payment and its sandbox control."""
    app.router.add_post("/v3/combine-transactions/jsapi", combine_prepay)
    app.router.add_get("/v3/combine-transactions/out-trade-no/{no}", combine_query)
    app.router.add_post("/v3/combine-transactions/out-trade-no/{no}/close", combine_close)
    app.router.add_post("/sandbox/wechatpay/combine/request-payment", pay_combine)


def _desk(request: web.Request) -> tuple[PaySandbox, ParkingDesk]:
    sandbox = request.app[SANDBOX_KEY]
    return sandbox, sandbox.parking


async def combine_prepay(request: web.Request) -> web.Response:
    """POST /v3/combine-transactions/jsapi: one prepay over sub-orders of several sub-merchants."""
    sandbox, desk = _desk(request)
    data = await read_json(request)
    required(data, "combine_appid", "combine_mchid", "combine_out_trade_no", "notify_url")
    if data["combine_mchid"] != sandbox.books.sp_mchid:
        raise SandboxApiError(400, "PARAM_ERROR", "combine_mchid 与签名商户号不一致")
    openid = (data.get("combine_payer_info") or {}).get("openid")
    subs = data.get("sub_orders")
    if not openid or not isinstance(subs, list) or not 1 <= len(subs) <= 10:
        raise SandboxApiError(400, "PARAM_ERROR", "sub_orders 须为 1 至 10 笔，且需 openid")
    existing = desk.combines.get(str(data["combine_out_trade_no"]))
    if existing is not None:
        return answer(sandbox, 200, {"prepay_id": existing.prepay_id})
    now = sandbox.clock.now()
    prepay_id = f"wx{now.astimezone(SHANGHAI):%Y%m%d%H%M%S}{secrets.token_hex(10)}"
    orders = [_sub_order(sandbox, data, sub, openid, prepay_id) for sub in subs]
    if len({o.out_trade_no for o in orders}) != len(orders):
        raise SandboxApiError(400, "PARAM_ERROR", "子单商户订单号重复")
    for order in orders:
        sandbox.books.orders[order.out_trade_no] = order
    desk.combines[str(data["combine_out_trade_no"])] = Combine(
        str(data["combine_out_trade_no"]),
        str(data["combine_appid"]),
        str(data["notify_url"]),
        str(openid),
        prepay_id,
        orders,
    )
    return answer(sandbox, 200, {"prepay_id": prepay_id})


def _sub_order(
    sandbox: PaySandbox, data: dict[str, Any], sub: dict[str, Any], openid: str, prepay_id: str
) -> Order:
    required(sub, "mchid", "out_trade_no", "description")
    if sub["mchid"] != sandbox.books.sp_mchid:
        raise SandboxApiError(400, "PARAM_ERROR", "子单 mchid 须为服务商商户号")
    total = (sub.get("amount") or {}).get("total_amount")
    if not isinstance(total, int) or total <= 0:
        raise SandboxApiError(400, "PARAM_ERROR", "amount.total_amount 必须为正整数（分）")
    if str(sub["out_trade_no"]) in sandbox.books.orders:
        raise SandboxApiError(403, "OUT_TRADE_NO_USED", "商户订单号重复")
    return Order(
        sp_appid=str(data["combine_appid"]),
        sp_mchid=sandbox.books.sp_mchid,
        sub_mchid=sub_mchid_in(sub),
        out_trade_no=str(sub["out_trade_no"]),
        description=str(sub["description"]),
        notify_url=str(data["notify_url"]),
        total=total,
        payer={"sp_openid": openid},
        attach=str(sub.get("attach", "")),
        created_at=sandbox.clock.now(),
        prepay_id=prepay_id,
        request=sub,
    )


def combine_view(combine: Combine) -> dict[str, Any]:
    """The combined order as its query and its notify describe it."""
    subs = []
    for order in combine.orders:
        sub: dict[str, Any] = {
            "mchid": order.sp_mchid,
            "sub_mchid": order.sub_mchid,
            "trade_type": "JSAPI",
            "trade_state": order.trade_state,
            "out_trade_no": order.out_trade_no,
            "attach": order.attach,
            "amount": {"total_amount": order.total, "currency": "CNY"},
        }
        if order.transaction_id is not None:
            sub["transaction_id"] = order.transaction_id
            sub["amount"].update(payer_amount=order.total, payer_currency="CNY")
        if order.success_time is not None:
            sub["success_time"] = wechat_time(order.success_time)
        subs.append(sub)
    return {
        "combine_appid": combine.combine_appid,
        "combine_mchid": combine.orders[0].sp_mchid,
        "combine_out_trade_no": combine.combine_out_trade_no,
        "combine_payer_info": {"openid": combine.openid},
        "sub_orders": subs,
    }


async def combine_query(request: web.Request) -> web.Response:
    """GET /v3/combine-transactions/out-trade-no/{no}."""
    sandbox, desk = _desk(request)
    combine = desk.combines.get(request.match_info["no"])
    if combine is None:
        raise SandboxApiError(404, "ORDER_NOT_EXIST", "订单不存在")
    return answer(sandbox, 200, combine_view(combine))


async def combine_close(request: web.Request) -> web.Response:
    """POST /v3/combine-transactions/out-trade-no/{no}/close: unpaid sub-orders close (204)."""
    sandbox, desk = _desk(request)
    combine = desk.combines.get(request.match_info["no"])
    if combine is None:
        raise SandboxApiError(404, "ORDER_NOT_EXIST", "订单不存在")
    data = await read_json(request)
    if data.get("combine_appid") != combine.combine_appid:
        raise SandboxApiError(400, "PARAM_ERROR", "combine_appid 与下单时不一致")
    subs = data.get("sub_orders")
    if not isinstance(subs, list) or not subs:
        raise SandboxApiError(400, "PARAM_ERROR", "缺少 sub_orders")
    by_no = {o.out_trade_no: o for o in combine.orders}
    chosen = []
    for sub in subs:
        order = by_no.get(str(sub.get("out_trade_no", "")))
        if order is None or order.sub_mchid != sub_mchid_in(sub):
            raise SandboxApiError(400, "PARAM_ERROR", "子单不属于该合单")
        if order.trade_state == "SUCCESS":
            raise SandboxApiError(400, "ORDERPAID", "订单已支付")
        chosen.append(order)
    for order in chosen:
        order.trade_state = "CLOSED"  # closing a closed one again changes nothing
    return answer(sandbox, 204, None)


async def pay_combine(request: web.Request) -> web.Response:
    """Sandbox only: the payer confirms a combined payment; `fail` names sub-orders that fail.

    `"notify": false` pays without a notify (a lost notify the sweep's query must find).
    """
    sandbox, desk = _desk(request)
    data = await read_json(request)
    prepay_id = str(data.get("package", "")).removeprefix("prepay_id=")
    combine = next((c for c in desk.combines.values() if c.prepay_id == prepay_id), None)
    if combine is None:
        raise SandboxApiError(404, "ORDER_NOT_EXIST", "预支付交易会话不存在")
    message = "".join(f"{data.get(k, '')}\n" for k in ("appId", "timeStamp", "nonceStr", "package"))
    if not signing.verify(sandbox.merchant_key, message, str(data.get("paySign", ""))):
        raise SandboxApiError(400, "SIGN_ERROR", "paySign 签名错误")
    if data.get("openid") != combine.openid:
        raise SandboxApiError(403, "NO_AUTH", "当前用户不是该订单的支付者")
    failing = set(data.get("fail", []))
    for order in combine.orders:
        if order.trade_state == "NOTPAY":
            if order.out_trade_no in failing:
                order.trade_state = "PAYERROR"
            else:
                paid(order, sandbox.clock.now())
    sent = None
    if data.get("notify", True):
        sent = await sandbox.outbox.send(
            combine.notify_url,
            "TRANSACTION.SUCCESS",
            "支付成功",
            "transaction",
            combine_view(combine),
        )
    states = {o.out_trade_no: o.trade_state for o in combine.orders}
    return web.json_response({"sub_orders": states, "notification": describe(sent)})
