"""Share rules: integer fen, rounding down for receivers, parts summing to the payment."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.shares import (
    Contract,
    ContractError,
    ReceiverAccount,
    ShareBasis,
    concession_due,
    share_to_return,
    split_payment,
)

CITY = ReceiverAccount("1900000201", "宁波市城乡市政服务有限公司")
PLATFORM = ReceiverAccount("1900000202", "城市停车平台科技有限公司")


def percent(city_bp: int, platform_bp: int, max_bp: int = 10_000) -> Contract:
    return Contract(
        "OP-CITY", ShareBasis.PERCENT, CITY, PLATFORM, city_bp, platform_bp, max_share_bp=max_bp
    )


def concession(fee: int, platform_bp: int = 0, max_bp: int = 3_000) -> Contract:
    return Contract(
        "OP-CITY",
        ShareBasis.CONCESSION_FEE,
        CITY,
        PLATFORM,
        platform_bp=platform_bp,
        concession_fen_per_berth=fee,
        max_share_bp=max_bp,
    )


amounts = st.integers(min_value=0, max_value=10_000_000)


@given(amounts, st.integers(0, 5_000), st.integers(0, 5_000))
def test_a_percent_split_sums_to_the_payment_and_rounds_receivers_down(
    amount: int, city_bp: int, platform_bp: int
) -> None:
    split = split_payment(percent(city_bp, platform_bp), amount)
    assert split.city_fen + split.platform_fen + split.operator_fen == amount
    assert split.city_fen == amount * city_bp // 10_000
    assert split.platform_fen == amount * platform_bp // 10_000
    assert min(split.city_fen, split.platform_fen, split.operator_fen) >= 0
    # Rounding down: each receiver is less than one fen short of its exact share.
    assert 0 <= amount * city_bp - split.city_fen * 10_000 < 10_000


@given(amounts, st.integers(1, 100_000), st.integers(0, 2_000), st.integers(0, 10**8))
def test_a_concession_split_never_takes_more_than_due_or_the_maximum_ratio(
    amount: int, fee: int, platform_bp: int, left: int
) -> None:
    contract = concession(fee, platform_bp)
    split = split_payment(contract, amount, left)
    assert split.city_fen + split.platform_fen + split.operator_fen == amount
    assert 0 <= split.city_fen <= left
    assert split.shared_fen <= amount * 3_000 // 10_000
    assert split.operator_fen >= amount - amount * 3_000 // 10_000


def test_the_plan_five_fee_is_per_berth_and_month_and_taken_until_paid() -> None:
    contract = concession(3_000)  # 30 yuan per berth and month
    assert concession_due(contract, 2_481) == 7_443_000
    assert concession_due(percent(1_000, 500), 2_481) == 0
    assert split_payment(contract, 1_000, 250).city_fen == 250  # the rest of the month's fee
    assert split_payment(contract, 1_000, 5_000).city_fen == 300  # at most 30% of a payment


@given(
    st.integers(1, 1_000_000).flatmap(
        lambda held: st.tuples(
            st.just(held),
            st.lists(st.integers(0, held), min_size=1, max_size=3).filter(lambda s: sum(s) <= held),
            st.lists(st.integers(1, held), min_size=1, max_size=5),
        )
    )
)
def test_returns_never_exceed_the_refund_and_are_whole_when_refunded_in_full(
    case: tuple[int, list[int], list[int]],
) -> None:
    held, sent, refunds = case
    returned = [0] * len(sent)
    refunded = 0
    for refund in refunds:
        refund = min(refund, held - refunded)
        refunded += refund
        backs = [share_to_return(s, held, refunded, r) for s, r in zip(sent, returned, strict=True)]
        assert sum(backs) <= refund
        returned = [r + b for r, b in zip(returned, backs, strict=True)]
        assert all(r <= s for r, s in zip(returned, sent, strict=True))
    final = [share_to_return(s, held, held, r) for s, r in zip(sent, returned, strict=True)]
    assert [r + b for r, b in zip(returned, final, strict=True)] == sent


def test_contracts_refuse_shares_that_do_not_add_up() -> None:
    with pytest.raises(ContractError):
        percent(2_500, 1_000, max_bp=3_000)
    with pytest.raises(ContractError):
        concession(0)
    with pytest.raises(ContractError):
        Contract("OP-CITY", ShareBasis.PERCENT, CITY, CITY, 100, 100)
    with pytest.raises(ContractError):
        Contract("OP-CITY", ShareBasis.PERCENT, CITY, PLATFORM, 100, 0, concession_fen_per_berth=5)
