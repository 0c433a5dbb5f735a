"""The port to a payment provider; adapters (e.g. adapters/wechatpay.py) implement it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from core.errors import AuthenticationError, DomainError


class TradeState(StrEnum):
    """What the provider says about an order (WeChat Pay's trade_state values)."""

    NOTPAY = "NOTPAY"
    USERPAYING = "USERPAYING"
    SUCCESS = "SUCCESS"
    CLOSED = "CLOSED"
    REFUND = "REFUND"  # paid, and a refund has since been requested
    PAYERROR = "PAYERROR"
    REVOKED = "REVOKED"
    ACCEPTED = "ACCEPTED"  # a parking-service deduction taken on, not yet paid
    PAY_FAIL = "PAY_FAIL"  # a parking-service deduction that could not be taken


class ProviderRefundStatus(StrEnum):
    """What the provider says about a refund."""

    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    CLOSED = "CLOSED"
    ABNORMAL = "ABNORMAL"


class GatewayError(DomainError):
    """The provider could not be reached or answered something unusable."""

    code = "payment_provider_unavailable"
    status = 502
    message_zh = "支付服务暂时不可用，请稍后再试"


class GatewayNotConfiguredError(DomainError):
    """No payment provider is configured for this deployment."""

    code = "payments_not_configured"
    status = 503
    message_zh = "支付功能未开通"


class GatewayRejectedError(DomainError):
    """The provider refused the request; `provider_code` is its error code."""

    code = "payment_rejected"
    status = 409
    message_zh = "支付服务拒绝了该请求"

    def __init__(self, provider_code: str, provider_message: str, http_status: int) -> None:
        super().__init__(detail=f"{http_status} {provider_code}: {provider_message}")
        self.provider_code = provider_code
        self.provider_message = provider_message
        self.http_status = http_status


class NotifyRejectedError(AuthenticationError):
    """A notification whose signature, time or encryption does not check out."""

    code = "notify_rejected"
    message_zh = "通知验签失败"


@dataclass(frozen=True, slots=True)
class JsapiOrder:
    """What the provider needs to open a JSAPI order for a payer in a mini-program."""

    out_trade_no: str
    sub_mchid: str
    appid: str
    payer_openid: str
    amount_fen: int
    description: str
    notify_url: str
    expires_at: datetime
    attach: str = ""
    profit_sharing: bool = False  # frozen at the sub-merchant until shares go out (分账)


@dataclass(frozen=True, slots=True)
class RequestPayment:
    """The signed parameters the mini-program passes to wx.requestPayment."""

    app_id: str
    time_stamp: str
    nonce_str: str
    package: str
    sign_type: str
    pay_sign: str


@dataclass(frozen=True, slots=True)
class TransactionReport:
    """An order as the provider sees it, from a query or a verified notification."""

    out_trade_no: str
    sub_mchid: str
    trade_state: TradeState
    amount_fen: int
    transaction_id: str | None = None
    success_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class RefundOrder:
    """A refund request for part or all of a paid order."""

    out_refund_no: str
    out_trade_no: str
    sub_mchid: str
    refund_fen: int
    total_fen: int
    reason: str
    notify_url: str


@dataclass(frozen=True, slots=True)
class RefundReport:
    """A refund as the provider sees it."""

    out_refund_no: str
    out_trade_no: str
    sub_mchid: str
    refund_id: str
    status: ProviderRefundStatus
    refund_fen: int
    success_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class CombineReport:
    """A combined order as WeChat Pay describes it: one report per sub-order."""

    combine_out_trade_no: str
    sub_orders: tuple[TransactionReport, ...]


@dataclass(frozen=True, slots=True)
class EntryStateReport:
    """停车入场状态变更: whether a stay's entry can still be deducted (NORMAL or BLOCKED)."""

    out_parking_no: str
    sub_mchid: str
    parking_id: str
    state: str
    block_reason: str | None = None


Notice = TransactionReport | RefundReport | CombineReport | EntryStateReport


class PaymentGateway(Protocol):
    """A payment provider in partner mode: orders go to the sub-merchant named on each."""

    async def create_jsapi(self, order: JsapiOrder) -> str:
        """Open an order; returns the prepay id (repeating an identical order is safe)."""
        ...

    def request_payment(self, appid: str, prepay_id: str, now: datetime) -> RequestPayment:
        """Sign the wx.requestPayment parameters for a prepay id."""
        ...

    async def query(self, out_trade_no: str, sub_mchid: str) -> TransactionReport:
        """The provider's view of an order."""
        ...

    async def close(self, out_trade_no: str, sub_mchid: str) -> None:
        """Withdraw an unpaid order."""
        ...

    async def refund(self, order: RefundOrder) -> RefundReport:
        """Ask for a refund (repeating the same refund number is safe)."""
        ...

    async def parse_notice(self, headers: Mapping[str, str], body: bytes) -> Notice | None:
        """Verify and decrypt a notification (NotifyRejectedError when it is not genuine);
        None for a genuine notification of an event the platform does not act on."""
        ...
