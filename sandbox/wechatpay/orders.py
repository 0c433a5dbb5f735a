"""The sandbox's books: partner JSAPI orders and refunds, with WeChat Pay's rules."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
# WeChat Pay refuses to close an order younger than this.
CLOSE_AFTER = timedelta(minutes=5)
PREPAY_VALID = timedelta(hours=2)


class SandboxApiError(Exception):
    """An error WeChat Pay answers with an HTTP status and a `{code, message}` body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


@dataclass(slots=True)
class Order:
    """One partner-mode order as WeChat Pay keeps it."""

    sp_appid: str
    sp_mchid: str
    sub_mchid: str
    out_trade_no: str
    description: str
    notify_url: str
    total: int
    payer: dict[str, str]
    attach: str
    created_at: datetime
    prepay_id: str
    request: dict[str, Any]
    trade_state: str = "NOTPAY"
    trade_type: str = "JSAPI"
    transaction_id: str | None = None
    success_time: datetime | None = None
    refunded: int = 0

    def view(self) -> dict[str, Any]:
        """The order as the query API and the payment notification describe it."""
        body: dict[str, Any] = {
            "sp_appid": self.sp_appid,
            "sp_mchid": self.sp_mchid,
            "sub_mchid": self.sub_mchid,
            "out_trade_no": self.out_trade_no,
            "trade_type": self.trade_type,
            "trade_state": self.trade_state,
            "trade_state_desc": _STATE_DESC[self.trade_state],
            "attach": self.attach,
            "payer": dict(self.payer),
            "amount": {"total": self.total, "currency": "CNY"},
        }
        if self.transaction_id is not None:
            body["transaction_id"] = self.transaction_id
            body["bank_type"] = "OTHERS"
            body["amount"].update(payer_total=self.total, payer_currency="CNY")
        if self.success_time is not None:
            body["success_time"] = wechat_time(self.success_time)
        return body


@dataclass(slots=True)
class Refund:
    """One refund of an order."""

    out_refund_no: str
    refund_id: str
    order: Order
    amount: int
    reason: str
    notify_url: str | None
    created_at: datetime
    status: str = "PROCESSING"
    success_time: datetime | None = None

    def view(self) -> dict[str, Any]:
        """The refund as the refund APIs describe it."""
        body: dict[str, Any] = {
            "refund_id": self.refund_id,
            "out_refund_no": self.out_refund_no,
            "transaction_id": self.order.transaction_id,
            "out_trade_no": self.order.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": wechat_time(self.created_at),
            "status": self.status,
            "funds_account": "AVAILABLE",
            "amount": {
                "total": self.order.total,
                "refund": self.amount,
                "payer_total": self.order.total,
                "payer_refund": self.amount,
                "settlement_total": self.order.total,
                "settlement_refund": self.amount,
                "discount_refund": 0,
                "currency": "CNY",
            },
        }
        if self.success_time is not None:
            body["success_time"] = wechat_time(self.success_time)
        return body

    def notice(self) -> dict[str, Any]:
        """The decrypted content of this refund's notification."""
        return {
            "sp_mchid": self.order.sp_mchid,
            "sub_mchid": self.order.sub_mchid,
            "out_trade_no": self.order.out_trade_no,
            "transaction_id": self.order.transaction_id,
            "out_refund_no": self.out_refund_no,
            "refund_id": self.refund_id,
            "refund_status": self.status,
            "success_time": wechat_time(self.success_time or self.created_at),
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": self.order.total,
                "refund": self.amount,
                "payer_total": self.order.total,
                "payer_refund": self.amount,
            },
        }


_STATE_DESC = {
    "NOTPAY": "未支付",
    "SUCCESS": "支付成功",
    "CLOSED": "已关闭",
    "REFUND": "转入退款",
    "PAYERROR": "支付失败",
    "USERPAYING": "用户支付中（需输入密码）",
    "REVOKED": "已撤销",
    "ACCEPTED": "已受理，等待扣款",  # the parking service's deductions
    "PAY_FAIL": "扣款失败",
}


@dataclass
class PayBooks:
    """Every order and refund the sandbox has seen, keyed as WeChat Pay looks them up."""

    sp_mchid: str
    orders: dict[str, Order] = field(default_factory=dict)
    refunds: dict[str, Refund] = field(default_factory=dict)

    def prepay(self, request: dict[str, Any], now: datetime) -> Order:
        """Create an order, or return the same one for an identical repeated request."""
        out_trade_no = str(request["out_trade_no"])
        existing = self.orders.get(out_trade_no)
        if existing is not None:
            if existing.request != request:
                raise SandboxApiError(403, "OUT_TRADE_NO_USED", "商户订单号重复")
            if existing.trade_state == "SUCCESS":
                raise SandboxApiError(400, "ORDERPAID", "该订单已支付")
            if existing.trade_state == "CLOSED":
                raise SandboxApiError(400, "ORDER_CLOSED", "订单已关闭")
            return existing
        order = Order(
            sp_appid=str(request["sp_appid"]),
            sp_mchid=str(request["sp_mchid"]),
            sub_mchid=str(request["sub_mchid"]),
            out_trade_no=out_trade_no,
            description=str(request["description"]),
            notify_url=str(request["notify_url"]),
            total=int(request["amount"]["total"]),
            payer={k: str(v) for k, v in request["payer"].items()},
            attach=str(request.get("attach", "")),
            created_at=now,
            prepay_id=f"wx{now.astimezone(SHANGHAI):%Y%m%d%H%M%S}{secrets.token_hex(10)}",
            request=request,
        )
        self.orders[out_trade_no] = order
        return order

    def order(self, out_trade_no: str, sub_mchid: str) -> Order:
        """An order of a sub-merchant by the merchant's number."""
        order = self.orders.get(out_trade_no)
        if order is None or order.sub_mchid != sub_mchid:
            raise SandboxApiError(404, "ORDER_NOT_EXIST", "订单不存在")
        return order

    def by_transaction(self, transaction_id: str, sub_mchid: str) -> Order:
        """An order of a sub-merchant by WeChat Pay's transaction id."""
        for order in self.orders.values():
            if order.transaction_id == transaction_id and order.sub_mchid == sub_mchid:
                return order
        raise SandboxApiError(404, "ORDER_NOT_EXIST", "订单不存在")

    def by_prepay(self, prepay_id: str) -> Order:
        """The order a wx.requestPayment package names."""
        for order in self.orders.values():
            if prepay_id and order.prepay_id == prepay_id:
                return order
        raise SandboxApiError(404, "ORDER_NOT_EXIST", "预支付交易会话不存在")

    def pay(self, order: Order, result: str, now: datetime) -> None:
        """The payer confirms: the order succeeds or fails as asked."""
        if order.trade_state != "NOTPAY":
            raise SandboxApiError(400, "INVALID_REQUEST", f"订单状态为 {order.trade_state}")
        if now - order.created_at > PREPAY_VALID:
            raise SandboxApiError(400, "INVALID_REQUEST", "预支付交易会话已过期")
        if result == "SUCCESS":
            paid(order, now)
        else:
            order.trade_state = "PAYERROR"

    def close(self, order: Order, now: datetime) -> None:
        """Close an unpaid order, never within five minutes of its creation."""
        if order.trade_state in ("SUCCESS", "REFUND"):
            raise SandboxApiError(400, "ORDERPAID", "该订单已支付")
        if now - order.created_at < CLOSE_AFTER:
            raise SandboxApiError(400, "INVALID_REQUEST", "订单创建5分钟内不能关闭")
        order.trade_state = "CLOSED"

    def refund(self, request: dict[str, Any], now: datetime) -> Refund:
        """Accept a full or partial refund of a paid order younger than one year."""
        out_refund_no = str(request["out_refund_no"])
        order = self._refund_order(request)
        existing = self.refunds.get(out_refund_no)
        if existing is not None:
            if existing.order is not order or existing.amount != int(request["amount"]["refund"]):
                raise SandboxApiError(400, "INVALID_REQUEST", "退款单号重复且参数不一致")
            return existing
        amount = request["amount"]
        refund, total = int(amount["refund"]), int(amount["total"])
        if order.success_time is None or order.trade_state not in ("SUCCESS", "REFUND"):
            raise SandboxApiError(400, "INVALID_REQUEST", "订单未支付，不能退款")
        if total != order.total:
            raise SandboxApiError(400, "PARAM_ERROR", "订单金额与原订单不一致")
        if now > one_year_after(order.success_time):
            raise SandboxApiError(400, "INVALID_REQUEST", "订单已超过退款期限")
        if refund <= 0 or refund > order.total - order.refunded:
            raise SandboxApiError(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
        order.refunded += refund
        order.trade_state = "REFUND"
        created = Refund(
            out_refund_no=out_refund_no,
            refund_id=f"50{_digits(27)}",
            order=order,
            amount=refund,
            reason=str(request.get("reason", "")),
            notify_url=request.get("notify_url"),
            created_at=now,
        )
        self.refunds[out_refund_no] = created
        return created

    def refund_by_no(self, out_refund_no: str, sub_mchid: str) -> Refund:
        """A refund by the merchant's refund number."""
        refund = self.refunds.get(out_refund_no)
        if refund is None or refund.order.sub_mchid != sub_mchid:
            raise SandboxApiError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        return refund

    def complete_refund(self, refund: Refund, now: datetime) -> bool:
        """The money reaches the payer; False when the refund had already completed."""
        if refund.status == "SUCCESS":
            return False
        refund.status = "SUCCESS"
        refund.success_time = now
        return True

    def _refund_order(self, request: dict[str, Any]) -> Order:
        sub_mchid = str(request.get("sub_mchid", ""))
        if "transaction_id" in request:
            return self.by_transaction(str(request["transaction_id"]), sub_mchid)
        return self.order(str(request.get("out_trade_no", "")), sub_mchid)


def paid(order: Order, now: datetime) -> None:
    """The payer's money reached the order: SUCCESS with a new transaction id."""
    order.trade_state = "SUCCESS"
    order.transaction_id = f"4200{now.astimezone(SHANGHAI):%Y%m%d}{_digits(16)}"
    order.success_time = now


def one_year_after(moment: datetime) -> datetime:
    """The same instant a calendar year later (28 February for a 29 February)."""
    try:
        return moment.replace(year=moment.year + 1)
    except ValueError:
        return moment.replace(year=moment.year + 1, day=28)


def wechat_time(moment: datetime) -> str:
    """RFC 3339 in Beijing time, as WeChat Pay writes times."""
    return moment.astimezone(SHANGHAI).isoformat(timespec="seconds")


def _digits(count: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(count))
