"""The trade bill parser against a bill in Tencent's documented ALL format."""

from __future__ import annotations

import gzip
import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.wechatpay_bills import read_bill
from core.bills import (
    SHANGHAI,
    BillDateError,
    BillFormatError,
    BillTradeState,
    check_bill_date,
    day_bounds,
    parse_trade_bill,
    yuan_to_fen,
)
from core.payment_gateway import GatewayError

FIXTURE = Path(__file__).parents[1] / "fixtures" / "wechatpay" / "tradebill_all.csv"


def sample() -> str:
    return FIXTURE.read_text(encoding="utf-8")


def test_the_sample_bill_parses_into_payments_and_a_refund() -> None:
    bill = parse_trade_bill(sample())

    jsapi, micropay, refund = bill.rows
    assert (jsapi.out_trade_no, jsapi.trade_state, jsapi.order_fen) == (
        "PK20190611092004A1B2C3D4E5F6",
        BillTradeState.SUCCESS,
        800,
    )
    assert jsapi.trade_time == datetime(2019, 6, 11, 9, 20, 15, tzinfo=SHANGHAI)
    assert (jsapi.refund_id, jsapi.out_refund_no, jsapi.refund_fen) == (None, None, 0)
    assert jsapi.fee_yuan == Decimal("0.04800")
    assert (micropay.trade_type, micropay.settlement_fen) == ("MICROPAY", 1250)
    assert refund.trade_state is BillTradeState.REFUND
    assert (refund.out_refund_no, refund.refund_id) == (
        "RF20190611154708AABBCCDDEEFF",
        "50300000012019061109876543210",
    )
    assert (refund.refund_fen, refund.requested_refund_fen, refund.order_fen) == (300, 300, 0)
    assert refund.transaction_id == jsapi.transaction_id
    assert refund.fee_yuan == Decimal("-0.01800")
    assert refund.refund_status == "SUCCESS"


def test_the_summary_is_read_and_agrees_with_the_rows() -> None:
    bill = parse_trade_bill(sample())

    summary = bill.summary
    assert summary.trade_count == len(bill.rows) == 3
    assert summary.settlement_fen == sum(r.settlement_fen for r in bill.rows) == 2050
    assert summary.refund_fen == sum(r.refund_fen for r in bill.rows) == 300
    assert summary.fee_yuan == sum(r.fee_yuan for r in bill.rows) == Decimal("0.10500")
    assert (summary.order_fen, summary.requested_refund_fen) == (2050, 300)


def test_columns_are_found_by_name_and_a_comma_may_sit_in_a_field() -> None:
    header, *rest = sample().lstrip("\ufeff").splitlines()
    names = header.split(",")
    swap = names.index("商品名称")
    names[0], names[swap] = names[swap], names[0]
    rows = []
    for line in rest[:3]:
        cells = line[1:].split(",`")
        cells[0], cells[swap] = cells[swap].replace("费", "费,含税"), cells[0]
        rows.append("`" + ",`".join(cells))
    text = "\n".join([",".join(names), *rows, *rest[3:]])

    bill = parse_trade_bill(text)

    assert [r.order_fen for r in bill.rows] == [800, 1250, 0]
    assert bill.rows[0].trade_time.hour == 9


def test_yuan_becomes_fen_exactly() -> None:
    assert [yuan_to_fen(t) for t in ("0.01", "8.00", "12.5", "-0.30", "3", "1234567.89")] == [
        1,
        800,
        1250,
        -30,
        300,
        123456789,
    ]
    # 0.29 * 100 is 28.999999999999996 in floating point: the parser never goes through float.
    assert yuan_to_fen("0.29") == 29


@pytest.mark.parametrize("text", ["", "1.234", "1,00", "abc", "1e3", " 1.00", "NaN"])
def test_amounts_that_are_not_yuan_are_refused(text: str) -> None:
    with pytest.raises(BillFormatError):
        yuan_to_fen(text)


def mangle(old: str, new: str) -> str:
    text = sample()
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not a bill",
        mangle("总交易单数", "合计"),  # no summary
        mangle("特约商户号,", ""),  # a column missing from the header
        mangle("`8.00,`0.00,`0", "`8.001,`0.00,`0"),  # three decimals
        mangle("`2019-06-11 09:20:15", "`2019-06-11T09:20"),
        mangle("`JSAPI,`SUCCESS", "`JSAPI,`PAID"),
        mangle("`JSAPI,`SUCCESS", "`JSAPI,`SUCCESS,`extra"),
        mangle("`2019-06-11 09:20:15", "2019-06-11 09:20:15"),  # no backquote
        mangle("`3,`20.50", "`three,`20.50"),
    ],
)
def test_malformed_bills_are_refused(text: str) -> None:
    with pytest.raises(BillFormatError):
        parse_trade_bill(text)


def test_a_bill_date_must_be_a_past_day_of_the_last_three_months() -> None:
    # 2026-11-25 01:00 in Beijing is still 24 November in UTC.
    now = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
    check_bill_date(date(2026, 11, 24), now)
    check_bill_date(date(2026, 8, 27), now)
    for refused in (date(2026, 11, 25), date(2026, 11, 26), date(2026, 8, 26)):
        with pytest.raises(BillDateError):
            check_bill_date(refused, now)


def test_a_bill_day_is_a_beijing_calendar_day() -> None:
    start, end = day_bounds(date(2026, 11, 24))
    assert start == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 24, 16, 0, tzinfo=UTC)


def test_a_downloaded_bill_is_unzipped_and_checked_against_its_sha1() -> None:
    raw = sample().encode()
    digest = hashlib.sha1(raw).hexdigest()

    assert read_bill(gzip.compress(raw), digest.upper()).summary.trade_count == 3
    with pytest.raises(GatewayError, match="SHA1"):
        read_bill(gzip.compress(raw.replace(b"`8.00", b"`9.00")), digest)
    with pytest.raises(GatewayError, match="gzip"):
        read_bill(raw, digest)
    broken = b"not a bill"
    with pytest.raises(GatewayError, match="unusable"):
        read_bill(gzip.compress(broken), hashlib.sha1(broken).hexdigest())
