"""Cashier shifts (收费员, plan 3): receipts, the shift's cash count, and the micropay port."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.billing import SHANGHAI
from core.errors import ConflictError, ValidationFailedError
from core.money import format_yuan


class ShiftOpenError(ConflictError):
    """The cashier already has an open shift, or has none to act in."""

    code = "shift_state"
    message_zh = "收费班次状态不允许此操作"


class DifferenceUnexplainedError(ValidationFailedError):
    """A cash count that differs from the expected amount needs an explanation."""

    code = "difference_unexplained"
    message_zh = "现金短款或长款，请填写说明"


@dataclass(frozen=True, slots=True)
class Taking:
    """One thing taken during a shift."""

    channel: str  # cash, micropay, free
    amount_fen: int


@dataclass(frozen=True, slots=True)
class ShiftCount:
    """Expected against counted cash at the end of a shift."""

    cash_fen: int
    micropay_fen: int
    free_count: int
    expected_cash_fen: int
    counted_cash_fen: int

    @property
    def difference_fen(self) -> int:
        """Counted minus expected: positive is a surplus (长款), negative a shortfall (短款)."""
        return self.counted_cash_fen - self.expected_cash_fen


def count_shift(opening_float_fen: int, takings: Iterable[Taking], counted_fen: int) -> ShiftCount:
    """Sum a shift's takings; the drawer should hold the float plus the cash taken."""
    items = list(takings)
    cash = sum(t.amount_fen for t in items if t.channel == "cash")
    micropay = sum(t.amount_fen for t in items if t.channel == "micropay")
    free = sum(1 for t in items if t.channel == "free")
    return ShiftCount(cash, micropay, free, opening_float_fen + cash, counted_fen)


def check_explained(count: ShiftCount, explanation: str | None) -> None:
    """Refuse to close a shift whose difference has no explanation."""
    if count.difference_fen and not (explanation or "").strip():
        raise DifferenceUnexplainedError(detail=f"difference {count.difference_fen} fen")


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a printed cash receipt says."""

    receipt_no: str
    lot_name: str
    plate: str
    entered_at: datetime
    exited_at: datetime | None
    fee_fen: int
    paid_fen: int
    cashier: str
    printed_at: datetime


def receipt_text(receipt: Receipt) -> str:
    """The receipt as the lane printer prints it, times in Beijing time."""

    def local(moment: datetime | None) -> str:
        return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if moment else "-"

    return "\n".join(
        [
            receipt.lot_name,
            "停车费收据",
            f"收据号：{receipt.receipt_no}",
            f"车牌：{receipt.plate}",
            f"入场：{local(receipt.entered_at)}",
            f"出场：{local(receipt.exited_at)}",
            f"应收：{format_yuan(receipt.fee_fen)}元",
            f"实收现金：{format_yuan(receipt.paid_fen)}元",
            f"收费员：{receipt.cashier}",
            f"打印时间：{local(receipt.printed_at)}",
        ]
    )


@dataclass(frozen=True, slots=True)
class MicropayOrder:
    """A payment-code (付款码) charge at a lane, to the lot operator's sub-merchant."""

    out_trade_no: str
    sub_mchid: str
    auth_code: str
    amount_fen: int
    description: str
    device_id: str = "cashier"  # the lane or office whose scanner read the code
    profit_sharing: bool = False  # frozen at the sub-merchant until shares go out (分账)


@dataclass(frozen=True, slots=True)
class MicropayResult:
    """The provider's answer: paid with a transaction id, or not (with its state)."""

    paid: bool
    state: str
    transaction_id: str | None = None


class MicropayGateway(Protocol):
    """The narrow port a cashier needs; a WeChat Pay adapter implements it."""

    async def micropay(self, order: MicropayOrder) -> MicropayResult:
        """Charge the driver's payment code; USERPAYING is polled by the adapter until final.

        Calling it again with the same out_trade_no never charges twice. A GatewayError means
        the outcome is unknown (the order is left for the payment sweep to query).
        """
        ...


# What the cashier is told when a payment code was not charged, by the provider's state.
_FAILURES_ZH = {
    "REVOKED": "车主未在规定时间内确认支付，本次付款已撤销，请车主刷新付款码后重新扫码",
    "NOTENOUGH": "车主零钱或银行卡余额不足，请车主更换付款方式后重新出示付款码",
    "AUTHCODEEXPIRE": "付款码已过期或已使用，请车主刷新付款码后重新扫码",
    "AUTH_CODE_INVALID": "付款码无效，请扫描车主微信中的付款码（18位数字）",
    "PAYERROR": "车主取消了支付或支付失败，请车主重新出示付款码",
}
FAILURE_ZH = "付款码支付未成功，请让车主重新出示付款码"


def micropay_failure_zh(state: str) -> str:
    """The Chinese message a cashier sees for a payment code that was not charged."""
    return _FAILURES_ZH.get(state, FAILURE_ZH)
