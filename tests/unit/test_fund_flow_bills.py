"""The fund-flow bill parser against a bill in Tencent's documented format, and its sealing."""

from __future__ import annotations

import gzip
import hashlib
import secrets
from datetime import datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from adapters.wechatpay_bills import open_sealed
from core.bills import SHANGHAI, BillFormatError
from core.fund_flow_bills import FundDirection, parse_fund_flow_bill
from core.payment_gateway import GatewayError

FIXTURE = Path(__file__).parents[1] / "fixtures" / "wechatpay" / "fundflowbill_basic.csv"


def sample() -> str:
    return FIXTURE.read_text(encoding="utf-8")


def test_the_sample_bill_parses_into_income_fees_and_a_refund() -> None:
    bill = parse_fund_flow_bill(sample())

    paid, fee, _, _, refund = bill.rows
    assert paid.booked_at == datetime(2019, 6, 11, 9, 20, 15, tzinfo=SHANGHAI)
    assert (paid.business_type, paid.direction, paid.amount_fen, paid.balance_fen) == (
        "交易",
        FundDirection.INCOME,
        800,
        10800,
    )
    assert (paid.business_no, paid.voucher_no) == (
        "4200000201201906117325810236",
        "PK20190611092004A1B2C3D4E5F6",
    )
    assert (fee.business_type, fee.direction, fee.amount_fen, fee.signed_fen) == (
        "扣除交易手续费",
        FundDirection.EXPENSE,
        5,
        -5,
    )
    assert (refund.business_name, refund.amount_fen, refund.balance_fen) == ("退款", 298, 11739)
    assert refund.remark == "退款总金额3.00元;含手续费0.02元"
    assert refund.voucher_no == "RF20190611154708AABBCCDDEEFF"
    assert refund.applicant == "1900000100API"


def test_each_balance_follows_from_the_one_before_and_the_summary_agrees() -> None:
    bill = parse_fund_flow_bill(sample())

    for before, after in zip(bill.rows, bill.rows[1:], strict=False):
        assert after.balance_fen == before.balance_fen + after.signed_fen
    summary = bill.summary
    incomes = [r.amount_fen for r in bill.rows if r.direction is FundDirection.INCOME]
    expenses = [r.amount_fen for r in bill.rows if r.direction is FundDirection.EXPENSE]
    assert (summary.flow_count, summary.income_count, summary.expense_count) == (5, 2, 3)
    assert summary.income_fen == sum(incomes) == 2050
    assert summary.expense_fen == sum(expenses) == 311
    assert bill.net_fen == 2050 - 311


def test_ascii_brackets_and_backquoted_headers_are_read_too() -> None:
    text = sample().replace("（", "(").replace("）", ")")
    header, *rest = text.lstrip("\ufeff").splitlines()
    text = "\n".join(["`" + header.replace(",", ",`"), *rest])

    assert parse_fund_flow_bill(text).rows[0].amount_fen == 800


def mangle(old: str, new: str) -> str:
    text = sample()
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not a bill",
        mangle("资金流水总笔数", "合计"),  # no summary
        mangle("账户结余（元）,", ""),  # a column missing from the header
        mangle("`收入,`8.00", "`收入,`8.001"),  # three decimals
        mangle("`收入,`8.00", "`收入,`-8.00"),  # the sign is in 收支类型, not the amount
        mangle("`收入,`8.00", "`入账,`8.00"),  # neither income nor expense
        mangle("`2019-06-11 09:20:15", "`2019/06/11 09:20"),
        mangle("`system,`,`PK", "`system,`PK"),  # a field short
        mangle("`5,`2,`20.50", "`five,`2,`20.50"),
    ],
)
def test_malformed_bills_are_refused(text: str) -> None:
    with pytest.raises(BillFormatError):
        parse_fund_flow_bill(text)


def seal(plain: bytes, key: bytes, nonce: str) -> bytes:
    return AESGCM(key).encrypt(nonce.encode(), gzip.compress(plain), b"")


def test_a_sealed_file_is_decrypted_unzipped_and_checked() -> None:
    plain = sample().encode()
    key, nonce = secrets.token_hex(16).encode(), "a8607ef79034c49c"
    digest = hashlib.sha1(plain).hexdigest()

    assert open_sealed(seal(plain, key, nonce), key, nonce, digest) == sample()
    with pytest.raises(GatewayError, match="decrypt"):
        open_sealed(seal(plain, key, nonce), secrets.token_hex(16).encode(), nonce, digest)
    with pytest.raises(GatewayError, match="decrypt"):
        open_sealed(seal(plain, key, nonce), key, "0000000000000000", digest)
    tampered = bytearray(seal(plain, key, nonce))
    tampered[5] ^= 1
    with pytest.raises(GatewayError, match="decrypt"):
        open_sealed(bytes(tampered), key, nonce, digest)
    with pytest.raises(GatewayError, match="SHA1"):
        open_sealed(seal(plain.replace(b"`8.00", b"`9.00"), key, nonce), key, nonce, digest)
    with pytest.raises(GatewayError, match="gzip"):
        open_sealed(AESGCM(key).encrypt(nonce.encode(), plain, b""), key, nonce, digest)
