"""Payment codes (付款码) in the sandbox: what each code makes happen, and codepay's rules.

A WeChat payment code is 18 digits starting 10 to 15, used once. In the sandbox its third and
fourth digits choose what the driver does (docs/lanes.md "Payment codes"):

| digits 3-4 | what happens |
| --- | --- |
| 11 | the driver must type the password: USERPAYING, paid at the 2nd query |
| 22 | USERPAYING and never confirmed (until the merchant reverses it) |
| 33 | the balance is not enough: NOTENOUGH |
| 44 | USERPAYING, then the driver cancels: PAYERROR at the 2nd query |
| 55 | paid, but the codepay answer is a SYSTEM_ERROR (the outcome is for the query to tell) |
| 66 | paid, but every answer about the order is signed with a key that is not WeChat Pay's |
| other | paid at once |
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sandbox.wechatpay.orders import Order, PayBooks, SandboxApiError, paid

AUTH_CODE = re.compile(r"^1[0-5]\d{16}$")
QUERIES_TO_DECIDE = 2


class Scenario(StrEnum):
    """What the driver showing a code does."""

    PAYS = "pays"
    PASSWORD = "password"
    NEVER_CONFIRMS = "never_confirms"
    NOT_ENOUGH = "not_enough"
    CANCELS = "cancels"
    SYSTEM_ERROR = "system_error"
    FORGED = "forged"


_BY_DIGITS = {
    "11": Scenario.PASSWORD,
    "22": Scenario.NEVER_CONFIRMS,
    "33": Scenario.NOT_ENOUGH,
    "44": Scenario.CANCELS,
    "55": Scenario.SYSTEM_ERROR,
    "66": Scenario.FORGED,
}
_WAITS = (Scenario.PASSWORD, Scenario.NEVER_CONFIRMS, Scenario.CANCELS)


def scenario_of(auth_code: str) -> Scenario:
    """The scenario a sandbox payment code plays."""
    return _BY_DIGITS.get(auth_code[2:4], Scenario.PAYS)


@dataclass(slots=True)
class _CodeOrder:
    scenario: Scenario
    queries: int = 0


@dataclass
class CodeDesk:
    """The codepay side of the books: which code paid which order, and how far each got."""

    used: dict[str, str] = field(default_factory=dict)  # auth_code -> out_trade_no
    orders: dict[str, _CodeOrder] = field(default_factory=dict)  # out_trade_no -> progress

    def charge(self, books: PayBooks, request: dict[str, Any], now: datetime) -> tuple[Order, bool]:
        """The order of this request and whether it is new; a repeat is the same order."""
        out_trade_no = str(request["out_trade_no"])
        existing = books.orders.get(out_trade_no)
        if existing is not None:
            if existing.request != request:
                raise SandboxApiError(403, "OUT_TRADE_NO_USED", "商户订单号重复")
            return existing, False
        auth_code = str(request["payer"]["auth_code"])
        if not AUTH_CODE.match(auth_code):
            raise SandboxApiError(400, "AUTH_CODE_INVALID", "请扫描微信支付付款码（18位数字）")
        if auth_code in self.used:
            raise SandboxApiError(403, "AUTHCODEEXPIRE", "二维码已过期，请用户在微信上刷新后再试")
        scenario = scenario_of(auth_code)
        order = _new_order(request, auth_code, now)
        books.orders[out_trade_no] = order
        self.used[auth_code] = out_trade_no
        self.orders[out_trade_no] = _CodeOrder(scenario)
        if scenario in _WAITS:
            order.trade_state = "USERPAYING"
        elif scenario is Scenario.NOT_ENOUGH:
            order.trade_state = "PAYERROR"
        else:
            paid(order, now)
        return order, True

    def charge_answer(self, order: Order, first: bool) -> tuple[int, dict[str, Any]]:
        """What codepay answers for the order, as HTTP status and body."""
        progress = self.orders[order.out_trade_no]
        if first and progress.scenario is Scenario.SYSTEM_ERROR:
            return 500, {"code": "SYSTEM_ERROR", "message": "系统错误，请稍后查询订单"}
        if order.trade_state == "USERPAYING":
            return 202, {"trade_state": "USERPAYING"}
        if progress.scenario is Scenario.NOT_ENOUGH:
            return 403, {"code": "NOTENOUGH", "message": "用户余额不足，请用户换卡支付"}
        if order.trade_state == "REVOKED":
            return 400, {"code": "ORDERREVERSED", "message": "订单已撤销"}
        if order.trade_state == "PAYERROR":
            return 403, {"code": "TRADE_ERROR", "message": "用户取消支付"}
        return 200, order.view()

    def on_query(self, order: Order, now: datetime) -> None:
        """A query: a driver who is typing the password finishes (or cancels) at the 2nd."""
        progress = self.orders.get(order.out_trade_no)
        if progress is None or order.trade_state != "USERPAYING":
            return
        progress.queries += 1
        if progress.queries < QUERIES_TO_DECIDE:
            return
        if progress.scenario is Scenario.PASSWORD:
            paid(order, now)
        elif progress.scenario is Scenario.CANCELS:
            order.trade_state = "PAYERROR"

    def reverse(self, order: Order) -> None:
        """Reverse an order: closed if unpaid, the money back to the payer if paid."""
        if order.out_trade_no not in self.orders:
            raise SandboxApiError(400, "INVALID_REQUEST", "仅付款码支付订单可撤销")
        if order.refunded:
            raise SandboxApiError(400, "INVALID_REQUEST", "订单已发生退款，不能撤销")
        order.trade_state = "REVOKED"

    def forged(self, out_trade_no: str) -> bool:
        """Whether answers about this order are signed with a key that is not WeChat Pay's."""
        progress = self.orders.get(out_trade_no)
        return progress is not None and progress.scenario is Scenario.FORGED


def _new_order(request: dict[str, Any], auth_code: str, now: datetime) -> Order:
    # WeChat Pay tells the merchant who paid: an openid of the paying app, made up here.
    openid = "oSB" + hashlib.sha256(auth_code.encode()).hexdigest()[:25]
    return Order(
        sp_appid=str(request["sp_appid"]),
        sp_mchid=str(request["sp_mchid"]),
        sub_mchid=str(request["sub_mchid"]),
        out_trade_no=str(request["out_trade_no"]),
        description=str(request["description"]),
        notify_url="",
        total=int(request["amount"]["total"]),
        payer={"sp_openid": openid},
        attach=str(request.get("attach", "")),
        created_at=now,
        prepay_id="",
        request=request,
        trade_type="MICROPAY",
    )
