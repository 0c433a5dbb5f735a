"""The port to WeChat Pay's vehicle parking service (停车服务) and combined payment (合单)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.payment_gateway import CombineReport, TransactionReport

__all__ = ["CombineReport"]


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """What 查询车牌服务开通信息 says of a plate for one user."""

    plate: str
    colour: str
    openid: str
    service_state: str  # NORMAL, PAUSE or OUT_SERVICE
    opened_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class EntryRequest:
    """创建停车入场: a stay of a plate begins at a place."""

    out_parking_no: str
    sub_mchid: str
    plate: str
    colour: str
    start_time: datetime
    parking_name: str
    free_seconds: int
    notify_url: str


@dataclass(frozen=True, slots=True)
class EntryAnswer:
    """The parking entry: its id, and NORMAL when the plate can be deducted for it."""

    parking_id: str
    state: str
    block_reason: str | None = None


@dataclass(frozen=True, slots=True)
class DeductionRequest:
    """扣费受理: the fee of a stay, to be deducted from the user's account."""

    out_trade_no: str
    sub_mchid: str
    parking_id: str
    plate: str
    colour: str
    start_time: datetime
    end_time: datetime
    parking_name: str
    charging_seconds: int
    device_id: str
    amount_fen: int
    description: str
    notify_url: str
    attach: str = ""
    profit_sharing: bool = False  # frozen at the sub-merchant until shares go out (分账)


@dataclass(frozen=True, slots=True)
class SubOrder:
    """One sub-order of a combined payment, paid to its own sub-merchant."""

    out_trade_no: str
    sub_mchid: str
    amount_fen: int
    description: str
    attach: str = ""
    profit_sharing: bool = False  # frozen at the sub-merchant until shares go out (分账)


@dataclass(frozen=True, slots=True)
class CombineRequest:
    """合单 JSAPI: one payer, sub-orders of several sub-merchants."""

    combine_out_trade_no: str
    appid: str
    payer_openid: str
    sub_orders: tuple[SubOrder, ...]
    notify_url: str
    expires_at: datetime


class ParkingService(Protocol):
    """The parking service and combined payment, in partner mode."""

    async def find(self, plate: str, colour: str, openid: str, sub_mchid: str) -> ServiceInfo:
        """The plate's service state for this user."""
        ...

    async def enter(self, request: EntryRequest) -> EntryAnswer:
        """Tell WeChat Pay a stay began (repeating the same out_parking_no is safe)."""
        ...

    async def deduct(self, request: DeductionRequest) -> TransactionReport:
        """Ask for a deduction; accepted (trade state ACCEPTED), paid only when notified."""
        ...

    async def query_deduction(self, out_trade_no: str, sub_mchid: str) -> TransactionReport:
        """The deduction's state."""
        ...

    async def combine_prepay(self, request: CombineRequest) -> str:
        """Open a combined JSAPI order; returns the prepay id."""
        ...

    async def combine_query(self, combine_out_trade_no: str) -> CombineReport:
        """The combined order's sub-orders."""
        ...

    async def combine_close(
        self, combine_out_trade_no: str, appid: str, sub_orders: tuple[tuple[str, str], ...]
    ) -> None:
        """Close an unpaid combined order; `sub_orders` are (sub_mchid, out_trade_no) pairs."""
        ...
