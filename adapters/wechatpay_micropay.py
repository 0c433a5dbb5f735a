"""The cashier's MicropayGateway on WeChat Pay API v3 partner codepay (付款码支付).

POST /v3/pay/partner/transactions/codepay charges the code to the order's sub-merchant. When the
driver must confirm with a password the answer is USERPAYING and the order is queried until it is
final; one the driver never confirms, or any order that did not clearly succeed, is reversed
(POST .../out-trade-no/{no}/reverse: closed if unpaid, paid back if paid), so no money is kept
without a verified SUCCESS. Requests are signed and answers verified by wechatpayv3, through the
same client as the JSAPI gateway (adapters/wechatpay.py).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from wechatpayv3.async_.type import WeChatPayType

from adapters.wechatpay import WeChatPayGateway, parse_transaction
from core.cashier import MicropayOrder, MicropayResult
from core.payment_gateway import GatewayError, TradeState, TransactionReport
from core.payment_gateway import GatewayRejectedError as Rejected

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

UNKNOWN = "UNKNOWN"
# Answers that say nothing final about the order: ask WeChat Pay for it, never charge again.
_ASK_AGAIN = frozenset(
    {UNKNOWN, "USERPAYING", "NOTPAY", "SYSTEM_ERROR", "SYSTEMERROR", "BANKERROR", "ORDERPAID"}
    | {"OUT_TRADE_NO_USED", "FREQUENCY_LIMITED", "ORDER_NOT_EXIST", "ORDERNOTEXIST"}
)
_PAID = frozenset({TradeState.SUCCESS.value, TradeState.REFUND.value})
# A reverse answering these has nothing left to undo.
_NOTHING_TO_REVERSE = frozenset({"ORDER_NOT_EXIST", "ORDERNOTEXIST", "ORDERREVERSED"})


@dataclass(frozen=True, slots=True)
class MicropayTiming:
    """How long a driver may take to confirm: Tencent asks for a query every 5 s, about 30 s."""

    poll_every: float = 5.0
    give_up_after: float = 30.0
    reverse_attempts: int = 3

    @property
    def polls(self) -> int:
        """How many queries fit before giving up."""
        return max(1, math.ceil(self.give_up_after / self.poll_every))


@dataclass(frozen=True, slots=True)
class _Answer:
    """What WeChat Pay said about an order: a trade state or an error code."""

    state: str
    report: TransactionReport | None = None


class WeChatPayMicropay:
    """Charge a payment code in partner mode; USERPAYING polled, unconfirmed orders reversed."""

    def __init__(
        self,
        gateway: WeChatPayGateway,
        timing: MicropayTiming | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._gateway = gateway
        self._timing = timing or MicropayTiming()
        self._sleep = sleep

    async def micropay(self, order: MicropayOrder) -> MicropayResult:
        """Charge, wait for the driver if needed, reverse what did not clearly succeed."""
        answer = await self._charge(order)
        if answer.state in _ASK_AGAIN:
            answer = await self._poll(order)
        if answer.state in _PAID and answer.report is not None:
            _check(order, answer.report)
            return MicropayResult(True, TradeState.SUCCESS.value, answer.report.transaction_id)
        log.info("micropay %s not paid (%s): reversing", order.out_trade_no, answer.state)
        await self._reverse(order)
        state = TradeState.REVOKED.value if answer.state in _ASK_AGAIN else answer.state
        return MicropayResult(False, state)

    async def _charge(self, order: MicropayOrder) -> _Answer:
        """POST .../codepay; the same out_trade_no again is the same order, never a new charge."""
        try:
            _, body = await self._gateway.call(
                "pay",
                description=order.description,
                out_trade_no=order.out_trade_no,
                amount={"total": order.amount_fen, "currency": "CNY"},
                payer={"auth_code": order.auth_code},
                scene_info={"device_id": order.device_id},
                settle_info={"profit_sharing": True} if order.profit_sharing else None,
                sub_mchid=order.sub_mchid,
                pay_type=WeChatPayType.CODEPAY,
            )
        except Rejected as exc:
            return _Answer(exc.provider_code or UNKNOWN)
        except GatewayError as exc:
            log.warning("codepay %s: no usable answer (%s)", order.out_trade_no, exc.detail)
            return _Answer(UNKNOWN)
        return _answer(body)

    async def _poll(self, order: MicropayOrder) -> _Answer:
        """Query until the order is final or the driver has had long enough."""
        answer = _Answer(UNKNOWN)
        for _ in range(self._timing.polls):
            await self._sleep(self._timing.poll_every)
            answer = await self._query(order)
            if answer.state not in _ASK_AGAIN:
                return answer
        return answer

    async def _query(self, order: MicropayOrder) -> _Answer:
        try:
            report = await self._gateway.query(order.out_trade_no, order.sub_mchid)
        except Rejected as exc:
            return _Answer(exc.provider_code or UNKNOWN)
        except GatewayError as exc:
            log.warning("query of %s failed: %s", order.out_trade_no, exc.detail)
            return _Answer(UNKNOWN)
        return _Answer(report.trade_state.value, report)

    async def _reverse(self, order: MicropayOrder) -> None:
        """POST .../reverse, again when it fails; GatewayError if it never gets through."""
        problem = ""
        for attempt in range(self._timing.reverse_attempts):
            if attempt:
                await self._sleep(self._timing.poll_every)
            try:
                await self._gateway.call(
                    "codepay_reverse", out_trade_no=order.out_trade_no, sub_mchid=order.sub_mchid
                )
                return
            except Rejected as exc:
                if exc.provider_code in _NOTHING_TO_REVERSE:
                    return
                problem = str(exc.detail)
            except GatewayError as exc:
                problem = str(exc.detail)
            log.warning("reverse of %s failed: %s", order.out_trade_no, problem)
        raise GatewayError(detail=f"reverse of {order.out_trade_no} failed: {problem}")


def _answer(body: Any) -> _Answer:
    """The codepay answer: the paid order, or only a trade_state (USERPAYING)."""
    if not isinstance(body, dict):
        return _Answer(UNKNOWN)
    state = str(body.get("trade_state") or UNKNOWN)
    if state not in _PAID:
        return _Answer(state)
    try:
        return _Answer(state, parse_transaction(body))
    except GatewayError as exc:
        log.warning("unusable codepay answer: %s", exc.detail)
        return _Answer(UNKNOWN)


def _check(order: MicropayOrder, report: TransactionReport) -> None:
    """A paid order must be ours: same number, sub-merchant and amount, with a transaction."""
    expected = (order.out_trade_no, order.sub_mchid, order.amount_fen)
    got = (report.out_trade_no, report.sub_mchid, report.amount_fen)
    if got != expected or not report.transaction_id:
        raise GatewayError(detail=f"codepay answer {got} for {expected}")
