"""The port to a provider's profit sharing (分账); adapters/wechatpay_profitsharing.py has it.

Partner mode: a payment made with profit sharing on stays frozen at the payer's sub-merchant
until an order sends shares from it to receivers (and unfreezes the rest) or an unfreeze
releases it whole. Returns take a share back from a receiver when the payment is refunded.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from core.shares import ReceiverAccount


class ShareOrderState(StrEnum):
    """Where a sharing order stands at the provider (WeChat Pay's state values)."""

    PROCESSING = "PROCESSING"
    FINISHED = "FINISHED"


class ShareResult(StrEnum):
    """What happened to one receiver's part (WeChat Pay's result values)."""

    PENDING = "PENDING"
    SUCCESS = "SUCCESS"
    CLOSED = "CLOSED"  # e.g. the receiver was removed: the fen stay with the sub-merchant


class ReturnResult(StrEnum):
    """Where a return stands."""

    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class ShareLine:
    """One receiver's fen in a sharing order."""

    account: str  # the receiver's merchant number
    amount_fen: int
    description: str


@dataclass(frozen=True, slots=True)
class ShareOrderRequest:
    """Send shares of one paid transaction; `unfreeze_rest` releases what is left."""

    sub_mchid: str
    transaction_id: str
    out_order_no: str
    lines: tuple[ShareLine, ...]
    unfreeze_rest: bool = True


@dataclass(frozen=True, slots=True)
class ShareLineReport:
    """A receiver's part as the provider reports it."""

    account: str
    amount_fen: int
    result: ShareResult


@dataclass(frozen=True, slots=True)
class ShareOrderReport:
    """A sharing (or unfreeze) order as the provider reports it."""

    out_order_no: str
    order_id: str
    state: ShareOrderState
    lines: tuple[ShareLineReport, ...]


@dataclass(frozen=True, slots=True)
class ReturnRequest:
    """Take fen back from a receiver of an earlier sharing order."""

    sub_mchid: str
    out_order_no: str
    out_return_no: str
    account: str
    amount_fen: int
    description: str


@dataclass(frozen=True, slots=True)
class ReturnReport:
    """A return as the provider reports it."""

    out_return_no: str
    return_id: str
    result: ReturnResult
    amount_fen: int


class ProfitSharingGateway(Protocol):
    """Profit sharing in partner mode: every call names the sub-merchant the money is at."""

    async def add_receiver(self, sub_mchid: str, receiver: ReceiverAccount) -> None:
        """Allow a merchant to receive shares of the sub-merchant (repeating it is safe)."""
        ...

    async def order(self, request: ShareOrderRequest) -> ShareOrderReport:
        """Send the shares (repeating the same order number is safe)."""
        ...

    async def query(
        self, sub_mchid: str, transaction_id: str, out_order_no: str
    ) -> ShareOrderReport:
        """The provider's view of a sharing order."""
        ...

    async def unfreeze(
        self, sub_mchid: str, transaction_id: str, out_order_no: str, description: str
    ) -> ShareOrderReport:
        """Release what is left of a transaction to the sub-merchant, sharing nothing more."""
        ...

    async def return_share(self, request: ReturnRequest) -> ReturnReport:
        """Take a share back from its receiver (repeating the same return number is safe)."""
        ...
