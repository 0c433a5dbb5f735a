"""WeChat Pay 服务商分账 stand-in: receivers, sharing orders, queries, unfreezes and returns.

It keeps WeChat Pay's rules that matter to the platform: only an order paid with
settle_info.profit_sharing can be shared, only to a receiver added for its sub-merchant (whose
name, encrypted to the platform certificate, must be given), at most the order's frozen fen and
at most the sub-merchant's maximum ratio; a return takes back at most what the receiver got.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from sandbox.wechatpay.orders import Order, SandboxApiError, wechat_time
from sandbox.wechatpay.state import SANDBOX_KEY, PaySandbox, answer, read_json, sub_mchid_of

MAX_RATIO_BP = 3_000  # WeChat Pay's default for a service provider: 30% of an order


@dataclass
class ShareOrder:
    """One sharing or unfreeze order of a transaction."""

    sub_mchid: str
    transaction_id: str
    out_order_no: str
    order_id: str
    receivers: list[dict[str, Any]]
    created: str
    state: str = "FINISHED"

    def view(self) -> dict[str, Any]:
        """The order, query and unfreeze answer."""
        return {
            "sub_mchid": self.sub_mchid,
            "transaction_id": self.transaction_id,
            "out_order_no": self.out_order_no,
            "order_id": self.order_id,
            "state": self.state,
            "receivers": [dict(r) for r in self.receivers],
        }


@dataclass
class SharingDesk:
    """Receivers by sub-merchant, orders by number, what each transaction has left frozen."""

    receivers: dict[str, dict[str, str]] = field(default_factory=dict)  # sub -> account -> name
    orders: dict[str, ShareOrder] = field(default_factory=dict)
    frozen: dict[str, int] = field(default_factory=dict)  # transaction -> fen still frozen
    received: dict[tuple[str, str], int] = field(default_factory=dict)  # (order, account) -> fen
    returns: dict[str, dict[str, Any]] = field(default_factory=dict)


DESK_KEY = web.AppKey("wechatpay_profitsharing", SharingDesk)


def install(app: web.Application) -> None:
    """Add the profit sharing routes to the WeChat Pay sandbox."""
    app[DESK_KEY] = SharingDesk()
    app.router.add_post("/v3/profitsharing/receivers/add", add_receiver)
    app.router.add_post("/v3/profitsharing/orders", create_order)
    app.router.add_post("/v3/profitsharing/orders/unfreeze", unfreeze)
    app.router.add_get("/v3/profitsharing/orders/{no}", query_order)
    app.router.add_post("/v3/profitsharing/return-orders", create_return)


def _decrypt_name(sandbox: PaySandbox, request: web.Request, text: str) -> str:
    if request.headers.get("Wechatpay-Serial") != sandbox.keys.platform_serial_no:
        raise SandboxApiError(400, "PARAM_ERROR", "加密字段须以平台证书加密并带 Wechatpay-Serial")
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    try:
        return sandbox.platform_key.decrypt(base64.b64decode(text), oaep).decode()
    except ValueError:
        raise SandboxApiError(400, "PARAM_ERROR", "name 解密失败") from None


async def add_receiver(request: web.Request) -> web.Response:
    """POST /v3/profitsharing/receivers/add: a MERCHANT_ID receiver needs its full name."""
    sandbox = request.app[SANDBOX_KEY]
    data = await read_json(request)
    for name in ("sub_mchid", "type", "account", "relation_type"):
        if not data.get(name):
            raise SandboxApiError(400, "PARAM_ERROR", f"缺少参数 {name}")
    if data["type"] == "MERCHANT_ID" and not data.get("name"):
        raise SandboxApiError(400, "PARAM_ERROR", "商户接收方须填写商户全称 name")
    name = _decrypt_name(sandbox, request, str(data["name"])) if data.get("name") else ""
    desk = request.app[DESK_KEY]
    desk.receivers.setdefault(str(data["sub_mchid"]), {})[str(data["account"])] = name
    body = {k: data[k] for k in ("sub_mchid", "type", "account", "relation_type")}
    return answer(sandbox, 200, body)


def _paid_order(sandbox: PaySandbox, sub_mchid: str, transaction_id: str) -> Order:
    order = sandbox.books.by_transaction(transaction_id, sub_mchid)
    # JSAPI, codepay and combined sub-orders say settle_info.profit_sharing; a parking-service
    # deduction says profit_sharing "Y".
    frozen = (order.request.get("settle_info") or {}).get("profit_sharing")
    if not frozen and order.request.get("profit_sharing") != "Y":
        raise SandboxApiError(400, "INVALID_REQUEST", "该订单不支持分账（下单时未设置分账）")
    return order


async def create_order(request: web.Request) -> web.Response:
    """POST /v3/profitsharing/orders: send shares of a frozen transaction."""
    sandbox, desk = request.app[SANDBOX_KEY], request.app[DESK_KEY]
    data = await read_json(request)
    sub_mchid, out_order_no = str(data.get("sub_mchid", "")), str(data.get("out_order_no", ""))
    existing = desk.orders.get(out_order_no)
    if existing is not None:
        return answer(sandbox, 200, existing.view())
    order = _paid_order(sandbox, sub_mchid, str(data.get("transaction_id", "")))
    left = desk.frozen.setdefault(str(order.transaction_id), order.total - order.refunded)
    receivers = data.get("receivers")
    if not isinstance(receivers, list) or not receivers:
        raise SandboxApiError(400, "PARAM_ERROR", "缺少分账接收方")
    known = desk.receivers.get(sub_mchid, {})
    total = 0
    for receiver in receivers:
        amount = receiver.get("amount")
        if receiver.get("account") not in known:
            raise SandboxApiError(400, "RECEIVER_INVALID", "分账接收方未添加")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise SandboxApiError(400, "PARAM_ERROR", "分账金额必须为正整数（分）")
        total += amount
    if total > left or total > order.total * MAX_RATIO_BP // 10_000:
        raise SandboxApiError(400, "INVALID_REQUEST", "分账金额超过可分金额或最大分账比例")
    desk.frozen[str(order.transaction_id)] = 0 if data.get("unfreeze_unsplit") else left - total
    now = wechat_time(sandbox.clock.now())
    created = ShareOrder(
        sub_mchid=sub_mchid,
        transaction_id=str(order.transaction_id),
        out_order_no=out_order_no,
        order_id=f"30{secrets.randbelow(10**26):026d}",
        created=now,
        receivers=[
            {
                "amount": r["amount"],
                "description": r.get("description", ""),
                "type": r.get("type", "MERCHANT_ID"),
                "account": r["account"],
                "result": "SUCCESS",
                "create_time": now,
                "finish_time": now,
                "detail_id": f"36{secrets.randbelow(10**26):026d}",
            }
            for r in receivers
        ],
    )
    for receiver in receivers:
        desk.received[(out_order_no, str(receiver["account"]))] = int(receiver["amount"])
    desk.orders[out_order_no] = created
    return answer(sandbox, 200, created.view())


async def unfreeze(request: web.Request) -> web.Response:
    """POST /v3/profitsharing/orders/unfreeze: release what is still frozen, share nothing."""
    sandbox, desk = request.app[SANDBOX_KEY], request.app[DESK_KEY]
    data = await read_json(request)
    sub_mchid, out_order_no = str(data.get("sub_mchid", "")), str(data.get("out_order_no", ""))
    existing = desk.orders.get(out_order_no)
    if existing is not None:
        return answer(sandbox, 200, existing.view())
    order = _paid_order(sandbox, sub_mchid, str(data.get("transaction_id", "")))
    if desk.frozen.get(str(order.transaction_id)) == 0:
        raise SandboxApiError(400, "INVALID_REQUEST", "订单已无待分金额")
    desk.frozen[str(order.transaction_id)] = 0
    created = ShareOrder(
        sub_mchid=sub_mchid,
        transaction_id=str(order.transaction_id),
        out_order_no=out_order_no,
        order_id=f"30{secrets.randbelow(10**26):026d}",
        created=wechat_time(sandbox.clock.now()),
        receivers=[],
    )
    desk.orders[out_order_no] = created
    return answer(sandbox, 200, created.view())


async def query_order(request: web.Request) -> web.Response:
    """GET /v3/profitsharing/orders/{out_order_no}?transaction_id=&sub_mchid=."""
    sandbox, desk = request.app[SANDBOX_KEY], request.app[DESK_KEY]
    found = desk.orders.get(request.match_info["no"])
    if (
        found is None
        or found.sub_mchid != sub_mchid_of(request)
        or found.transaction_id != request.query.get("transaction_id")
    ):
        raise SandboxApiError(404, "RESOURCE_NOT_EXISTS", "分账单不存在")
    return answer(sandbox, 200, found.view())


async def create_return(request: web.Request) -> web.Response:
    """POST /v3/profitsharing/return-orders: take back at most what the receiver got."""
    sandbox, desk = request.app[SANDBOX_KEY], request.app[DESK_KEY]
    data = await read_json(request)
    out_return_no = str(data.get("out_return_no", ""))
    existing = desk.returns.get(out_return_no)
    if existing is not None:
        return answer(sandbox, 200, existing)
    out_order_no, account = str(data.get("out_order_no", "")), str(data.get("return_mchid", ""))
    shared = desk.orders.get(out_order_no)
    if shared is None or shared.sub_mchid != data.get("sub_mchid"):
        raise SandboxApiError(404, "RESOURCE_NOT_EXISTS", "分账单不存在")
    amount = data.get("amount")
    got = desk.received.get((out_order_no, account), 0)
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= got:
        raise SandboxApiError(400, "INVALID_REQUEST", "回退金额超过该接收方已分金额")
    desk.received[(out_order_no, account)] = got - amount
    now = wechat_time(sandbox.clock.now())
    body = {
        "sub_mchid": shared.sub_mchid,
        "order_id": shared.order_id,
        "out_order_no": out_order_no,
        "out_return_no": out_return_no,
        "return_id": f"90{secrets.randbelow(10**26):026d}",
        "return_mchid": account,
        "amount": amount,
        "description": str(data.get("description", "")),
        "result": "SUCCESS",
        "create_time": now,
        "finish_time": now,
    }
    desk.returns[out_return_no] = body
    return answer(sandbox, 200, body)
