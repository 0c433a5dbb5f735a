"""Operator contracts and the rules that split a payment into the city's and platform's shares.

All amounts are integer fen and shares are in basis points (1/10000). Every receiver's share is
rounded down; the fen the rounding leaves stay with the operator, so the parts always sum to the
payment. Nothing is pooled: each share goes from the payer's sub-merchant to its receiver.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from core.errors import ValidationFailedError

WHOLE_BP = 10_000
# WeChat Pay lets a service provider share at most 30% of an order unless the sub-merchant
# agreed to more; a contract may lower it, never raise it past what WeChat Pay was told.
DEFAULT_MAX_SHARE_BP = 3_000


class ShareBasis(StrEnum):
    """How the city's part is set: a percentage of takings, or a fixed concession fee."""

    PERCENT = "percent"
    CONCESSION_FEE = "concession_fee"  # 特许经营费: fen per berth and month (plan 5)


class Receiver(StrEnum):
    """Who a share goes to."""

    CITY = "city"  # the implementing body (实施主体) that granted the concession
    PLATFORM = "platform"  # the platform's service provider


class ContractError(ValidationFailedError):
    """A contract whose shares do not add up or miss what their basis needs."""

    code = "contract_invalid"
    message_zh = "分账合同参数无效"


@dataclass(frozen=True, slots=True)
class ReceiverAccount:
    """A WeChat Pay merchant that receives shares (type MERCHANT_ID)."""

    mchid: str
    name: str  # the merchant's full registered name, which WeChat Pay checks


@dataclass(frozen=True, slots=True)
class Contract:
    """What an operator's concession contract says about shares, from `starts_on`."""

    operator_code: str
    basis: ShareBasis
    city: ReceiverAccount
    platform: ReceiverAccount
    city_bp: int = 0  # PERCENT: the city's share of each payment
    platform_bp: int = 0  # the platform's share of each payment, on either basis
    concession_fen_per_berth: int = 0  # CONCESSION_FEE: due each month per berth
    max_share_bp: int = DEFAULT_MAX_SHARE_BP  # most of one payment shared, all receivers
    starts_on: date | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.city_bp <= WHOLE_BP or not 0 <= self.platform_bp <= WHOLE_BP:
            raise ContractError("分成比例须在 0 至 100% 之间")
        if not 0 < self.max_share_bp <= WHOLE_BP:
            raise ContractError("最大分账比例须在 0 至 100% 之间")
        if self.city_bp + self.platform_bp > self.max_share_bp:
            raise ContractError("城市与平台分成之和超过最大分账比例")
        if self.basis is ShareBasis.CONCESSION_FEE:
            if self.city_bp or self.concession_fen_per_berth <= 0:
                raise ContractError("特许经营费合同须填写每泊位每月费用，且不设城市比例")
        elif self.concession_fen_per_berth:
            raise ContractError("按比例分成的合同不设特许经营费")
        if self.city.mchid == self.platform.mchid:
            raise ContractError("城市与平台须为不同的分账接收方")


@dataclass(frozen=True, slots=True)
class Split:
    """A payment's fen as the city's, the platform's and what the operator keeps."""

    city_fen: int
    platform_fen: int
    operator_fen: int

    @property
    def shared_fen(self) -> int:
        """What leaves the operator's sub-merchant."""
        return self.city_fen + self.platform_fen


def share_of(amount_fen: int, bp: int) -> int:
    """A receiver's share of an amount, rounded down to the fen."""
    return amount_fen * bp // WHOLE_BP


def split_payment(contract: Contract, amount_fen: int, concession_left_fen: int = 0) -> Split:
    """Split what a payment holds (paid less refunded) by the contract.

    On the concession basis the city takes what is still due this month, at most what the
    payment can carry once the platform's share is out (max_share_bp of the payment in all).
    """
    if amount_fen < 0 or concession_left_fen < 0:
        raise ValueError(f"split of {amount_fen} with {concession_left_fen} left")
    platform = share_of(amount_fen, contract.platform_bp)
    if contract.basis is ShareBasis.PERCENT:
        city = share_of(amount_fen, contract.city_bp)
    else:
        room = share_of(amount_fen, contract.max_share_bp) - platform
        city = max(min(concession_left_fen, room), 0)
    return Split(city, platform, amount_fen - city - platform)


def concession_due(contract: Contract, berths: int) -> int:
    """The month's concession fee: fen per berth times the operator's berths."""
    if contract.basis is not ShareBasis.CONCESSION_FEE:
        return 0
    return contract.concession_fen_per_berth * berths


def share_to_return(sent_fen: int, amount_fen: int, refunded_fen: int, returned_fen: int) -> int:
    """What a receiver gives back now that `refunded_fen` of the payment has gone back in all.

    A receiver keeps its share of what the payment still holds, rounded down (so it returns its
    share of the refund rounded down, and all of it when the payment is refunded in full); what
    it already returned is taken off. The returns of all receivers never exceed the refund.
    """
    if not 0 <= refunded_fen <= amount_fen or not 0 <= sent_fen <= amount_fen:
        raise ValueError(f"{sent_fen} sent of {amount_fen}, {refunded_fen} refunded")
    owed_back = sent_fen * refunded_fen // amount_fen if amount_fen else 0
    return max(owed_back - returned_fen, 0)
