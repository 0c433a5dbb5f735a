"""Passes and top-ups: calendar months in Beijing time, renewals, bounds, purposes, ledger."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.ledger import pass_refunded, pass_sold, stored_value_refunded, stored_value_topped_up
from core.passes import (
    SHANGHAI,
    PassMonthsError,
    PassNotForSaleError,
    PassProduct,
    PassVehicleClassError,
    RefundExceedsBalanceError,
    TopUpAmountError,
    anchored_end,
    check_months,
    check_refund_within_balance,
    check_sellable,
    check_top_up,
    last_day,
    local_midnight,
    pass_term,
    renewed_until,
)
from core.payments import Payment, PaymentPurpose, PaymentStatus
from core.services.payments import DESCRIPTIONS

PRODUCT = PassProduct("M-SMALL", "小型车月卡", "small", 30000, True, 12)
days = st.dates(min_value=date(2020, 1, 1), max_value=date(2040, 12, 31))
moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2040, 12, 31), timezones=st.just(SHANGHAI)
)


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (date(2026, 3, 15), 1, date(2026, 4, 15)),  # covers 15 March - 14 April
        (date(2026, 1, 31), 1, date(2026, 3, 1)),  # to the last day of February
        (date(2028, 1, 31), 1, date(2028, 3, 1)),  # leap year: to 29 February
        (date(2028, 1, 29), 1, date(2028, 2, 29)),  # leap year: 29 February exists
        (date(2026, 1, 30), 1, date(2026, 3, 1)),
        (date(2026, 1, 31), 2, date(2026, 3, 31)),  # to 30 March
        (date(2026, 3, 31), 1, date(2026, 5, 1)),  # April has 30 days: to 30 April
        (date(2026, 12, 15), 1, date(2027, 1, 15)),  # across the year
        (date(2026, 11, 25), 12, date(2027, 11, 25)),
    ],
)
def test_a_month_runs_to_the_day_before_the_same_day_or_the_last_day(
    start: date, months: int, end: date
) -> None:
    assert anchored_end(start, months) == end


def test_a_pass_bought_in_the_afternoon_starts_now_and_ends_at_midnight_beijing_time() -> None:
    now = datetime(2026, 3, 15, 6, 0, tzinfo=UTC)  # 14:00 in Beijing
    term = pass_term(1, now)
    assert (term.valid_from, term.renewal) == (now, False)
    assert term.valid_until == datetime(2026, 4, 15, tzinfo=SHANGHAI)
    assert last_day(term.valid_until) == date(2026, 4, 14)


def test_a_pass_in_force_is_extended_from_its_end_a_lapsed_one_is_not() -> None:
    now = datetime(2026, 11, 25, 9, tzinfo=SHANGHAI)
    start, end = datetime(2026, 1, 1, tzinfo=SHANGHAI), datetime(2027, 1, 1, tzinfo=SHANGHAI)
    renewed = pass_term(2, now, (start, end))
    assert (renewed.valid_from, renewed.valid_until, renewed.renewal) == (
        start,
        datetime(2027, 3, 1, tzinfo=SHANGHAI),
        True,
    )
    lapsed = pass_term(1, now, (start, datetime(2026, 10, 1, tzinfo=SHANGHAI)))
    assert (lapsed.valid_from, lapsed.renewal) == (now, False)
    assert lapsed.valid_until == datetime(2026, 12, 25, tzinfo=SHANGHAI)


def test_renewing_a_pass_from_the_31st_keeps_its_rhythm() -> None:
    bought = datetime(2026, 1, 31, 10, tzinfo=SHANGHAI)
    first = pass_term(1, bought).valid_until
    assert first == datetime(2026, 3, 1, tzinfo=SHANGHAI)  # last day 28 February
    assert renewed_until(bought, first, 1) == datetime(2026, 3, 31, tzinfo=SHANGHAI)


def test_an_end_set_by_hand_counts_from_its_own_day() -> None:
    start = datetime(2026, 1, 5, tzinfo=SHANGHAI)
    odd = datetime(2026, 3, 20, 15, 30, tzinfo=SHANGHAI)
    assert renewed_until(start, odd, 1) == datetime(2026, 4, 20, tzinfo=SHANGHAI)


@given(days, st.integers(1, 36))
def test_months_always_end_later_and_each_month_is_28_to_31_days(start: date, n: int) -> None:
    end = anchored_end(start, n)
    assert end > start
    assert anchored_end(start, n + 1) > end
    assert 28 <= (anchored_end(start, 1) - start).days <= 31


@given(moments, st.lists(st.integers(1, 12), min_size=1, max_size=8))
def test_renewing_month_by_month_ends_where_buying_them_at_once_does(
    bought: datetime, orders: list[int]
) -> None:
    term = pass_term(orders[0], bought)
    until = term.valid_until
    for months in orders[1:]:
        longer = renewed_until(term.valid_from, until, months)
        assert longer > until  # a renewal never shortens
        until = longer
    assert until == pass_term(sum(orders), bought).valid_until


@given(moments, st.integers(1, 12), st.integers(1, 12))
def test_renewal_before_the_end_extends_by_exactly_the_months_bought(
    bought: datetime, first: int, more: int
) -> None:
    term = pass_term(first, bought)
    later = bought + (term.valid_until - bought) / 2
    renewed = pass_term(more, later, (term.valid_from, term.valid_until))
    assert renewed.renewal and renewed.valid_from == bought
    assert renewed.valid_until == pass_term(first + more, bought).valid_until


def test_months_sellability_and_top_up_bounds() -> None:
    check_months(PRODUCT, 12)
    for months in (0, 13):
        with pytest.raises(PassMonthsError) as raised:
            check_months(PRODUCT, months)
        assert raised.value.message_zh == "购买月数须在1至12个月之间"
    check_sellable(PRODUCT, "small")
    with pytest.raises(PassVehicleClassError):
        check_sellable(PRODUCT, "large")
    with pytest.raises(PassNotForSaleError):
        check_sellable(PassProduct("M-L", "大型车", "large", 1, False, 1), "large")
    check_top_up(100)
    check_top_up(500_000)
    for fen in (0, 99, 500_001, -100):
        with pytest.raises(TopUpAmountError) as too:
            check_top_up(fen)
        assert too.value.message_zh == "充值金额须在1.00元至5000.00元之间"
    check_refund_within_balance(500, 500)
    with pytest.raises(RefundExceedsBalanceError):
        check_refund_within_balance(501, 500)


def test_local_midnight_is_beijing_time() -> None:
    assert local_midnight(date(2026, 1, 1)) == datetime(2025, 12, 31, 16, tzinfo=UTC)


def _payment(purpose: PaymentPurpose, stay_ref: str | None) -> Payment:
    return Payment(
        out_trade_no="PK20261125090000ABCDEF123456",
        channel="wechat_jsapi",
        stay_ref=stay_ref,
        plate="浙B12345",
        operator_code="OP-TIANYI",
        sub_mchid="1900000102",
        amount_fen=30000,
        payer_openid="o-payer",
        appid="wx-app",
        status=PaymentStatus.CREATED,
        created_at=datetime(2026, 11, 25, tzinfo=UTC),
        purpose=purpose,
    )


def test_only_a_stays_payment_names_a_stay() -> None:
    assert _payment(PaymentPurpose.STAY, "s1").purpose is PaymentPurpose.STAY
    assert _payment(PaymentPurpose.PASS, None).stay_ref is None
    for purpose, ref in (
        (PaymentPurpose.STAY, None),
        (PaymentPurpose.PASS, "s1"),
        (PaymentPurpose.TOP_UP, "s1"),
    ):
        with pytest.raises(ValueError, match="names its stay"):
            _payment(purpose, ref)


def test_every_purpose_has_a_description_for_the_payer() -> None:
    assert set(DESCRIPTIONS) == set(PaymentPurpose)


def test_pass_and_stored_value_entries_balance_and_reverse() -> None:
    sold = pass_sold("PK1", "1900000102", "OP-TIANYI", 30000)
    back = pass_refunded("RF1", "1900000102", "OP-TIANYI", 30000)
    assert [p.account.key for p in sold.postings] == [
        "wechat_clearing:1900000102",
        "deferred_revenue:OP-TIANYI",
    ]
    assert [p.account.key for p in back.postings] == list(
        reversed([p.account.key for p in sold.postings])
    )
    up = stored_value_topped_up("PK2", "1900000102", "SV-1", 5000)
    down = stored_value_refunded("RF2", "1900000102", "SV-1", 2000)
    assert (up.postings[1].account.key, up.postings[1].credit_fen) == ("stored_value:SV-1", 5000)
    assert (down.postings[0].account.key, down.postings[0].debit_fen) == ("stored_value:SV-1", 2000)


@pytest.mark.parametrize("hours", [0, 1, 23])
def test_last_day_of_a_midnight_end_is_the_day_before(hours: int) -> None:
    end = datetime(2026, 4, 15, tzinfo=SHANGHAI) + timedelta(hours=hours)
    assert last_day(end) == (date(2026, 4, 14) if hours == 0 else date(2026, 4, 15))
