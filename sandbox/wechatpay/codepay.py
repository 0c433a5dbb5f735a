"""WeChat Pay v3 partner codepay (付款码支付) and its reverse, as the stand-in serves them."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from sandbox.wechatpay.orders import SandboxApiError
from sandbox.wechatpay.state import SANDBOX_KEY, PaySandbox, answer, read_json

OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_\-*]{6,32}$")


def install(app: web.Application) -> None:
    """Add the codepay routes (queries go through the partner query route)."""
    app.router.add_post("/v3/pay/partner/transactions/codepay", codepay)
    app.router.add_post("/v3/pay/partner/transactions/out-trade-no/{no}/reverse", reverse)


async def codepay(request: web.Request) -> web.Response:
    """POST /v3/pay/partner/transactions/codepay: charge a payment code for a sub-merchant."""
    sandbox = request.app[SANDBOX_KEY]
    data = await read_json(request)
    check_codepay(sandbox, data)
    order, first = sandbox.codes.charge(sandbox.books, data, sandbox.clock.now())
    status, payload = sandbox.codes.charge_answer(order, first)
    return answer(sandbox, status, payload, forged=sandbox.codes.forged(order.out_trade_no))


def check_codepay(sandbox: PaySandbox, data: dict[str, Any]) -> None:
    """Refuse a codepay request the way WeChat Pay's parameter checks do."""
    for name in ("sp_appid", "sp_mchid", "sub_mchid", "description", "out_trade_no"):
        if not isinstance(data.get(name), str) or not data[name]:
            raise SandboxApiError(400, "PARAM_ERROR", f"缺少参数 {name}")
    if data["sp_mchid"] != sandbox.books.sp_mchid:
        raise SandboxApiError(400, "PARAM_ERROR", "sp_mchid 与签名商户号不一致")
    if sandbox.directory is not None and data["sp_appid"] not in sandbox.directory.apps:
        raise SandboxApiError(400, "APPID_MCHID_NOT_MATCH", "sp_appid 与 sp_mchid 不匹配")
    if not OUT_TRADE_NO.match(data["out_trade_no"]):
        raise SandboxApiError(400, "PARAM_ERROR", "out_trade_no 格式不正确")
    payer, amount = data.get("payer"), data.get("amount")
    if not isinstance(payer, dict) or not isinstance(payer.get("auth_code"), str):
        raise SandboxApiError(400, "PARAM_ERROR", "缺少 payer.auth_code")
    total = amount.get("total") if isinstance(amount, dict) else None
    if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
        raise SandboxApiError(400, "PARAM_ERROR", "amount.total 必须为正整数（分）")
    if not isinstance(data.get("scene_info"), dict):
        raise SandboxApiError(400, "PARAM_ERROR", "缺少 scene_info")


async def reverse(request: web.Request) -> web.Response:
    """POST .../out-trade-no/{no}/reverse: 204; an unpaid order closes, a paid one is paid back."""
    sandbox = request.app[SANDBOX_KEY]
    data = await read_json(request)
    if data.get("sp_mchid") != sandbox.books.sp_mchid:
        raise SandboxApiError(400, "PARAM_ERROR", "sp_mchid 与签名商户号不一致")
    order = sandbox.books.order(request.match_info["no"], str(data.get("sub_mchid", "")))
    sandbox.codes.reverse(order)
    return answer(sandbox, 204, None, forged=sandbox.codes.forged(order.out_trade_no))
